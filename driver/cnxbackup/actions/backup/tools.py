"""The set carries its tools: ``tools/wsadmin/`` (the wsadmin scripts the run used) and
``tools/cnxbackup.pyz`` (the program that wrote it, as one file), written before the manifest,
which lists and signs them. RESTORE.md runs both from the set, never from a cache or a checkout."""
from __future__ import annotations

import os
import shutil
from typing import Optional

from ... import __version__
from ...atomic import write_file_atomic
from ...manifest import ToolRecord
from ...paths import SET_WSADMIN, wsadmin_dir
from ...selfpack import copy_wsadmin_scripts, program_file, sha256_of
from .state import BackupRun

FOLDER = "tools"
PROGRAM = "tools/cnxbackup.pyz"
WSADMIN = SET_WSADMIN


def write_tools(run: BackupRun) -> None:
    """Copy the wsadmin scripts and the program into the set (again on a resume: the run's own)."""
    root = run.layout.root
    old = os.umask(0o077)
    try:
        os.makedirs(os.path.join(root, FOLDER), mode=0o700, exist_ok=True)
        scripts = os.path.join(root, WSADMIN)
        if os.path.isdir(scripts) and not os.path.islink(scripts):
            shutil.rmtree(scripts)
        copy_wsadmin_scripts(wsadmin_dir(), scripts)
        with open(program_file(), "rb") as handle:
            write_file_atomic(os.path.join(root, PROGRAM), handle.read(), mode=0o600)
    finally:
        os.umask(old)


def tool_record(set_dir: str) -> ToolRecord:
    """The manifest's ``tool``: this program's version, and its copy in the set when there is one."""
    path = os.path.join(set_dir, PROGRAM)
    digest: Optional[str] = sha256_of(path) if os.path.isfile(path) and not os.path.islink(path) else None
    return ToolRecord(name="cnxbackup", version=__version__, path=PROGRAM if digest else None, sha256=digest)
