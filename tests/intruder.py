"""An unprivileged local user for the tests that run as root (issue 26): Python code run as a uid
nobody on this machine has (``UID``), in a forked child that drops every group and both ids
before it runs, so that what it plants is planted with exactly an unprivileged user's rights.

``as_intruder(fn, *args)`` runs ``fn`` once and gives back its return value (or raises
``IntruderFailed`` with the child's traceback); ``intruder_loop(fn, *args)`` runs it again and
again in the background (a race attack) until ``.stop()``, which says how many rounds ran.
``arena()`` is a root-owned folder under /tmp that the intruder can reach (pytest's own temporary
folders are 0700 root's); ``give(path, ...)`` makes paths the intruder's, as the WebSphere user owns
its profile and data folders in production. ``within(seconds, fn, *args)`` runs root's side in a
thread and fails the test when it has not returned in time (a FIFO opened blocking hangs)."""

from __future__ import annotations

import contextlib
import grp
import mmap
import os
import pickle
import pwd
import select
import shutil
import signal
import struct
import tempfile
import threading
import time
import traceback
from typing import Any, Callable, Iterator, Optional


def unused_id(start: int = 54321) -> int:
    """The first uid from ``start`` that is neither a user's nor a group's id here."""
    uid = start
    while True:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            try:
                grp.getgrgid(uid)
            except KeyError:
                return uid
        uid += 1


UID = unused_id()


class IntruderFailed(AssertionError):
    """The intruder's code raised (the child's traceback is the message), or did not finish."""


def give(*paths: Any, uid: int = UID) -> None:
    """``lchown`` each path to the intruder (its uid and group)."""
    for path in paths:
        os.lchown(path, uid, uid)


@contextlib.contextmanager
def arena() -> Iterator[str]:
    """A fresh root-owned 0755 folder under /tmp (every parent one the intruder can traverse)."""
    path = tempfile.mkdtemp(prefix="cnx-intruder-", dir="/tmp")
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _become(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.geteuid() != uid or os.getegid() != uid or os.getgroups():
        raise RuntimeError("the intruder kept a privilege")


def _child(write_fd: int, uid: int, fn: Callable[..., Any], args: tuple) -> None:
    """In the forked child: never returns (an exception must not unwind into pytest)."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _become(uid)
        try:
            payload = pickle.dumps(("ok", fn(*args)))
            code = 0
        except BaseException:  # noqa: BLE001 - everything goes back to the parent as text
            payload = pickle.dumps(("error", traceback.format_exc()))
        view = memoryview(payload)
        while view:
            view = view[os.write(write_fd, view):]
    finally:
        os._exit(code)


def as_intruder(fn: Callable[..., Any], *args: Any, uid: int = UID, timeout: float = 10.0) -> Any:
    """``fn(*args)`` as the unprivileged ``uid`` (no groups); its return value (picklable)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(write_fd, uid, fn, args)
    os.close(write_fd)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_fd], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                raise IntruderFailed(f"the intruder's {fn.__name__} did not finish within {timeout} s")
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        os.waitpid(pid, 0)
    if not chunks:
        raise IntruderFailed(f"the intruder's {fn.__name__} died without a word")
    kind, value = pickle.loads(b"".join(chunks))
    if kind != "ok":
        raise IntruderFailed(f"the intruder's {fn.__name__} raised:\n{value}")
    return value


class IntruderLoop:
    """A background intruder running ``fn`` round after round until ``stop()``."""

    def __init__(self, pid: int, rounds: mmap.mmap) -> None:
        self.pid = pid
        self._rounds = rounds
        self.stopped: Optional[int] = None

    @property
    def rounds(self) -> int:
        return int(struct.unpack("Q", self._rounds[:8])[0])

    def stop(self) -> int:
        """Kill the loop (between or inside a round) and reap it; how many rounds completed."""
        if self.stopped is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.stopped = self.rounds
            self._rounds.close()
        return self.stopped


def _loop_child(rounds: mmap.mmap, uid: int, fn: Callable[..., Any], args: tuple) -> None:
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _become(uid)
        done = 0
        while True:
            try:
                fn(*args)
            except OSError:
                pass  # root moved something in between: the race goes on
            done += 1
            rounds[:8] = struct.pack("Q", done)
    finally:
        os._exit(1)


def intruder_loop(fn: Callable[..., Any], *args: Any, uid: int = UID) -> IntruderLoop:
    """``fn(*args)`` as ``uid`` in a loop in the background (OSError in a round is ignored)."""
    rounds = mmap.mmap(-1, 8)  # anonymous and shared with the child
    pid = os.fork()
    if pid == 0:
        _loop_child(rounds, uid, fn, args)
    return IntruderLoop(pid, rounds)


def within(seconds: float, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` in a thread; its result, its exception re-raised, or an
    AssertionError naming the call when it has not returned within ``seconds`` (a hang)."""
    box: dict = {}

    def run() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = error

    thread = threading.Thread(target=run, daemon=True, name=f"root-side {getattr(fn, '__name__', fn)}")
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise AssertionError(f"{getattr(fn, '__name__', fn)} did not return within {seconds} s: it hangs")
    if "error" in box:
        raise box["error"]
    return box.get("value")
