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


# A stand-in for RHEL 8's or SLES 15's python3 (3.6), which this machine does not have: this
# interpreter with a sitecustomize that makes sys.version_info say 3.6.8 and refuses, at import,
# what 3.6's compiler refuses in the program's own modules (those under ``checked``): the
# ``annotations`` future (the SyntaxError a real 3.6 gives) and grammar newer than 3.6. The
# standard library is this interpreter's own and is not checked.
_PY36_SITECUSTOMIZE = '''\
import ast
import os
import re
import sys

sys.version_info = (3, 6, 8, "final", 0)
_CHECKED = [p for p in os.environ["PY36_CHECKED"].split(os.pathsep) if p]
_FUTURE = re.compile(r"^from __future__ import [^#\\n]*\\bannotations\\b", re.M)


class _Python36Compiler:
    def find_spec(self, name, path=None, target=None):
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        origin = os.path.abspath(spec.origin or "")
        if spec.loader is not None and any(origin.startswith(p) for p in _CHECKED):
            source = spec.loader.get_source(name) or ""
            if _FUTURE.search(source):
                raise SyntaxError("future feature annotations is not defined (%s)" % origin)
            ast.parse(source, origin, feature_version=(3, 6))
        return None  # checked: the usual finders load it


sys.meta_path.insert(0, _Python36Compiler())
'''


def python36_env(folder: str, env: dict, *checked: str) -> dict:
    """``env`` for running this interpreter as a Python 3.6 would (see above) on the modules
    under the ``checked`` paths (a zipapp, the folder it unpacks into)."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "sitecustomize.py"), "w", encoding="utf-8") as handle:
        handle.write(_PY36_SITECUSTOMIZE)
    return {**env, "PYTHONPATH": folder, "PY36_CHECKED": os.pathsep.join(os.path.abspath(p) for p in checked)}
