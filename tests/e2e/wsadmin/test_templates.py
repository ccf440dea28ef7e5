"""What the driver generates for wsadmin must itself pass the Jython 2.1 checker."""

import os

import subprocess

from cnxbackup.render import jython_repr, render_template
import e2e

ROOT = e2e.ROOT


def test_job_step_is_jython21_compatible(tmp_path):
    text = render_template("wsadmin/job_step.py.j2", script="stop_servers",
                           argv=["--cluster", "Mobile Administration", "--out", "/tmp/x y/stop.json", "--timeout", "60"],
                           token="abc123", wsadmin_dir="/opt/cnx backup/wsadmin", run_id="r1", tool_version="0")
    path = tmp_path / "step.py"
    path.write_text(text)
    proc = subprocess.run(["jython", os.path.join(ROOT, "tools", "check_jython21.py"), str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "'Mobile Administration'" in text and "CNXJOB" in text and "abc123" in text
