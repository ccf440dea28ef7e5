"""The manifest (sealed, checked on load, its format refused when newer) and the run journal."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import e2e
from cnxbackup.manifest import (
    FORMAT,
    load_manifest,
)
from format1kit import FIXTURE_ROOT

ROOT = e2e.ROOT


def test_verify_of_a_newer_format_exits_2_with_one_line(tmp_path) -> None:
    e2e.write_raw_manifest(str(tmp_path), {"format": FORMAT + 1, "environment": "prod", "status": "complete"})
    proc = subprocess.run([sys.executable, "-m", "cnxbackup", "verify", str(tmp_path)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "driver")}, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count("\n") == 1 and f"manifest format {FORMAT + 1}" in proc.stderr




def test_the_format1_fixture_verifies_deep_and_restores_with_the_model(format1_set, tmp_path) -> None:
    proc = e2e.cli("verify", format1_set, "--deep", "--trust-unsealed", "--trusted-keys", "/nonexistent")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "BAD" not in proc.stdout and proc.stdout.count("OK  database ") == 16
    env_file = e2e.write_env(FIXTURE_ROOT, scale=0.001)  # the environment the set was taken of
    assert e2e.cli("plan", "--env", env_file).returncode == 0  # builds the demo deployment restored onto
    target = str(tmp_path / "restored")
    proc = e2e.cli("restore", format1_set, "--env", env_file, "--target-root", target, "--trust-unsealed", "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    manifest = load_manifest(format1_set)
    for item in manifest.archives:
        dest = os.path.join(target, item.source.lstrip("/"))
        if item.is_archive:
            assert os.path.isdir(dest) and os.listdir(dest), item.name
        else:
            with open(dest, "rb") as handle:
                assert hashlib.sha256(handle.read()).hexdigest() == item.sha256, item.name
    shared = manifest.archive("shared-data")
    assert shared is not None
    assert os.path.isdir(os.path.join(target, shared.source.lstrip("/"), "provision"))  # nested item put back too
