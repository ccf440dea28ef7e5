"""Atomic file publication, restic style.

Every artifact is written as ``NAME.partial`` in its final directory, fsynced,
renamed to ``NAME`` and the directory fsynced, so that after a crash a file
either exists complete under its final name or not at all.

The folder may be one others can write (a share, a textfile collector's folder), so the
partial is created ``O_CREAT|O_EXCL|O_NOFOLLOW``: never opened through a link, a hard link
or a FIFO someone planted there (``open_new``).
"""
from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import stat
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


def _exclusive(dir_fd: int, name: str, mode: int) -> int:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    return os.open(name, flags, mode, dir_fd=dir_fd)


def _take_back(dir_fd: int, name: str, path: str) -> None:
    """Unlink a regular file or symlink at ``name`` (never followed, never opened); refuse anything else."""
    try:
        info = os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
        raise FileExistsError(errno.EEXIST, "something cnxbackup never creates (a FIFO, socket, device or folder) "
                              "is at the name it writes to; refused, remove it by hand", path)
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass


def open_new(path: str, mode: int) -> int:
    """Create ``path`` as a new file (``O_EXCL|O_NOFOLLOW``), ``mode`` exact (umask ignored).

    The name stays fixed (``NAME.partial``, not a random one) so that what a crashed run left is
    taken back by the next one instead of piling up. A name already there is removed only when it
    is a regular file or a symlink, by ``unlinkat`` in the folder already opened: an unlink never
    follows a link nor opens the file, so a hard link to a file elsewhere only loses this name. A
    FIFO, socket, device or folder there is nothing cnxbackup makes: refused, naming it (never
    opened, so a FIFO cannot hang the run). Someone re-planting it in between is refused too.
    """
    folder, name = os.path.split(os.path.abspath(path))
    dir_fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        try:
            fd = _exclusive(dir_fd, name, mode)
        except FileExistsError:
            _take_back(dir_fd, name, path)
            try:
                fd = _exclusive(dir_fd, name, mode)
            except FileExistsError:
                raise FileExistsError(errno.EEXIST, "created again by someone else while cnxbackup took the name back; "
                                      "refused", path) from None
    finally:
        os.close(dir_fd)
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
