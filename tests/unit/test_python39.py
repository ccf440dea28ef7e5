"""The driver needs at most Python 3.9 (RHEL 9's system python3).

Statically with vermin, using the flags of the Makefile's `vermin` target. No
``--eval-annotations``: every driver module has ``from __future__ import annotations``
(checked here too), so ``list[str] | None`` in annotations is never evaluated on 3.9.
A control file proves the same flags do reject 3.10+ code. When a Python 3.9
interpreter exists, every driver module is also byte-compiled by it.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess

import e2e
from pythonkit import VERMIN_FLAGS, driver_files, vermin_command

ROOT = e2e.ROOT


def test_makefile_uses_the_same_flags():
    text = open(os.path.join(ROOT, "Makefile"), encoding="utf-8").read()
    recipe = re.search(r"^vermin:.*\n((?:\t.*\n)+)", text, re.M)
    assert recipe, "no vermin target in the Makefile"
    command = [line for line in recipe.group(1).splitlines() if "vermin " in line and not line.strip().startswith("#")]
    assert command and command[0].split()[1:] == VERMIN_FLAGS + ["driver/cnxbackup"], command


def test_vermin_flags_reject_310_code(tmp_path):
    """Control: the flags above do flag pattern matching and a 3.10-only stdlib member."""
    bad = tmp_path / "bad.py"
    bad.write_text("import itertools\n\ndef f(x):\n    match x:\n        case 1:\n            return itertools.pairwise([1, 2])\n")
    proc = subprocess.run(vermin_command() + VERMIN_FLAGS + [str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "3.10" in proc.stdout, proc.stdout + proc.stderr


def test_annotations_are_postponed_where_used():
    """Modules with annotations must postpone them, else `X | None` breaks on 3.9 at import."""
    missing = []
    for path in driver_files():
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
