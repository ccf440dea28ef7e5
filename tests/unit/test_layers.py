"""The one-way house: no import circle (type-only imports included), no hidden imports inside
functions, and nothing of the product reaching into tests/. The layer order itself is the
import-linter contract in pyproject.toml (``make lint``)."""
from __future__ import annotations

import ast
import os
import re
from typing import Dict, List, Set

import grimp
import pytest

import e2e

ROOT = e2e.ROOT
PACKAGE = os.path.join(ROOT, "driver", "cnxbackup")


def _python_files() -> List[str]:
    """Every module of the package: its .py files in folders that are packages (no Jython assets)."""
    found = []
    for folder, dirs, files in os.walk(PACKAGE):
        dirs[:] = [d for d in dirs if os.path.exists(os.path.join(folder, d, "__init__.py"))]
        found += [os.path.join(folder, name) for name in files if name.endswith(".py")]
    return sorted(found)


def strongly_connected(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Tarjan's algorithm, iterative; the components with more than one module (or a self-import)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    circles: List[List[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    circles.append(sorted(component))
    return circles


def test_cycle_finder_finds_a_planted_circle() -> None:
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_type_only_imports_included() -> None:
    graph = grimp.build_graph("cnxbackup", exclude_type_checking_imports=False)
    edges = {module: {m for m in graph.find_modules_directly_imported_by(module) if m.startswith("cnxbackup")}
             for module in graph.modules}
    assert strongly_connected(edges) == []


def _function_local_imports(path: str) -> List[str]:
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom) and (inner.level > 0 or (inner.module or "").startswith("cnxbackup")):
                found.append(f"{os.path.relpath(path, ROOT)}:{inner.lineno}")
            elif isinstance(inner, ast.Import) and any(a.name.startswith("cnxbackup") for a in inner.names):
                found.append(f"{os.path.relpath(path, ROOT)}:{inner.lineno}")
    return found


def test_no_function_local_import_of_a_cnxbackup_module() -> None:
    offenders = [hit for path in _python_files() for hit in _function_local_imports(path)]
    assert offenders == []


def test_local_import_detector_sees_one(tmp_path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from .plan import Item\n    import json\n")
    assert _function_local_imports(str(sample)) == [f"{os.path.relpath(str(sample), ROOT)}:2"]


def _every_file() -> List[str]:
    return sorted(os.path.join(folder, name) for folder, dirs, files in os.walk(PACKAGE)
                  if "__pycache__" not in folder for name in files if not name.endswith((".pyc", ".class")))


@pytest.mark.parametrize("path", _every_file(), ids=lambda p: os.path.relpath(p, PACKAGE))
def test_product_never_reaches_into_tests(path: str) -> None:
    """No module, fake tool or mock names a path under tests/ (a quoted or joined ``tests`` part)."""
    text = open(path, encoding="utf-8", errors="replace").read()
    assert not re.search(r"""["'/]tests["'/]|["']tests["']\s*[,)]""", text), f"{path} names the tests/ folder"
