"""The first module the program runs (the zipapps' entry, ``python -m cnxbackup``): on a Python older
than 3.9 it says in one line which Python it needs and how to install one, and exits 2.

RHEL 8's and SLES 15's own ``python3`` is 3.6, where every other module of the package is a
SyntaxError (``from __future__ import annotations``). So this one is written for any Python from
2.7 on (no annotations, no f-strings; tests/e2e/product/test_dist.py checks it with vermin) and
reaches ``cnxbackup.cli`` only by name, after the version check: a plain import at the top would
be compiled first. ``cnxbackup/__init__.py``, imported before it, holds nothing newer.
"""
import importlib
import sys

MINIMUM = (3, 9)


def too_old_message(version, executable, program):
    # type: (tuple, str, str) -> str
    """The one line for ``version`` (sys.version_info), or "" when it is new enough."""
    if tuple(version[:2]) >= MINIMUM:
        return ""
    here = "%d.%d.%d" % tuple(version[:3])
    return ("cnxbackup needs Python %d.%d or later, this is %s (%s): "
            "RHEL 8: dnf install python39 (or python3.11), then python3.9 %s ...; "
            "RHEL 9: its python3 (3.9) runs it; "
            "SLES 15: zypper install python311, then python3.11 %s ..."
            % (MINIMUM + (here, executable or "python", program, program)))


def main():
    # type: () -> int
    """Check the interpreter, then run the command line."""
    program = sys.argv[0] if sys.argv and sys.argv[0].endswith(".pyz") else "-m cnxbackup"
    message = too_old_message(sys.version_info, sys.executable, program)
    if message:
        sys.stderr.write(message + "\n")
        return 2  # usage / configuration: the wrong interpreter was given
    cli = importlib.import_module("cnxbackup.cli")
    return int(cli.main())
