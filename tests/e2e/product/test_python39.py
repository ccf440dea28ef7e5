"""The driver needs at most Python 3.9, checked by the tools themselves: vermin over the whole
driver with the Makefile's flags, and every driver module byte-compiled by a Python 3.9
interpreter where one exists. The static checks (the flags, the control file, postponed
annotations) are in ``tests/unit/test_python39.py``.
"""

from __future__ import annotations

import subprocess

import pytest

import e2e
from pythonkit import DRIVER, VERMIN_FLAGS, driver_files, vermin_command

ROOT = e2e.ROOT


def test_driver_needs_at_most_python39():
    proc = subprocess.run(vermin_command() + VERMIN_FLAGS + [DRIVER], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, "3.10+ usage in the driver:\n" + proc.stdout + proc.stderr


def test_driver_compiles_under_python39():
    python = e2e.find_python39()
    if python is None:
        pytest.skip("no python3.9 interpreter on this machine (the vermin check above still ran)")
    code = ("import sys\n"
            "for path in sys.argv[1:]:\n"
            "    compile(open(path, encoding='utf-8').read(), path, 'exec')\n")
    proc = subprocess.run([python, "-c", code] + driver_files(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
