"""One run per environment and target: a kernel lock held on one descriptor for the whole run.

``<target>/.cnxbackup-<env>.lock`` is locked with ``flock`` (an open-file-description lock:
closing any other descriptor of the file does not drop it, unlike POSIX ``lockf`` record
locks). The kernel releases it when the holder dies, so there is no stale lock to take over
and no race between two takers. The file is never unlinked (unlinking would let a second
run lock a new file while the first holds the old one); the holder's description (pid,
host, user, run, time) is written through the locked descriptor and is read by others only
for their message. On NFS, ``flock`` is mapped to NFS locks (lockd on NFSv3): a ``nolock``
mount locks only on one client, and a crashed NFSv3 client's locks stay until lockd
recovers them -- the message then names the holder's host.
"""
from __future__ import annotations

import errno
import fcntl
import getpass
import json
import os
import socket
import stat
import time
from typing import Any, Dict, Optional

from .errors import LockHeld

MAX_HOLDER_BYTES = 4096


def describe_holder(raw: bytes) -> Optional[Dict[str, Any]]:
    """The holder's description from the lock file's bytes; None when it is not one cnxbackup wrote."""
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=lambda name: None)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    pid = data.get("pid")
    if isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid < 1 << 31:
        return None
    text = {key: data.get(key) for key in ("host", "user", "run_id", "started")}
    if not all(value is None or isinstance(value, str) for value in text.values()):
        return None
    return {"pid": pid, **{key: (value or "?")[:200] for key, value in text.items()}}


class RunLock:
    """``<target>/.cnxbackup-<env>.lock``, held with ``flock`` while ``acquire`` ... ``release``."""

    def __init__(self, target_dir: str, env_name: str, run_id: str) -> None:
        self.path = os.path.join(target_dir, f".cnxbackup-{env_name}.lock")
        self.run_id = run_id
        self.fd: Optional[int] = None

    @property
    def held(self) -> bool:
        return self.fd is not None

    def _open(self) -> int:
        """The lock file, opened read-write and checked on the descriptor before anything is written:
        the target may be a share others can write, so a symlink (``O_NOFOLLOW``), a FIFO
        (``O_NONBLOCK``: the open cannot block), a hard link to another file (``st_nlink``) or a
        file of another user planted at the name is refused, never locked, written or truncated."""
        try:  # a restore onto a fresh machine may come before any backup made the target folder
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
                         | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
                raise LockHeld(f"cannot create lock {self.path}: {error.strerror}; a link, a FIFO or a file of "
                               "another user is there; remove it") from None
            raise LockHeld(f"cannot create lock {self.path}: {error.strerror}") from None
        try:
            info = os.fstat(fd)
        except OSError as error:
            os.close(fd)
            raise LockHeld(f"cannot create lock {self.path}: {error.strerror}") from None
        why = None
        if not stat.S_ISREG(info.st_mode):
            why = "not a regular file"
        elif info.st_uid != os.geteuid():
            why = f"owned by uid {info.st_uid}, not {os.geteuid()}"
        elif info.st_nlink != 1:
            why = f"{info.st_nlink} hard links to it"
        if why is not None:
            os.close(fd)
            raise LockHeld(f"refused lock {self.path}: {why}; a link, a FIFO or a file of another user is there; "
                           "remove it")
        return fd

    def _holder_text(self, fd: int) -> str:
        try:
            raw = os.pread(fd, MAX_HOLDER_BYTES, 0)
        except OSError:
            raw = b""
        holder = describe_holder(raw)
        if holder is None:
            return "a run whose lock file holds no description cnxbackup wrote"
        return (f"pid {holder['pid']} on {holder['host']} (user {holder['user']}, run {holder['run_id']}, "
                f"since {holder['started']})")

    def _lock(self, fd: int, shared: bool = False) -> bool:
        """True when locked; False when another run holds it; LockHeld when the filesystem cannot lock."""
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            return True
        except OSError as error:
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return False
            if error.errno in (errno.ENOLCK, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)):
                raise LockHeld(f"cannot lock {self.path}: the filesystem does not support locks ({error.strerror}); "
                               "on NFS check that the target is not mounted with nolock and that lockd runs") from None
            raise LockHeld(f"cannot lock {self.path}: {error.strerror}") from None

    def acquire(self) -> None:
        fd = self._open()
        try:
            if not self._lock(fd):
                raise LockHeld(f"another cnxbackup run holds {self.path}: {self._holder_text(fd)}; it ends when that "
                               "run ends (the kernel releases the lock when its process dies)")
            info = {"pid": os.getpid(), "host": socket.gethostname(), "user": getpass.getuser(),
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "run_id": self.run_id}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.ftruncate(self.fd, 0)  # no description of a run that has ended; the file itself stays
        except OSError:
            pass
        os.close(self.fd)  # closing the only descriptor releases the flock
        self.fd = None

    def holder(self) -> Optional[str]:
        """Who holds the lock now (for preflight's message), or None when nobody does."""
        if not os.path.exists(self.path):
            return None
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None  # a FIFO or device planted there: not a lock (acquire refuses it, naming why)
            if self._lock(fd, shared=True):
                return None
            return self._holder_text(fd)
        except LockHeld:
            return None
        finally:
            os.close(fd)

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
