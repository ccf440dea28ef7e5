"""The program as one file, for a backup set to carry (``<set>/tools/cnxbackup.pyz``).

A set restores from what it holds: on a rebuilt host neither the checkout nor shiv's cache
(``~/.shiv/...``) is there. When this process runs from a zipapp (``make dist``'s, or a set's own),
that file is the copy. Otherwise (a checkout, the demo, the tests) one is built here, without
network, from the code that runs: a stdlib ``zipapp`` of the ``cnxbackup`` package with its assets
as ``cnxbackup/_assets`` (where ``paths.assets_root`` looks outside a checkout) and the pure-Python
part of its dependencies from this interpreter (compiled modules are left out: each has a
pure-Python fallback, and they would only fit this interpreter). Its ``__main__`` extracts the
archive into a fresh private folder (the wsadmin scripts and templates must be real files), runs
``cnxbackup.cli:main`` from there and removes the folder.
"""
from __future__ import annotations

import atexit
import hashlib
import importlib
import os
import shutil
import tempfile
import zipfile
from typing import Dict, Iterator, List, Tuple

from .invocation import running_zipapp
from .paths import assets_root

# the import names of pyproject.toml's ``dependencies`` and theirs, pure Python each
DEPENDENCIES = ("jinja2", "markupsafe", "yaml", "pexpect", "ptyprocess")
ASSETS = ("wsadmin", "templates", "environments")
_SKIPPED_DIRS = {"__pycache__", "_assets"}
_SKIPPED_SUFFIXES = (".pyc", ".pyo", "$py.class", ".so", ".pyd", ".c", ".h", ".pyx")
_STAMP = (1980, 1, 1, 0, 0, 0)  # fixed: the same code gives the same bytes (and SHA-256)

MAIN = '''\
"""cnxbackup as one file: extracted into a fresh private folder, run, removed.
Any Python from 2.7 on runs this far: cnxbackup.launch names the Python it needs on an older one."""
import os
import shutil
import sys
import tempfile
import zipfile

_archive = os.path.dirname(os.path.abspath(__file__))
_folder = tempfile.mkdtemp(prefix="cnxbackup-pyz-")  # 0700, a new name
try:
    _lib = os.path.join(_folder, "lib")
    with zipfile.ZipFile(_archive) as _zip:
        for _info in _zip.infolist():
            if _info.filename != "__main__.py":
                os.chmod(_zip.extract(_info, _lib), (_info.external_attr >> 16) & 0o755 or 0o644)
    sys.path.insert(0, _lib)
    from cnxbackup.launch import main
    _code = main()
finally:
    shutil.rmtree(_folder, ignore_errors=True)
sys.exit(_code)
'''


def _tree(root: str, arcroot: str) -> Iterator[Tuple[str, str]]:
    """(file, name in the archive) of a folder, sorted, without caches and compiled modules."""
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS and not d.endswith((".egg-info", ".dist-info")))
        for name in sorted(names):
            path = os.path.join(folder, name)
            if name.endswith(_SKIPPED_SUFFIXES) or ".so." in name or os.path.islink(path) or not os.path.isfile(path):
                continue
            yield path, arcroot + "/" + os.path.relpath(path, root).replace(os.sep, "/")


def _package_dir(name: str) -> str:
    module = importlib.import_module(name)
    return os.path.dirname(os.path.abspath(module.__file__ or ""))


def contents() -> List[Tuple[str, str]]:
    """(file, name in the archive) of everything the built zipapp holds but ``__main__.py``."""
    members = list(_tree(_package_dir("cnxbackup"), "cnxbackup"))
    root = assets_root()
    for asset in ASSETS:
        if os.path.isdir(os.path.join(root, asset)):
            members += _tree(os.path.join(root, asset), f"cnxbackup/_assets/{asset}")
    for name in DEPENDENCIES:
        members += _tree(_package_dir(name), name)
    return members


def build_zipapp(dest: str) -> None:
    """Write the zipapp to ``dest`` (a new file; the same code gives the same bytes)."""
    with open(dest, "xb") as out:
        out.write(b"#!/usr/bin/env python3\n")
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            entries = [("__main__.py", MAIN.encode("utf-8"), 0o644)]
            entries += [(arcname, _read(path), 0o755 if os.access(path, os.X_OK) else 0o644) for path, arcname in contents()]
            for arcname, data, mode in entries:
                info = zipfile.ZipInfo(arcname, _STAMP)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = mode << 16  # the demo's stand-ins are run: their x bits are kept
                archive.writestr(info, data)


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


_BUILT: Dict[str, str] = {}  # one build per process: the key's folder holds it


def program_file() -> str:
    """The program as one file: the zipapp this process runs from, else one built once per process."""
    running = running_zipapp()
    if running:
        return running
    if "path" not in _BUILT or not os.path.isfile(_BUILT["path"]):
        folder = tempfile.mkdtemp(prefix="cnxbackup-selfpack-")
        atexit.register(shutil.rmtree, folder, True)
        path = os.path.join(folder, "cnxbackup.pyz")
        build_zipapp(path)
        _BUILT["path"] = path
    return _BUILT["path"]


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def copy_wsadmin_scripts(source: str, dest: str) -> List[str]:
    """The wsadmin scripts (``*.py`` and their ``cnxwas`` package, no caches) copied into ``dest``
    (made here); their names relative to it."""
    copied = []
    for path, rel in _tree(source, "."):
        rel = rel[2:]
        if not rel.endswith(".py"):
            continue
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(path, target)
        copied.append(rel)
    return copied
