"""Single files with the SHA-256 computed in the stream: the one copy loop of the tool.

Every copy goes through :func:`pump`: files into the set (:func:`copy_file`), files back out
(:func:`copy_back_file`), hashing (:func:`hash_file`) and both directions of every transport
(local and over ssh). Sources are opened with ``O_NOFOLLOW``, so a symlink planted where a
file was is refused, never followed; destinations are written as ``NAME.partial`` through
:mod:`cnxbackup.atomic` and published only when complete and checked.
"""
from __future__ import annotations

import dataclasses
import errno
import fcntl
import hashlib
import os
import stat
import subprocess
import threading
import time
from typing import IO, BinaryIO, Callable, Optional, Tuple

from ..atomic import open_partial
from .common import CHUNK, ArchiveError, ArchiveResult, DiskFullError, ProgressFn, Throttle, check_cancel, is_disk_full
from .encryption import Cipher
from .process import close_std, feed, stop_processes, write_all

Writer = Callable[[memoryview], object]


@dataclasses.dataclass
class CopyResult:
    """What landed: byte count and SHA-256 computed while streaming."""

    size: int
    sha256: str
    source_size: Optional[int] = None  # what was read, when a filter (encryption) changed the bytes
    source_sha256: Optional[str] = None


def open_source(path: str) -> BinaryIO:
    """Open ``path`` for reading without following a symlink at its last component, and only when
    it is a regular file: opened ``O_NONBLOCK`` first, so that a FIFO swapped in after a check
    cannot hang the run, then ``fstat`` on the descriptor (blocking reads again after that)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | os.O_NONBLOCK
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file; refused (a FIFO or device is never read)", path)
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb", buffering=0)


def pump(reader: IO[bytes], write: Optional[Writer], *, progress: Optional[ProgressFn] = None,
         cancel: Optional[threading.Event] = None) -> Tuple[str, int]:
    """Copy ``reader`` to ``write`` (or nowhere) in 1 MiB chunks; returns (sha256 hex, size).

    One reused buffer: memory stays flat whatever the size. ``write`` must take the whole chunk.
    """
    hasher = hashlib.sha256()
    size = 0
    throttle = Throttle(progress)
    buf = memoryview(bytearray(CHUNK))
    while True:
        check_cancel(cancel)
        count = reader.readinto(buf)  # type: ignore[attr-defined]
        if not count:
            break
        chunk = buf[:count]
        hasher.update(chunk)
        if write is not None:
            write(chunk)
        size += count
        throttle(0, size)
    throttle(1, size, force=True)
    return hasher.hexdigest(), size


def hash_file(path: str, progress: Optional[ProgressFn] = None) -> Tuple[str, int]:
    """(sha256 hex, size) of a file, read in 1 MiB chunks (a symlink is refused)."""
    with open_source(path) as source:
        return pump(source, None, progress=progress)


def receive(reader: IO[bytes], dest: str, *, mode: int = 0o600,
            before_publish: Optional[Callable[[CopyResult, int], None]] = None,
            progress: Optional[ProgressFn] = None, cancel: Optional[threading.Event] = None,
            cipher: Optional[Cipher] = None) -> CopyResult:
    """Write a stream to ``dest`` atomically: partial, hashed while written, fsynced, published.

    ``before_publish(result, fd)`` runs once everything is written and may raise to discard the
    partial file (a wrong size or checksum, a failed sender) or adjust the file through ``fd``.
    ``cipher``: the stream goes through the filter on its way: the result is of what was written,
    with the size and digest of what was read beside it (``source_size``, ``source_sha256``).
    """
    with open_partial(dest, mode) as out:
        if cipher is None:
            digest, size = pump(reader, lambda chunk: write_all(out.fileno(), chunk), progress=progress, cancel=cancel)
        else:
            filt = cipher.spawn(subprocess.PIPE)
            assert filt.stdin is not None and filt.stdout is not None
            feeder = feed(reader, filt.stdin)
            try:
                digest, size = pump(filt.stdout, lambda chunk: write_all(out.fileno(), chunk), progress=progress,
                                    cancel=cancel)
            except BaseException:
                feeder.stop.set()
                stop_processes([filt])
                raise
            finally:
                feeder.join()
                close_std([filt])
            cipher.finish(filt)
            if feeder.error is not None:
                raise ArchiveError(f"{dest}: the source could not be read: {feeder.error}")
        result = (CopyResult(size, digest) if cipher is None
                  else CopyResult(size, digest, feeder.size, feeder.hasher.hexdigest()))
        if before_publish is not None:
            before_publish(result, out.fileno())
    return result


def _copy_with_hash(source: str, dest: str, expected_sha256: Optional[str], progress: Optional[ProgressFn],
                    cancel: Optional[threading.Event], cipher: Optional[Cipher] = None,
                    keep_owner: bool = True) -> ArchiveResult:
    """Copy, ``expected_sha256`` being of the source as read (the set's file): with a decrypting
    ``cipher`` that is the ciphertext's digest, which ``receive`` computes beside the plaintext's.
    ``keep_owner`` False (a restore): the copy keeps this user as owner and no setuid/setgid bit,
    whoever owns the set's file (the manifest's owner and mode are applied afterwards)."""
    started = time.monotonic()
    try:
        with open_source(source) as src:
            info = os.fstat(src.fileno())

            def finish(result: CopyResult, fd: int) -> None:
                digest = result.source_sha256 if result.source_sha256 is not None else result.sha256
                if expected_sha256 is not None and digest != expected_sha256.lower():
                    raise ArchiveError(f"sha256 mismatch for {source}: expected {expected_sha256}, got {digest}")
                if os.geteuid() == 0 and keep_owner:
                    try:
                        os.fchown(fd, info.st_uid, info.st_gid)
                    except OSError:
                        pass
                os.fchmod(fd, info.st_mode & (0o7777 if keep_owner else 0o0777))
                os.utime(fd, ns=(info.st_atime_ns, info.st_mtime_ns))

            copied = receive(src, dest, before_publish=finish, progress=progress, cancel=cancel, cipher=cipher)
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFullError(dest, str(exc)) from exc
        raise ArchiveError(f"copy {source} -> {dest} failed: {exc}") from exc
    return ArchiveResult(dest, copied.sha256, copied.size, 1, source, [], round(time.monotonic() - started, 3),
                         copied.size)


def copy_file(source: str, dest: str, *, progress: Optional[ProgressFn] = None,
              cancel: Optional[threading.Event] = None, cipher: Optional[Cipher] = None) -> ArchiveResult:
    """Copy one file with in-stream SHA-256, keeping mode, mtime (and owner when root); atomic publish
    (``cipher``: encrypted on its way; the digest is of the encrypted file)."""
    return _copy_with_hash(source, dest, None, progress, cancel, cipher)


def copy_back_file(source: str, dest: str, *, expected_sha256: Optional[str] = None,
                   progress: Optional[ProgressFn] = None, cancel: Optional[threading.Event] = None,
                   cipher: Optional[Cipher] = None) -> ArchiveResult:
    """Restore a copied file: like copy_file, but refuses to publish if the hash differs (``cipher``:
    decrypted on its way; the set's file, as read, must match ``expected_sha256``), and never takes the
    owner or a setuid/setgid bit from the set's file (whoever can write the share owns that)."""
    return _copy_with_hash(source, dest, expected_sha256, progress, cancel, cipher, keep_owner=False)
