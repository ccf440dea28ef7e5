"""The program as it was invoked, for hints that work as printed on this host.

``command_line("backup", "--env", given, "--resume", set_dir)`` gives the line a hint prints:
the program as it runs here (``/opt/x/.venv/bin/cnxbackup``, ``python3.9 /abs/cnxbackup.pyz``, or
``PYTHONPATH=/abs/driver python3.11 -m cnxbackup``), never a bare ``cnxbackup`` that ``$PATH``
may not find, every word shell-quoted. ``env_argument`` keeps ``--env`` as it was given: a name
stays a name, a path stays a path (made absolute, so the line works from any folder).
"""
from __future__ import annotations

import os
import shlex
import shutil
import sys
import zipfile
from typing import List, Optional, Sequence

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def running_zipapp(argv0: Optional[str] = None) -> Optional[str]:
    """The absolute path of the zipapp (shiv's or the set's own ``cnxbackup.pyz``) this process
    runs from, else None (a checkout, a venv, the tests)."""
    argv0 = sys.argv[0] if argv0 is None and sys.argv else argv0
    if not argv0 or not os.path.isfile(argv0) or not zipfile.is_zipfile(argv0):
        return None
    try:
        with zipfile.ZipFile(argv0) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return None
    if "__main__.py" in names and any(n.endswith("cnxbackup/__init__.py") for n in names):
        return os.path.abspath(argv0)
    return None


def interpreter(executable: Optional[str] = None) -> str:
    """The interpreter as a shell finds it: ``python3.9`` when that name on ``$PATH`` is this one,
    else its absolute path."""
    executable = executable or sys.executable or "python3"
    name = os.path.basename(executable)
    found = shutil.which(name)
    if found and os.path.realpath(found) == os.path.realpath(executable):
        return name
    return os.path.abspath(executable)


def program(argv0: Optional[str] = None, executable: Optional[str] = None) -> List[str]:
    """The words that start this program again, here."""
    argv0 = (sys.argv[0] if sys.argv else "") if argv0 is None else argv0
    pyz = running_zipapp(argv0)
    if pyz:
        return [interpreter(executable), pyz]
    base = os.path.basename(argv0)
    if base.startswith("cnxbackup") and os.path.isfile(argv0) and os.access(argv0, os.X_OK):
        return [os.path.abspath(argv0)]  # the console script (.venv/bin/cnxbackup)
    # python -m cnxbackup, or a host process (the tests): the package's own folder on PYTHONPATH
    return [f"PYTHONPATH={os.path.dirname(_PACKAGE_DIR)}", interpreter(executable), "-m", "cnxbackup"]


def env_argument(given: str) -> str:
    """``--env`` as it was given: a name stays a name, a path (``/etc/cnxbackup/prod.yaml``,
    ``./prod.yaml``) stays a path, made absolute."""
    if given.endswith((".yaml", ".yml")) or os.sep in given:
        return os.path.abspath(given)
    return given


def command_line(*words: str, prefix: Sequence[str] = ()) -> str:
    """The shell line of ``cnxbackup WORDS...`` as this process was started (``prefix``: the
    program's words, for a test; by default this process's)."""
    head = list(prefix) or program()
    quoted = ["PYTHONPATH=" + shlex.quote(w[11:]) if w.startswith("PYTHONPATH=") else shlex.quote(w) for w in head]
    return " ".join(quoted + [shlex.quote(w) for w in words])
