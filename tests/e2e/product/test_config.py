"""Environment files: every mistake names the file, the line and the key; defaults fill in."""

import os
import subprocess
import sys

import e2e

ROOT = e2e.ROOT


def test_cli_bad_config_exits_2(tmp_path):
    path = e2e.environment_file(tmp_path, "target:\n  dir: /b\n  bogus: 1\n")
    proc = subprocess.run([sys.executable, "-m", "cnxbackup", "plan", "--env", path], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "driver")})
    assert proc.returncode == 2
    assert f"{path}:3: unknown key 'target.bogus'" in proc.stderr
