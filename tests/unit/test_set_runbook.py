"""RESTORE.md for a rebuilt host: every command relative to the set (``"$SET"``), run with the set's
own tools, never a cache (``~/.shiv``), a checkout or a bare ``cnxbackup`` from ``$PATH``."""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import textwrap

import pytest

from cnxbackup.actions.backup.record import render_runbook
from cnxbackup.actions.backup.runbook import relative_to_set
from cnxbackup.config import load_environment
from cnxbackup.manifest import Manifest
from cnxbackup.paths import wsadmin_dir

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "format1", "set", "manifest.json")
SET = "/srv/backups/demo-20261201T194147"


@pytest.mark.parametrize("command", [
    f"(cd {SET} && echo 'abc  archives/x' | sha256sum -c -)",
    f"zstd -dc {SET}/archives/a.tar.zst | tar -xf -",
    shlex.quote(SET + "/files/a b/c"),
    "ssh -p 22 h " + shlex.quote(f"cat {SET}/x y"),
    f"echo \"{SET}/in double\"",
    f"ls {SET}x/not-the-set {SET}",
])
def test_the_set_folder_becomes_SET_and_the_shell_reads_the_same_words(command: str) -> None:
    moved = relative_to_set(command, SET)
    assert SET not in moved.replace(SET + "x", "")
    words = subprocess.run(["sh", "-c", "printf '%s\\n' " + command], capture_output=True, text=True).stdout
    again = subprocess.run(["sh", "-c", "printf '%s\\n' " + moved], capture_output=True, text=True,
                           env={"PATH": "/usr/bin:/bin", "SET": SET}).stdout
    assert again == words


def test_the_wsadmin_scripts_run_from_the_sets_copy() -> None:
    script = shlex.quote(os.path.join(wsadmin_dir(), "import_role_mappings.py"))
    moved = relative_to_set(f"/opt/Dmgr01/bin/wsadmin.sh -lang jython -f {script} --in {SET}/wsadmin/r.json", SET)
    assert moved == '/opt/Dmgr01/bin/wsadmin.sh -lang jython -f "$SET"/tools/wsadmin/import_role_mappings.py --in "$SET"/wsadmin/r.json'


def _commands(text: str) -> list:
    """The lines RESTORE.md gives to run: its indented blocks and its ```sh blocks."""
    lines, fenced = [], False
    for line in text.split("\n"):
        if line.startswith("```"):
            fenced = not fenced and line.startswith("```sh")
        elif fenced or line.startswith("    "):
            lines.append(line.strip())
    return [line for line in lines if line]


def _runbook(tmp_path) -> str:
    env_file = tmp_path / "prod.yaml"
    env_file.write_text(textwrap.dedent(f"""\
        connections: {{version: 8.0.0.0_CR14}}
        database: {{vendor: none}}
        target: {{dir: "{tmp_path}/backups"}}
        """))
    env = load_environment(str(env_file))
    with open(FIXTURE, encoding="utf-8") as handle:
        manifest = Manifest.from_json(json.load(handle))
    manifest.tool.path, manifest.tool.sha256 = "tools/cnxbackup.pyz", "ab" * 32
    return render_runbook(manifest, SET, env)


def test_no_command_of_restore_md_names_a_cache_a_checkout_or_a_bare_cnxbackup(tmp_path) -> None:
    text = _runbook(tmp_path)
    commands = _commands(text)
    assert any("tools/wsadmin/stop_servers.py" in c for c in commands)  # the wsadmin steps are there
    for command in commands:
        assert ".shiv" not in command and ROOT not in command, command
        for part in re.split(r"&&|\|\||[|;(]", command):
            assert part.split()[:1] != ["cnxbackup"], command
    # the program: the set's own copy, put where only root can write, checked, then run
    runs = [c for c in commands if "cnxbackup.pyz restore" in c or "cnxbackup.pyz verify" in c]
    assert len(runs) == 4
    for run in runs:
        check, program = run.split(" && ", 1)
        assert check == f"echo '{'ab' * 32}  /root/cnxbackup-restore/cnxbackup.pyz' | sha256sum -c --quiet -"
        assert program.startswith('python3.9 /root/cnxbackup-restore/cnxbackup.pyz ') and '"$SET"' in program
    assert f'--env {tmp_path}/prod.yaml' in runs[1]  # --env as given: a path stays a path
    assert "verify" in runs[0] and f'--env {tmp_path}/prod.yaml' in runs[0]  # the verify runs the DB verifiers too
    assert ('install -d -m 0700 /root/cnxbackup-restore && install -m 0600 "$SET"/tools/cnxbackup.pyz '
            '/root/cnxbackup-restore/cnxbackup.pyz') in commands
    # the set's folder only in the SET= line the reader changes
    assert [c for c in commands if SET in c] == [c for c in commands if c.startswith("SET=")]


def test_no_line_of_restore_md_doubles_a_closing_parenthesis(tmp_path) -> None:
    """Issue 28's wording: "Stop the node agents (nodeagent (AppSrv01))" and the DB2 note's "environment))"."""
    text = _runbook(tmp_path)
    assert "## 15. Stop the node agents: nodeagent (AppSrv01)" in text
    assert "with the instance's environment; as root: runuser" in text
    assert [line for line in text.splitlines() if "))" in line] == []
