"""The driver needs at most Python 3.9 (RHEL 9's system python3).

Statically with vermin, using the flags of the Makefile's `vermin` target. No
``--eval-annotations``: every driver module has ``from __future__ import annotations``
(checked here too), so ``list[str] | None`` in annotations is never evaluated on 3.9.
A control file proves the same flags do reject 3.10+ code. When a Python 3.9
interpreter exists, every driver module is also byte-compiled by it.
"""
from __future__ import annotations

import ast
import glob
import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DRIVER = os.path.join(ROOT, "driver", "cnxbackup")
VERMIN_FLAGS = ["-q", "--no-tips", "--violations", "-t=3.9-"]


def _vermin() -> list:
    local = os.path.join(ROOT, ".venv", "bin", "vermin")
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


def _driver_files() -> list:
    return sorted(path for path in glob.glob(os.path.join(DRIVER, "**", "*.py"), recursive=True)
                  if not path.startswith(JYTHON_ASSETS))


def test_makefile_uses_the_same_flags():
    text = open(os.path.join(ROOT, "Makefile"), encoding="utf-8").read()
    recipe = re.search(r"^vermin:.*\n((?:\t.*\n)+)", text, re.M)
    assert recipe, "no vermin target in the Makefile"
    command = [line for line in recipe.group(1).splitlines() if "vermin " in line and not line.strip().startswith("#")]
    assert command and command[0].split()[1:] == VERMIN_FLAGS + ["driver/cnxbackup"], command


def test_driver_needs_at_most_python39():
    proc = subprocess.run(_vermin() + VERMIN_FLAGS + [DRIVER], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, "3.10+ usage in the driver:\n" + proc.stdout + proc.stderr


def test_vermin_flags_reject_310_code(tmp_path):
    """Control: the flags above do flag pattern matching and a 3.10-only stdlib member."""
    bad = tmp_path / "bad.py"
    bad.write_text("import itertools\n\ndef f(x):\n    match x:\n        case 1:\n            return itertools.pairwise([1, 2])\n")
    proc = subprocess.run(_vermin() + VERMIN_FLAGS + [str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "3.10" in proc.stdout, proc.stdout + proc.stderr


def test_annotations_are_postponed_where_used():
    """Modules with annotations must postpone them, else `X | None` breaks on 3.9 at import."""
    missing = []
    for path in _driver_files():
        tree = ast.parse(open(path, encoding="utf-8").read(), path)
        annotated = any(
            (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
             and (node.returns is not None or any(a.annotation is not None for a in ast.walk(node.args) if isinstance(a, ast.arg))))
            or isinstance(node, ast.AnnAssign)
            for node in ast.walk(tree))
        future = any(isinstance(node, ast.ImportFrom) and node.module == "__future__"
                     and any(alias.name == "annotations" for alias in node.names) for node in tree.body)
        if annotated and not future:
            missing.append(os.path.relpath(path, ROOT))
    assert not missing, "missing `from __future__ import annotations`: " + ", ".join(missing)


def find_python39() -> str | None:
    """A working Python 3.9 interpreter (pyenv shims that refuse to run are skipped), or None."""
    candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.9*/bin/python3.9")))
    candidates += [shutil.which("python3.9"), "/usr/bin/python3.9", "/usr/bin/python3"]
    for candidate in candidates:
        if not candidate or not os.access(candidate, os.X_OK):
            continue
        try:
            probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 9))"],
                                   capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return candidate
    return None


def test_driver_compiles_under_python39():
    python = find_python39()
    if python is None:
        pytest.skip("no python3.9 interpreter on this machine (the vermin check above still ran)")
    code = ("import sys\n"
            "for path in sys.argv[1:]:\n"
            "    compile(open(path, encoding='utf-8').read(), path, 'exec')\n")
    proc = subprocess.run([python, "-c", code] + _driver_files(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
