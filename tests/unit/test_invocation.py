"""Hints print the program as it was started here and ``--env`` as it was given (``invocation``)."""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
import zipfile

from cnxbackup import invocation
from cnxbackup.config import Environment


def _fake_pyz(folder) -> str:
    path = os.path.join(str(folder), "cnxbackup.pyz")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__main__.py", "")
        archive.writestr("cnxbackup/__init__.py", "")
    return path


def test_a_path_env_stays_a_path_made_absolute_and_a_name_stays_a_name(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert invocation.env_argument("/etc/cnxbackup/prod.yaml") == "/etc/cnxbackup/prod.yaml"
    assert invocation.env_argument("prod.yaml") == str(tmp_path / "prod.yaml")
    assert invocation.env_argument("conf/prod") == str(tmp_path / "conf/prod")
    assert invocation.env_argument("prod") == "prod"
    given = Environment(name="prod", file="/etc/cnxbackup/prod.yaml", data={}, lines={}, given="/etc/cnxbackup/prod.yaml")
    assert given.argument == "/etc/cnxbackup/prod.yaml"  # never the name the file declares
    assert Environment(name="demo", file="/x/demo.yaml", data={}, lines={}, given="demo").argument == "demo"
    assert Environment(name="demo", file="/x/demo.yaml", data={}, lines={}).argument == "demo"


def test_a_zipapp_invocation_prints_the_interpreter_on_path_and_the_absolute_pyz(tmp_path, monkeypatch) -> None:
    pyz = _fake_pyz(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    minor = f"python3.{sys.version_info[1]}"
    os.symlink(sys.executable, bin_dir / minor)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.chdir(tmp_path)
    assert invocation.program("cnxbackup.pyz", str(bin_dir / minor)) == [minor, pyz]
    line = invocation.command_line("start", "--env", "/etc/cnx backup/prod.yaml",
                                   prefix=invocation.program("cnxbackup.pyz", str(bin_dir / minor)))
    assert line == f"{minor} {pyz} start --env '/etc/cnx backup/prod.yaml'"
    # an interpreter that $PATH does not find under its name is named by its path
    monkeypatch.setenv("PATH", "/nonexistent")
    assert invocation.program(pyz, sys.executable) == [os.path.abspath(sys.executable), pyz]


def test_a_console_script_is_named_by_its_path_and_python_m_carries_its_pythonpath(tmp_path, monkeypatch) -> None:
    script = tmp_path / ".venv" / "bin" / "cnxbackup"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    assert invocation.program(".venv/bin/cnxbackup") == [str(script)]
    words = invocation.program(os.path.join(os.path.dirname(invocation.__file__), "__main__.py"), sys.executable)
    driver = os.path.dirname(os.path.dirname(os.path.abspath(invocation.__file__)))
    assert words[0] == f"PYTHONPATH={driver}" and words[-2:] == ["-m", "cnxbackup"]
    # never a bare name that $PATH may not find
    assert not invocation.command_line("backup", prefix=words).startswith("cnxbackup")


def test_the_printed_line_is_the_words_once_the_shell_reads_it(tmp_path) -> None:
    words = ["backup", "--env", "/etc/o'brien/prod.yaml", "--resume", str(tmp_path / "a b")]
    line = invocation.command_line(*words, prefix=["PYTHONPATH=/p q", "/usr/bin/python3", "-m", "cnxbackup"])
    head = "PYTHONPATH='/p q' /usr/bin/python3 -m cnxbackup "
    assert line.startswith(head)
    # the shell sees the assignment, then the program and every word as given
    shown = subprocess.run(["sh", "-c", "printf '%s\\n' \"$PYTHONPATH\" " + line[len(head):]], capture_output=True,
                           text=True, check=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": "/p q"}).stdout
    assert shown.split("\n")[:-1] == ["/p q"] + words
    assert shlex.split(line) == ["PYTHONPATH=/p q", "/usr/bin/python3", "-m", "cnxbackup"] + words
