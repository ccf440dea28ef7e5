"""Child-process plumbing for tar and zstd, and the parser of ``tar -v`` stderr.

Each child runs in its own session, so a Ctrl-C on the terminal does not reach it; the
driver stops whole process groups itself (SIGTERM, then SIGKILL after a grace period).
"""
from __future__ import annotations

import collections
import fcntl
import hashlib
import os
import re
import signal
import subprocess
import threading
import time
from typing import IO, Deque, Dict, List, Optional, Sequence, Union

from .common import CHUNK, ArchiveError

TAR_RECORD = 10240  # GNU tar default record size (blocking factor 20)


RC_MARKER = b"CNXTAR_RC="


MAX_WARNINGS = 200
# tar's complaint that a filesystem does not support extended attributes, ACLs or SELinux
# contexts (ENOTSUP/EOPNOTSUPP, as on NFS): the source has none of them to keep
UNSUPPORTED_ATTRIBUTES = re.compile(r"(?i)(xattr|acl|selinux|context|filecon).*(Operation not supported|Not supported)")


def grow_pipe(fd: int) -> None:
    """Best effort: 1 MiB pipe buffers so reads come in big chunks (Linux only)."""
    setsz = getattr(fcntl, "F_SETPIPE_SZ", 1031)
    try:
        fcntl.fcntl(fd, setsz, CHUNK)
    except OSError:
        pass


def c_locale_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["LC_ALL"] = "C"
    return env


def signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Signal the child's whole process group (each child runs in its own session)."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass


def stop_processes(procs: Sequence[subprocess.Popen]) -> None:
    """SIGTERM every still-running child's group, SIGKILL after a grace period; reap them."""
    for proc in procs:
        if proc.poll() is None:
            signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + 5.0
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            signal_group(proc, signal.SIGKILL)
            proc.wait()


class Feeder(threading.Thread):
    """Reads a source once, hashing and counting it, into a child's stdin (a thread: the caller
    reads the child's output meanwhile). Every read is hashed even after the child stopped taking
    input; ``error`` holds a failed read for the caller to report."""

    def __init__(self, source: IO[bytes], sink: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self.source, self.sink = source, sink
        self.readinto = source.readinto  # type: ignore[attr-defined]  # files, pipes and BytesIO have it
        self.hasher = hashlib.sha256()
        self.size = 0
        self.error: Optional[BaseException] = None
        self.stop = threading.Event()

    def run(self) -> None:
        buf = memoryview(bytearray(CHUNK))
        feeding = True
        try:
            while not self.stop.is_set():
                count = self.readinto(buf)
                if not count:
                    break
                chunk = buf[:count]
                self.hasher.update(chunk)
                self.size += count
                if feeding:
                    try:
                        self.sink.write(chunk)
                    except (BrokenPipeError, ValueError):
                        feeding = False  # the child died or was stopped; its status tells why
        except BaseException as error:  # reported by the caller
            self.error = error
        finally:
            try:
                self.sink.close()
            except (BrokenPipeError, OSError, ValueError):
                pass


def feed(source: IO[bytes], sink: IO[bytes]) -> Feeder:
    """A started :class:`Feeder`."""
    feeder = Feeder(source, sink)
    feeder.start()
    return feeder


def close_std(procs: Sequence[subprocess.Popen]) -> None:
    for proc in procs:
        for stream in (proc.stdin, proc.stdout, proc.stderr, getattr(proc, "cnx_errors", None)):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass


def tail_of(fileobj: Optional[IO[bytes]], limit: int = 4000) -> str:
    if fileobj is None:
        return ""
    try:
        fileobj.seek(0, os.SEEK_END)
        size = fileobj.tell()
        fileobj.seek(max(0, size - limit))
        return fileobj.read().decode("utf-8", "replace").strip()
    except (OSError, ValueError):
        return ""


def write_all(fd: int, data: Union[bytes, memoryview]) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def rc_text(rc: Optional[int]) -> str:
    if rc is not None and rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit {rc}"


class TarStderr:
    """Incremental parser of ``tar -cvf - --totals --checkpoint=N`` stderr.

    Lines starting with ``./`` are entries; ``tar: Write checkpoint N`` is progress;
    ``Total bytes written: N`` the final size; ``CNXTAR_RC=N`` the exit status of a
    remote tar; any other ``tar:`` line is a message (kept, capped); everything
    else only feeds a short tail used in error messages.
    """

    _checkpoint = re.compile(rb"^tar: Write checkpoint (\d+)")
    _totals = re.compile(rb"^Total bytes written: (\d+)")

    def __init__(self) -> None:
        self.entries = 0
        self.checkpoint_bytes = 0
        self.total_bytes = 0
        self.tar_rc: Optional[int] = None
        self.messages: List[str] = []
        self.dropped_messages = 0
        self.tail: Deque[str] = collections.deque(maxlen=20)
        self._pending = b""

    def feed(self, chunk: bytes) -> None:
        data = self._pending + chunk
        lines = data.split(b"\n")
        self._pending = lines.pop()
        for line in lines:
            self._line(line)

    def close(self) -> None:
        if self._pending:
            self._line(self._pending)
            self._pending = b""

    @property
    def bytes_done(self) -> int:
        return max(self.checkpoint_bytes, self.total_bytes)

    def _line(self, line: bytes) -> None:
        if line.startswith(b"./"):
            self.entries += 1
            return
        if line.startswith(b"tar: "):
            match = self._checkpoint.match(line)
            if match:
                self.checkpoint_bytes = int(match.group(1)) * TAR_RECORD
                return
            text = line.decode("utf-8", "replace")
            self.tail.append(text)
            if UNSUPPORTED_ATTRIBUTES.search(text):
                return  # a filesystem without xattrs/ACLs/labels (NFS): nothing there to keep, not a warning
            if len(self.messages) < MAX_WARNINGS:
                self.messages.append(text)
            else:
                self.dropped_messages += 1
            return
        match = self._totals.match(line)
        if match:
            self.total_bytes = int(match.group(1))
            return
        if line.startswith(RC_MARKER):
            try:
                self.tar_rc = int(line[len(RC_MARKER):].strip())
            except ValueError:
                self.tail.append(line.decode("utf-8", "replace"))
            return
        if line.strip():
            self.tail.append(line.decode("utf-8", "replace"))

    def tail_text(self) -> str:
        return "\n".join(self.tail)

    def warning_list(self) -> List[str]:
        out = list(self.messages)
        if self.dropped_messages:
            out.append(f"... {self.dropped_messages} more tar messages not kept")
        return out


# what GNU tar says of a file that changed, shrank or went away while it read it (exit 1)
CHANGED_WHILE_READ = re.compile(r"file changed as we read it|File removed before we read it|File shrank by|"
                                r"some files changed while being archived")


def changed_while_read(warnings: Sequence[str]) -> List[str]:
    """The warnings that only say a file changed while tar read it: expected of an archive taken
    while the servers run, when a later level takes those files again."""
    return [w for w in warnings if CHANGED_WHILE_READ.search(w)]


def judge_tar(rc: Optional[int], parser: TarStderr, what: str) -> List[str]:
    """GNU tar: 0 ok, 1 'some files differ' (warning), anything else fatal."""
    warnings = parser.warning_list()
    if rc == 0:
        return warnings
    if rc == 1:
        return [f"tar exit 1 for {what}: some files changed while being archived"] + warnings
    raise ArchiveError(f"tar failed for {what} ({rc_text(rc)}):\n{parser.tail_text()}")
