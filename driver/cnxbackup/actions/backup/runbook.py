"""RESTORE.md for a rebuilt host: every command relative to the set (``"$SET"/...``, after a
``SET=`` line the reader changes when the set moved), the wsadmin scripts from ``"$SET"/tools/wsadmin``
and the program from ``"$SET"/tools/cnxbackup.pyz``, copied into a root-only folder and checked
against its SHA-256 there before it runs as root. Never a cache, a checkout or ``$PATH``."""
from __future__ import annotations

import os
import shlex
from typing import Dict, Iterable, List, Optional

from ...manifest import Manifest
from ...paths import wsadmin_dir
from .tools import PROGRAM, WSADMIN

SET_VARIABLE = "SET"
RESTORE_FOLDER = "/root/cnxbackup-restore"
INSTALLED = f"{RESTORE_FOLDER}/cnxbackup.pyz"
PYTHON = "python3.9"  # or any Python 3.9+: RESTORE.md says so


def _in_shell_context(command: str, at: int) -> str:
    """The quoting at offset ``at`` of a shell line: ``'`` (single quotes), ``"`` or ``''`` (none)."""
    state, i = "", 0
    while i < at:
        char = command[i]
        if state == "'":
            state = "" if char == "'" else state
        elif char == "\\":
            i += 1
        elif state == '"':
            state = "" if char == '"' else state
        elif char in "'\"":
            state = char
        i += 1
    return state


def relative_to_set(command: str, set_dir: str, scripts: Optional[str] = None) -> str:
    """``command`` with the set's folder as ``$SET`` (quoted for where it stands in the line) and the
    project's wsadmin scripts (``scripts``, default this program's) as the set's own copies."""
    scripts = scripts or wsadmin_dir()
    for name in _script_names(scripts):
        command = command.replace(shlex.quote(os.path.join(scripts, name)), f'"${SET_VARIABLE}"/{WSADMIN}/{name}')
    set_dir = set_dir.rstrip("/")
    out: List[str] = []
    start = 0
    while True:
        at = command.find(set_dir, start)
        if at < 0:
            break
        end = at + len(set_dir)
        if end < len(command) and command[end] not in "/'\" ;)&|":
            out.append(command[start:end])  # a longer name that begins with the set's
            start = end
            continue
        context = _in_shell_context(command, at)
        if context == "'" and at > start and command[at - 1] == "'" and _in_shell_context(command, at - 1) == "":
            out.append(command[start:at - 1] + f'"${SET_VARIABLE}"\'')  # 'SET/x y' -> "$SET"'/x y'
        else:
            word = {"'": f"'\"${SET_VARIABLE}\"'", '"': f"${SET_VARIABLE}", "": f'"${SET_VARIABLE}"'}[context]
            out.append(command[start:at] + word)
        start = end
    out.append(command[start:])
    return "".join(out)


def _script_names(scripts: str) -> List[str]:
    try:
        return sorted(name for name in os.listdir(scripts) if name.endswith(".py"))
    except OSError:
        return []


def rewrite_steps(steps: Iterable, set_dir: str) -> None:
    """Every step's commands relative to the set (in place)."""
    for step in steps:
        step.commands = [relative_to_set(command, set_dir) for command in step.commands]


def program_lines(manifest: Manifest, set_dir: str, env_argument: str) -> Dict[str, str]:
    """RESTORE.md's words around the set's own program: ``install`` (copy it into root's folder),
    ``run`` (the check, then the program: a command follows), ``env`` (``--env``, quoted), ``set`` (a
    ``SET=`` line), ``sha256`` and ``version``."""
    tool = manifest.tool
    path = tool.path or PROGRAM
    check = f"echo {shlex.quote(f'{tool.sha256}  {INSTALLED}')} | sha256sum -c --quiet -" if tool.sha256 else ""
    run = f"{check} && {PYTHON} {INSTALLED}" if check else f"{PYTHON} {INSTALLED}"
    return {"set": f"{SET_VARIABLE}={shlex.quote(set_dir)}",
            "install": (f"install -d -m 0700 {RESTORE_FOLDER} && install -m 0600 \"${SET_VARIABLE}\"/{path} {INSTALLED}"),
            "run": run, "env": shlex.quote(env_argument), "set_word": f'"${SET_VARIABLE}"',
            "sha256": tool.sha256 or "", "version": tool.version}
