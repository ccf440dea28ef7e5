"""What every part of the archive engine shares: errors, results, progress throttling, cancel.

Counting: ``files`` is the number of tar *entries* (regular files, directories, symlinks,
hardlinks, the root ``./`` entry included), i.e. what ``tar -tf`` lists. Progress callbacks
receive ``(files_done, bytes_done)`` at most ~4 times a second, in the caller's thread.
"""
from __future__ import annotations

import dataclasses
import errno
import threading
import time
from typing import Callable, FrozenSet, List, Optional

CHUNK = 1 << 20
# Extended attributes of every namespace (user, trusted, security: SELinux labels included),
# POSIX ACLs and SELinux contexts, the same options when archiving and extracting; GNU tar
# stores them as pax records. RHEL labels the WAS and Connections trees.
ATTRIBUTE_ARGS = ("--xattrs", "--xattrs-include=*", "--acls", "--selinux")


PROGRESS_INTERVAL = 0.25


_DISK_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}

ProgressFn = Callable[[int, int], None]


def attribute_args(setting: str, as_root: bool) -> list:
    """``archive.attributes``: ``on``, ``off``, or ``auto`` (on when the run is root, who alone can
    read and set them all)."""
    return list(ATTRIBUTE_ARGS) if setting == "on" or (setting == "auto" and as_root) else []


class ArchiveError(Exception):
    """An archive could not be created, read or extracted."""


class DiskFullError(ArchiveError):
    """The destination ran out of space (ENOSPC/EDQUOT/EFBIG); the partial file was removed."""

    def __init__(self, path: str, detail: str = "") -> None:
        self.path = path
        super().__init__(f"no space left writing {path}" + (f": {detail}" if detail else ""))


class UnsafeArchiveError(ArchiveError):
    """A member would be written outside the extraction directory."""

    def __init__(self, entry: str, reason: str) -> None:
        self.entry = entry
        self.reason = reason
        super().__init__(f"unsafe archive member {entry!r}: {reason}")


class ArchiveCancelled(Exception):
    """The operation was cancelled through its ``cancel`` event (not an ArchiveError)."""


@dataclasses.dataclass
class ArchiveResult:
    path: str
    sha256: str
    size: int  # compressed bytes written
    files: int  # tar entries (files + dirs + links); 1 for copy_file
    source: str
    warnings: List[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    tar_bytes: int = 0  # uncompressed tar stream size ("Total bytes written"), 0 if unknown
    command: str = ""  # what ran, as a shell line (for the log)


@dataclasses.dataclass
class ListResult:
    files: int
    sha256: str
    size: int
    # the symlinks the archive leaves in the tree (a level 1 extracted over it must not go through them)
    symlinks: FrozenSet[str] = frozenset()


class Throttle:
    """Calls ``progress`` at most every PROGRESS_INTERVAL seconds (plus a forced final call)."""

    def __init__(self, progress: Optional[ProgressFn]) -> None:
        self.progress = progress
        self.last = 0.0

    def __call__(self, files: int, nbytes: int, force: bool = False) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if force or now - self.last >= PROGRESS_INTERVAL:
            self.last = now
            self.progress(files, nbytes)


def check_cancel(cancel: Optional[threading.Event]) -> None:
    if cancel is not None and cancel.is_set():
        raise ArchiveCancelled("cancelled")


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS
