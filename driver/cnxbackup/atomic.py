"""Atomic file publication, restic style.

Every artifact is written as ``NAME.partial`` in its final directory, fsynced,
renamed to ``NAME`` and the directory fsynced, so that after a crash a file
either exists complete under its final name or not at all.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
from typing import Any, Iterator

PARTIAL_SUFFIX = ".partial"


def partial_path(path: str) -> str:
    """The staging name used while ``path`` is being written."""
    return path + PARTIAL_SUFFIX


def fsync_dir(path: str) -> None:
    """fsync a directory so that a rename/creation inside it is durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _parent(path: str) -> str:
    return os.path.dirname(os.path.abspath(path))


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def open_new(path: str, mode: int) -> int:
    """Create/truncate ``path`` without following a symlink; set ``mode`` exactly (umask ignored)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, mode)
    try:
        os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        raise
    return fd


def publish(partial: str, path: str) -> None:
    """Rename an already fsynced ``partial`` to ``path`` and fsync the directory."""
    os.replace(partial, path)
    fsync_dir(_parent(path))


@contextlib.contextmanager
def open_partial(path: str, mode: int = 0o600) -> Iterator[io.FileIO]:
    """Yield a binary file at ``path + '.partial'``.

    On normal exit the file is flushed, fsynced, renamed to ``path`` and the
    directory fsynced. On any exception (KeyboardInterrupt included) the partial
    file is removed and the exception propagates.
    """
    partial = partial_path(path)
    fd = open_new(partial, mode)
    fileobj = os.fdopen(fd, "wb", buffering=0)
    try:
        yield fileobj
        fileobj.flush()
        os.fsync(fileobj.fileno())
        fileobj.close()
        publish(partial, path)
    except BaseException:
        try:
            fileobj.close()
        except OSError:
            pass
        _remove_quietly(partial)
        raise


def write_file_atomic(path: str, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` atomically (partial -> fsync -> rename -> fsync dir)."""
    with open_partial(path, mode) as out:
        view = memoryview(data)
        while view:
            written = out.write(view)
            view = view[written:]


def write_json_atomic(path: str, obj: Any, mode: int = 0o600) -> None:
    """Write ``obj`` as pretty, key-sorted UTF-8 JSON (trailing newline) atomically."""
    text = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    write_file_atomic(path, text.encode("utf-8"), mode)
