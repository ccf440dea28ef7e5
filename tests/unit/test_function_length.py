"""No driver function is longer than 80 lines (the demo and its mocks excepted).

A function's span is ``end_lineno - lineno + 1`` of its ``def`` (decorators not counted),
nested functions and methods each counted on their own. The one allowed exception is the
restore's ``_execute``, which a later issue replaces.
"""
from __future__ import annotations

import ast
import os
from typing import Iterator, List, Tuple

import e2e

ROOT = e2e.ROOT
DRIVER = os.path.join(ROOT, "driver")
PACKAGE = os.path.join(DRIVER, "cnxbackup")
SKIPPED = os.path.join(PACKAGE, "demo")  # with its mock_wsadmin/ (Jython 2.1) and fakes/
MAX_LINES = 80
ALLOWED = {"cnxbackup/actions/restore/run.py::_execute"}


def _driver_modules() -> Iterator[str]:
    for folder, subfolders, files in os.walk(PACKAGE):
        if folder == SKIPPED or folder.startswith(SKIPPED + os.sep):
            subfolders[:] = []
            continue
        subfolders.sort()
        for name in sorted(files):
            if name.endswith(".py"):
                yield os.path.join(folder, name)


def _long_functions(path: str) -> Iterator[Tuple[str, int, int]]:
    """(name, first line, length) of each function or method in `path` over MAX_LINES."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), filename=path)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            end = node.end_lineno if node.end_lineno is not None else node.lineno
            length = end - node.lineno + 1
            if length > MAX_LINES:
                yield node.name, node.lineno, length


def test_the_checker_walks_the_driver_but_not_the_demo() -> None:
    modules = [os.path.relpath(path, DRIVER) for path in _driver_modules()]
    assert os.path.join("cnxbackup", "cli.py") in modules
    assert os.path.join("cnxbackup", "actions", "restore", "run.py") in modules
    assert not [module for module in modules if module.startswith(os.path.join("cnxbackup", "demo") + os.sep)]


def test_no_driver_function_is_over_80_lines() -> None:
    offenders: List[str] = []
    for path in _driver_modules():
        module = os.path.relpath(path, DRIVER).replace(os.sep, "/")
        for name, line, length in _long_functions(path):
            key = "%s::%s" % (module, name)
            if key not in ALLOWED:
                offenders.append("%s (line %d): %d lines" % (key, line, length))
    assert not offenders, "functions over %d lines:\n  %s" % (MAX_LINES, "\n  ".join(offenders))
