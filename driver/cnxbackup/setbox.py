"""A backup set is a closed box: every file read from it resolves inside it and is a regular file.

The set may sit on a disk or share that others can write, so a name read from its manifest
(``archives/x.tar.zst``) is only a name: it must be relative, without ``..``, reach no
symlink on the way (each component is checked with ``lstat``), and end at a regular file,
which is then opened with ``O_NOFOLLOW`` and checked again on the open descriptor (``fstat``),
so a swap between the check and the open is caught too.
"""
from __future__ import annotations

import os
import stat
from typing import BinaryIO

from .errors import CnxBackupError


class OutsideTheSet(CnxBackupError):
    """A name from the set leads outside it, through a symlink, or to something not a regular file."""


def path_in_set(set_dir: str, name: str) -> str:
    """The checked path of ``name`` (relative, as the manifest records it) inside ``set_dir``."""
    if not name or "\0" in name or name.startswith("/") or os.path.isabs(name):
        raise OutsideTheSet(f"{set_dir}: {name!r} is not a path inside the set")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        raise OutsideTheSet(f"{set_dir}: {name!r} climbs out of the set")
    current = set_dir
    for index, part in enumerate(parts):
        current = os.path.join(current, part)
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            raise OutsideTheSet(f"{current}: missing from the set") from None
        if stat.S_ISLNK(info.st_mode):
            raise OutsideTheSet(f"{current}: is a symlink; nothing in a set is read through a link")
        last = index == len(parts) - 1
        if last and not stat.S_ISREG(info.st_mode):
            raise OutsideTheSet(f"{current}: not a regular file")
        if not last and not stat.S_ISDIR(info.st_mode):
            raise OutsideTheSet(f"{current}: not a folder")
    return current


def open_regular(path: str) -> BinaryIO:
    """``path`` opened for reading only if it is a regular file: ``O_NOFOLLOW|O_NONBLOCK`` first (a
    FIFO planted there cannot block the open), then ``fstat`` on the descriptor."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except OSError as error:
        raise OutsideTheSet(f"{path}: cannot open: {error.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OutsideTheSet(f"{path}: not a regular file")
    return os.fdopen(fd, "rb")


def read_regular(path: str, limit: int) -> bytes:
    """The whole of a small regular file (``open_regular``), at most ``limit`` bytes, else refused.
    FileNotFoundError when it is not there; OutsideTheSet for a link, FIFO, device or oversize."""
    with open_regular(path) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OutsideTheSet(f"{path}: larger than {limit:,} bytes; not a file cnxbackup wrote")
    return data


def open_in_set(set_dir: str, name: str) -> BinaryIO:
    """``name`` opened for reading, checked as ``path_in_set`` and again on the descriptor."""
    path = path_in_set(set_dir, name)
    try:
        return open_regular(path)
    except FileNotFoundError:
        raise OutsideTheSet(f"{path}: missing from the set") from None


def read_in_set(set_dir: str, name: str, limit: int) -> bytes:
    """The whole of a small file of the set (at most ``limit`` bytes, else refused)."""
    with open_in_set(set_dir, name) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OutsideTheSet(f"{os.path.join(set_dir, name)}: larger than {limit:,} bytes; not a file cnxbackup wrote")
    return data
