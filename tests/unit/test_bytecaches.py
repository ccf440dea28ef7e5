"""tests/bytecaches.py: the session's bytecode caches are written for the checkout's Python sources, and
a Jython source is compiled again only when its class is missing or older than it."""
from __future__ import annotations

import importlib.util
import os

import bytecaches


def _write(path: str, text: str = "x = 1\n", mtime: float | None = None) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def test_the_python_sources_get_their_cache(tmp_path) -> None:
    root = str(tmp_path)
    sources = [_write(os.path.join(root, folder, "pkg", "mod.py")) for folder in bytecaches.PYTHON_FOLDERS]
    outside = _write(os.path.join(root, "elsewhere", "mod.py"))
    bytecaches.compile_python(root)
    for source in sources:
        assert os.path.isfile(importlib.util.cache_from_source(source)), source
    assert not os.path.exists(importlib.util.cache_from_source(outside))


def test_a_jython_source_is_stale_without_its_class_or_with_an_older_one(tmp_path) -> None:
    root = str(tmp_path)
    cnxwas, mock = (os.path.join(root, folder) for folder in bytecaches.JYTHON_FOLDERS)
    fresh = _write(os.path.join(cnxwas, "fresh.py"), mtime=1000)
    _write(fresh[:-3] + "$py.class", "compiled", mtime=2000)
    edited = _write(os.path.join(cnxwas, "edited.py"), mtime=3000)
    _write(edited[:-3] + "$py.class", "compiled", mtime=2000)
    never = _write(os.path.join(mock, "com", "ibm", "__init__.py"))
    _write(os.path.join(root, "wsadmin", "list_auth_aliases.py"))  # a script run by -f: never imported
    assert sorted(bytecaches.stale_jython(root)) == sorted([edited, never])
