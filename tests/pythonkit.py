"""What the Python 3.9 checks share: vermin with the Makefile's flags, and the driver's files."""
from __future__ import annotations

import glob
import os
import shutil
import sys

import pytest

import e2e

DRIVER = os.path.join(e2e.ROOT, "driver", "cnxbackup")

VERMIN_FLAGS = ["-q", "--no-tips", "--violations", "-t=3.9-"]


def vermin_command() -> list:
    local = os.path.join(e2e.ROOT, ".venv", "bin", "vermin")
    if os.path.exists(local):
        return [local]
    found = shutil.which("vermin")
    if found:
        return [found]
    try:
        import vermin  # noqa: F401
    except ImportError:
        pytest.fail("vermin is not installed: it is in the [test] extra (make setup)")
    return [sys.executable, "-m", "vermin"]

JYTHON_ASSETS = os.path.join(DRIVER, "demo", "mock_wsadmin") + os.sep  # the mocked wsadmin runs under Jython


def driver_files() -> list:
    return sorted(path for path in glob.glob(os.path.join(DRIVER, "**", "*.py"), recursive=True)
                  if not path.startswith(JYTHON_ASSETS))
