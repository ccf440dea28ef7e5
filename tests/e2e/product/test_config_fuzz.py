"""No environment file can crash, hang or fool the loader, as a fresh ``cnxbackup`` process.

Each case runs ``cnxbackup plan --env FILE`` in a new process under a timeout that fails the test;
each must exit 2 with one line on stderr naming the file, and no traceback. The whole list of
malformed files runs in-process in ``tests/unit/test_config_fuzz.py``; here, the alias bomb as a
process of its own, and the files others can change.
"""
from __future__ import annotations

import os
import subprocess

import pytest

import e2e

BASE = "target: {dir: /tmp/cnx-fuzz-target}\ndatabase: {vendor: none}\n"
BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(8))

MODES = {"group-writable-file": (0o664, 0o755), "world-writable-folder": (0o644, 0o777)}


def run_plan(path: str) -> subprocess.CompletedProcess:
    try:
        return e2e.cli("plan", "--env", path, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{path}: the loader did not answer within 20 s")


def assert_clean_refusal(proc: subprocess.CompletedProcess, path: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-500:], proc.stderr[-500:])
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert os.path.basename(path) in proc.stderr or os.path.dirname(path) in proc.stderr, proc.stderr


def test_an_alias_bomb_does_not_hang_a_fresh_process(tmp_path) -> None:
    path = str(tmp_path / "alias-bomb.yaml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(BASE + BOMB)
    assert_clean_refusal(run_plan(path), path)


@pytest.mark.parametrize("name", sorted(MODES))
def test_an_environment_file_others_can_change_is_refused(tmp_path, name) -> None:
    file_mode, folder_mode = MODES[name]
    folder = tmp_path / "envs"
    folder.mkdir()
    path = folder / "prod.yaml"
    path.write_text(BASE)
    os.chmod(path, file_mode)
    os.chmod(folder, folder_mode)
    proc = run_plan(str(path))
    assert_clean_refusal(proc, str(path))
    assert "writable by group or others" in proc.stderr
