"""Every file of a set accounted for (format 5): listed with its digest, recorded elsewhere, or mutable.

Since format 5 the signed manifest accounts for every file of the set: each one is in ``files``
(path, SHA-256, size: the runbook, REPORT.md, ``SHA256SUMS``, the scripts, the wsadmin exports,
the Component Pack files, ``tools/``), or is an archive, level-1 archive, snapshot, copied file,
database image copy or MongoDB dump that its own record names with its digest, or matches one of
the manifest's ``mutableFiles``: the files that change after the backup by design (the log, the
journal, the ``.run/`` scratch, ``verify-result.json``, the manifest and its signature and sidecar
themselves, and the ``.partial`` names their atomic writes use). Anything else in the set (a file
added, a renamed one, a symbolic link, a FIFO) is named by ``verify``.

The walk never follows a link (``os.walk`` without ``followlinks``, every entry ``lstat``-ed) and
opens nothing: hashing is the caller's, through ``setbox``/``archive`` readers that refuse what is
not a regular file.
"""
from __future__ import annotations

import fnmatch
import os
import stat
from typing import Dict, Iterable, List, Optional, Set, Tuple

from ..atomic import PARTIAL_SUFFIX
from .model import DONE_STATUSES, Manifest

COVERED_FORMAT = 5
SUMS = "SHA256SUMS"
"""``sha256sum -c`` form of every digest the manifest holds for a file in the set (relative paths, sorted)."""

_CHANGING = ("manifest.json", "manifest.json.sig", "manifest.json.sha256", "journal.json", "cnxbackup.log",
             "verify-result.json")
MUTABLE_FILES: Tuple[str, ...] = _CHANGING + tuple(name + PARTIAL_SUFFIX for name in _CHANGING) + (".run/*",)
"""Names (``fnmatch`` patterns on the path relative to the set; ``*`` crosses folders) of the files
that change after the backup by design, and so cannot be signed."""


def is_mutable(path: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device node"
    return "not a regular file"


def walk_set(set_dir: str) -> Tuple[List[str], List[Tuple[str, str]]]:
    """(the regular files of the set, relative and sorted; every other entry that is not a folder,
    or a folder that cannot be read, with what it is). Links are listed, never followed."""
    files: List[str] = []
    odd: List[Tuple[str, str]] = []

    def unreadable(error: OSError) -> None:
        odd.append((os.path.relpath(str(error.filename), set_dir), f"a folder that cannot be read ({error.strerror})"))

    for folder, dirs, names in os.walk(set_dir, onerror=unreadable):
        keep = []
        for name in sorted(dirs) + sorted(names):
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, set_dir)
            try:
                mode = os.lstat(path).st_mode
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(mode):
                keep.append(name)
            elif stat.S_ISREG(mode):
                files.append(rel)
            else:
                odd.append((rel, _kind(mode)))
        dirs[:] = [name for name in dirs if name in keep]
    return sorted(files), sorted(odd)


def _clean(path: str) -> str:
    return os.path.normpath(path)


def recorded_digests(manifest: Manifest) -> Dict[str, Tuple[str, Optional[int]]]:
    """Path (relative to the set) -> (SHA-256, size) of every file of the set the manifest records with
    a digest: ``files``, then the archives (both levels), snapshots, image copies and the MongoDB dump."""
    found: Dict[str, Tuple[str, Optional[int]]] = {}
    for item in manifest.archives:
        if item.snapshot is not None:
            found[_clean(item.snapshot.path)] = (item.snapshot.sha256, item.snapshot.size)
        if item.level1 is not None:
            found[_clean(item.level1.path)] = (item.level1.sha256, item.level1.size)
        if item.sha256 and (item.in_set or item.level1 is not None):
            found[_clean(item.path)] = (item.sha256, item.size)
    for db in manifest.databases:
        for image in db.images:
            digest, size = image.copy_digest
            if image.copy and digest:
                found[_clean(image.copy)] = (digest, size)
    dump = (manifest.component_pack or {}).get("mongodb")
    if isinstance(dump, dict) and dump.get("status") in DONE_STATUSES and isinstance(dump.get("path"), str) \
            and isinstance(dump.get("sha256"), str):
        found[_clean(dump["path"])] = (dump["sha256"], dump.get("size") if isinstance(dump.get("size"), int) else None)
    for record in manifest.files:
        found[_clean(record.path)] = (record.sha256, record.size)
    return found


def claimed_paths(manifest: Manifest) -> Set[str]:
    """Every path of the set a record of the manifest names, whatever its status (a failed item's
    archive is named too: its absence or damage is the item's check, not an unknown file)."""
    paths = {_clean(record.path) for record in manifest.files}
    for item in manifest.archives:
        paths.add(_clean(item.path))
        if item.snapshot is not None:
            paths.add(_clean(item.snapshot.path))
        if item.level1 is not None:
            paths.add(_clean(item.level1.path))
    paths |= {_clean(image.copy) for db in manifest.databases for image in db.images if image.copy}
    dump = (manifest.component_pack or {}).get("mongodb")
    if isinstance(dump, dict) and isinstance(dump.get("path"), str):
        paths.add(_clean(dump["path"]))
    return paths


def unaccounted(manifest: Manifest, files: Iterable[str], patterns: Optional[Iterable[str]] = None) -> List[str]:
    """The files (relative paths) neither named by a record of the manifest nor mutable by design."""
    claimed = claimed_paths(manifest)
    mutable = list((manifest.mutable_files or []) if patterns is None else patterns)
    return [path for path in files if _clean(path) not in claimed and not is_mutable(path, mutable)]


def _sums_name(path: str) -> Tuple[str, str]:
    """(prefix, name) as GNU ``sha256sum`` writes a name with a backslash or a newline."""
    if "\\" in path or "\n" in path:
        return "\\", path.replace("\\", "\\\\").replace("\n", "\\n")
    return "", path


def sums_text(digests: Dict[str, Tuple[str, Optional[int]]]) -> bytes:
    """``SHA256SUMS``: one ``<sha256>  <path>`` line per file, sorted by path (``sha256sum -c`` reads it)."""
    lines = []
    for path in sorted(digests):
        prefix, name = _sums_name(path)
        lines.append(f"{prefix}{digests[path][0]}  {name}\n")
    return "".join(lines).encode("utf-8")
