"""A set restores from what it holds: moved to another folder, its own ``tools/cnxbackup.pyz`` run by a
Python 3.9 without the checkout, the venv or ``$PATH``'s cnxbackup verifies it and restores it."""
from __future__ import annotations

import os
import subprocess

import pytest

import e2e


def _clean_env(home: str) -> dict:
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and not p.startswith(e2e.ROOT)]
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    return {**{k: v for k, v in os.environ.items() if k not in drop}, "PATH": os.pathsep.join(path), "CI": "1",
            "HOME": home}


def test_a_moved_set_verifies_and_restores_with_its_own_program_on_python39(ctx, tmp_path) -> None:
    python = e2e.find_python39()
    if python is None:
        pytest.skip("no python3.9 interpreter on this machine")
    moved = str(tmp_path / "elsewhere" / os.path.basename(ctx.set_dir))
    os.makedirs(os.path.dirname(moved))
    subprocess.run(["cp", "-a", ctx.set_dir, moved], check=True)
    program = [python, os.path.join(moved, "tools", "cnxbackup.pyz")]
    manifest = e2e.manifest(moved)
    assert manifest["tool"]["path"] == "tools/cnxbackup.pyz"
    assert manifest["tool"]["sha256"] == e2e.sha256(program[1])

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(program + list(args), capture_output=True, text=True, cwd=str(tmp_path),
                              env=_clean_env(str(tmp_path)), timeout=300)

    check = run("verify", moved, "--env", ctx.env_file)
    assert check.returncode == 0, check.stdout + check.stderr
    dry = run("--plain", "restore", moved, "--env", ctx.env_file, "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert e2e.ROOT not in dry.stdout  # nothing of the checkout: the wsadmin scripts are the program's own
    assert "import_role_mappings.py" in dry.stdout
    # the shared data is changed, then the moved set's own program puts it back (one item: a full
    # restore costs twice the time and runs the same code as test_restore.py's round trip)
    changed = os.path.join(ctx.shared, "restored-by-the-set.txt")
    with open(changed, "w") as handle:
        handle.write("after the backup\n")
    proc = run("--plain", "restore", moved, "--env", ctx.env_file, "--yes", "--only", "shared-data")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not os.path.exists(changed)
    # its hints work as printed: the program as it ran (this interpreter, the set's own copy), --env as given
    # (a path), and the set's own wsadmin scripts (the program's extraction folder is gone once it ends)
    assert f"{program[1]} start --env {ctx.env_file}\n" in proc.stdout, proc.stdout
    assert f" -f {moved}/tools/wsadmin/start_servers.py " in proc.stdout, proc.stdout
