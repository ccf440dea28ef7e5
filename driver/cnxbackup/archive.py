"""Streaming ``tar | zstd`` archives with in-stream SHA-256, counts and atomic publish.

Creation runs GNU tar and the zstd binary as two processes joined by a pipe (no
shell, so any path is safe). Python reads zstd's output in 1 MiB chunks, hashes
it and writes ``DEST.partial``; on success the file is fsynced, renamed to DEST
and the directory fsynced (see :mod:`cnxbackup.atomic`). Nothing is read twice
and memory stays constant whatever the tree size: tar's verbose listing is
counted line by line, never stored.

Counting: ``files`` is the number of tar *entries* (regular files, directories,
symlinks, hardlinks, the root ``./`` entry included), i.e. what ``tar -tf`` lists.

Progress callbacks receive ``(files_done, bytes_done)`` at most ~4 times a second,
in the caller's thread. For creation ``bytes_done`` is uncompressed tar bytes
(from ``--checkpoint``); for extraction and listing it is compressed bytes read.

The optional ``zstandard`` module is not used: the binaries compress in their own
threads and are as fast (measured in bench/bench_archive.py), and System z has no wheel.
"""
from __future__ import annotations

import collections
import dataclasses
import errno
import fcntl
import hashlib
import os
import re
import selectors
import shlex
import signal
import subprocess
import tarfile
import tempfile
import threading
import time
from typing import IO, Callable, Deque, Dict, List, Optional, Sequence, Tuple, Union

from .atomic import _open_new, partial_path, publish

CHUNK = 1 << 20
TAR_RECORD = 10240  # GNU tar default record size (blocking factor 20)
CHECKPOINT_RECORDS = 256  # one "Write checkpoint" line per 2.5 MiB of tar stream
PROGRESS_INTERVAL = 0.25
RC_MARKER = b"CNXTAR_RC="
MAX_WARNINGS = 200
_DISK_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}

ProgressFn = Callable[[int, int], None]


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


@dataclasses.dataclass
class ListResult:
    files: int
    sha256: str
    size: int


# --------------------------------------------------------------------------- helpers


class _Throttle:
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


def _check_cancel(cancel: Optional[threading.Event]) -> None:
    if cancel is not None and cancel.is_set():
        raise ArchiveCancelled("cancelled")


def _grow_pipe(fd: int) -> None:
    """Best effort: 1 MiB pipe buffers so reads come in big chunks (Linux only)."""
    setsz = getattr(fcntl, "F_SETPIPE_SZ", 1031)
    try:
        fcntl.fcntl(fd, setsz, CHUNK)
    except OSError:
        pass


def _c_locale_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["LC_ALL"] = "C"
    return env


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Signal the child's whole process group (each child runs in its own session)."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass


def _stop(procs: Sequence[subprocess.Popen]) -> None:
    """SIGTERM every still-running child's group, SIGKILL after a grace period; reap them."""
    for proc in procs:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + 5.0
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


def _close_std(procs: Sequence[subprocess.Popen]) -> None:
    for proc in procs:
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass


def _tail_of(fileobj: Optional[IO[bytes]], limit: int = 4000) -> str:
    if fileobj is None:
        return ""
    try:
        fileobj.seek(0, os.SEEK_END)
        size = fileobj.tell()
        fileobj.seek(max(0, size - limit))
        return fileobj.read().decode("utf-8", "replace").strip()
    except (OSError, ValueError):
        return ""


def _write_all(fd: int, data: Union[bytes, memoryview]) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS


def _rc_text(rc: Optional[int]) -> str:
    if rc is not None and rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit {rc}"


# --------------------------------------------------------------------------- stderr of tar -v


class _TarStderr:
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


# --------------------------------------------------------------------------- creation core


def _pump_to_partial(
    data_fd: int,
    stderr_fd: int,
    out_fd: int,
    parser: _TarStderr,
    progress: _Throttle,
    cancel: Optional[threading.Event],
) -> Tuple[str, int]:
    """Copy ``data_fd`` to ``out_fd`` hashing it, while parsing ``stderr_fd``. Returns (sha256, size)."""
    hasher = hashlib.sha256()
    size = 0
    buf = memoryview(bytearray(CHUNK))  # reused: no per-chunk allocation, flat RSS
    sel = selectors.DefaultSelector()
    sel.register(data_fd, selectors.EVENT_READ, "data")
    sel.register(stderr_fd, selectors.EVENT_READ, "err")
    try:
        while sel.get_map():
            _check_cancel(cancel)
            for key, _ in sel.select(timeout=PROGRESS_INTERVAL):
                if key.data == "data":
                    count = os.readv(data_fd, [buf])
                    if not count:
                        sel.unregister(data_fd)
                        continue
                    chunk = buf[:count]
                    hasher.update(chunk)
                    _write_all(out_fd, chunk)
                    size += count
                else:
                    chunk = os.read(stderr_fd, 1 << 16)
                    if not chunk:
                        sel.unregister(stderr_fd)
                        parser.close()
                        continue
                    parser.feed(chunk)
            progress(parser.entries, parser.bytes_done)
    finally:
        sel.close()
    return hasher.hexdigest(), size


def _stream_to_file(
    procs: Sequence[subprocess.Popen],
    data_fd: int,
    stderr_fd: int,
    dest: str,
    source: str,
    judge: Callable[[_TarStderr], List[str]],
    progress: Optional[ProgressFn],
    cancel: Optional[threading.Event],
) -> ArchiveResult:
    """Shared body of local and remote creation: pump, judge exit codes, publish or clean up."""
    started = time.monotonic()
    partial = partial_path(dest)
    parser = _TarStderr()
    throttle = _Throttle(progress)
    out_fd = -1
    try:
        out_fd = _open_new(partial, 0o600)
        sha256, size = _pump_to_partial(data_fd, stderr_fd, out_fd, parser, throttle, cancel)
        for proc in procs:
            proc.wait()
        warnings = judge(parser)
        os.fsync(out_fd)
        os.close(out_fd)
        out_fd = -1
        publish(partial, dest)
    except BaseException as exc:
        _stop(procs)
        if out_fd >= 0:
            try:
                os.close(out_fd)
            except OSError:
                pass
        try:
            os.unlink(partial)
        except FileNotFoundError:
            pass
        if _is_disk_full(exc):
            raise DiskFullError(dest, str(exc)) from exc
        raise
    finally:
        _close_std(procs)
    throttle(parser.entries, parser.bytes_done, force=True)
    return ArchiveResult(
        path=dest,
        sha256=sha256,
        size=size,
        files=parser.entries,
        source=source,
        warnings=warnings,
        seconds=round(time.monotonic() - started, 3),
        tar_bytes=parser.total_bytes,
    )


def _judge_tar(rc: Optional[int], parser: _TarStderr, what: str) -> List[str]:
    """GNU tar: 0 ok, 1 'some files differ' (warning), anything else fatal."""
    warnings = parser.warning_list()
    if rc == 0:
        return warnings
    if rc == 1:
        return [f"tar exit 1 for {what}: some files changed while being archived"] + warnings
    raise ArchiveError(f"tar failed for {what} ({_rc_text(rc)}):\n{parser.tail_text()}")


def tar_create_args(
    excludes: Sequence[str] = (), extra_tar_args: Sequence[str] = (), tar_cmd: str = "tar"
) -> List[str]:
    """argv of the tar half (without ``-C``): GNU format, verbose to stderr, totals, checkpoints."""
    argv = [tar_cmd, "--format=gnu", "-cvf", "-", "--totals", f"--checkpoint={CHECKPOINT_RECORDS}"]
    argv += [f"--exclude={pattern}" for pattern in excludes]
    argv += list(extra_tar_args)
    return argv


def zstd_compress_args(level: int = 3, threads: int = 0, zstd_cmd: str = "zstd") -> List[str]:
    return [zstd_cmd, f"-T{int(threads)}", f"-{int(level)}", "-q", "-c"]


def create_archive(
    source: str,
    dest: str,
    *,
    level: int = 3,
    threads: int = 0,
    excludes: Sequence[str] = (),
    extra_tar_args: Sequence[str] = (),
    progress: Optional[ProgressFn] = None,
    cancel: Optional[threading.Event] = None,
    tar_cmd: str = "tar",
    zstd_cmd: str = "zstd",
) -> ArchiveResult:
    """Archive the directory ``source`` into ``dest`` (.tar.zst) and publish it atomically.

    ``excludes`` are GNU tar ``--exclude`` patterns (members are named ``./rel/path``).
    tar exit 1 becomes a warning in the result; exit >= 2, a signal or a zstd
    failure raise ArchiveError; ENOSPC raises DiskFullError; ``cancel`` raises
    ArchiveCancelled. No ``.partial`` is left behind on any failure.
    """
    if not os.path.isdir(source):
        raise ArchiveError(f"source directory not found: {source}")
    tar_argv = tar_create_args(excludes, extra_tar_args, tar_cmd)
    tar_argv[1:1] = ["-C", source]
    tar_argv.append(".")
    pipe_r, pipe_w = os.pipe()
    _grow_pipe(pipe_w)
    procs: List[subprocess.Popen] = []
    zstd_err = tempfile.TemporaryFile()
    try:
        try:
            tar = subprocess.Popen(
                tar_argv, stdin=subprocess.DEVNULL, stdout=pipe_w, stderr=subprocess.PIPE,
                env=_c_locale_env(), start_new_session=True,
            )
            procs.append(tar)
            zstd = subprocess.Popen(
                zstd_compress_args(level, threads, zstd_cmd), stdin=pipe_r, stdout=subprocess.PIPE,
                stderr=zstd_err, start_new_session=True,
            )
            procs.append(zstd)
        except OSError as exc:
            _stop(procs)
            _close_std(procs)
            raise ArchiveError(f"cannot start archiver: {exc}") from exc
        finally:
            os.close(pipe_r)
            os.close(pipe_w)
        assert tar.stderr is not None and zstd.stdout is not None
        _grow_pipe(zstd.stdout.fileno())

        def judge(parser: _TarStderr) -> List[str]:
            if zstd.returncode != 0:
                raise ArchiveError(
                    f"zstd failed for {source} ({_rc_text(zstd.returncode)}): {_tail_of(zstd_err)}\n"
                    f"{parser.tail_text()}"
                )
            return _judge_tar(tar.returncode, parser, source)

        return _stream_to_file(
            procs, zstd.stdout.fileno(), tar.stderr.fileno(), dest, source, judge, progress, cancel
        )
    finally:
        zstd_err.close()


def create_archive_from_stream(
    producer_argv: Sequence[str],
    dest: str,
    *,
    source: str = "",
    progress: Optional[ProgressFn] = None,
    cancel: Optional[threading.Event] = None,
    require_tar_rc: bool = True,
) -> ArchiveResult:
    """Store the compressed tar stream written to stdout by ``producer_argv``.

    The producer's stderr must carry the ``tar -v`` listing/checkpoints and, when
    ``require_tar_rc``, a ``CNXTAR_RC=<n>`` line (see :func:`remote_archive_command`),
    because inside a remote pipeline tar's exit status is otherwise lost.
    A non-zero exit of the producer itself (ssh, cd, zstd) is an ArchiveError.
    """
    label = source or " ".join(producer_argv)
    try:
        producer = subprocess.Popen(
            list(producer_argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True,
        )
    except OSError as exc:
        raise ArchiveError(f"cannot start {producer_argv[0]!r}: {exc}") from exc
    assert producer.stdout is not None and producer.stderr is not None
    _grow_pipe(producer.stdout.fileno())

    def judge(parser: _TarStderr) -> List[str]:
        if producer.returncode != 0:
            raise ArchiveError(
                f"archive producer failed for {label} ({_rc_text(producer.returncode)}):\n{parser.tail_text()}"
            )
        if parser.tar_rc is None:
            if require_tar_rc:
                raise ArchiveError(f"producer did not report tar's exit status for {label}:\n{parser.tail_text()}")
            return parser.warning_list()
        return _judge_tar(parser.tar_rc, parser, label)

    return _stream_to_file(
        [producer], producer.stdout.fileno(), producer.stderr.fileno(), dest, label, judge, progress, cancel
    )


def remote_archive_command(
    source: str,
    level: int = 3,
    threads: int = 0,
    excludes: Sequence[str] = (),
    extra_tar_args: Sequence[str] = (),
    tar_cmd: str = "tar",
    zstd_cmd: str = "zstd",
) -> str:
    """POSIX sh command for the remote side: tar | zstd, with tar's exit status echoed to stderr.

    Example: ``cd -- '/opt/IBM' && { tar ... . ; echo "CNXTAR_RC=$?" >&2; } | zstd -T0 -3 -q -c``.
    Pass it as the single command argument of ``ssh host CMD``.
    """
    tar_part = " ".join(shlex.quote(arg) for arg in tar_create_args(excludes, extra_tar_args, tar_cmd))
    zstd_part = " ".join(shlex.quote(arg) for arg in zstd_compress_args(level, threads, zstd_cmd))
    return (
        f"LC_ALL=C; export LC_ALL; cd -- {shlex.quote(source)} && "
        f'{{ {tar_part} . ; echo "CNXTAR_RC=$?" >&2; }} | {zstd_part}'
    )


# --------------------------------------------------------------------------- single files


def hash_file(path: str, progress: Optional[ProgressFn] = None) -> Tuple[str, int]:
    """(sha256 hex, size) of a file, read in 1 MiB chunks."""
    hasher = hashlib.sha256()
    size = 0
    throttle = _Throttle(progress)
    buf = memoryview(bytearray(CHUNK))
    with open(path, "rb", buffering=0) as src:
        while True:
            count = src.readinto(buf)
            if not count:
                break
            hasher.update(buf[:count])
            size += count
            throttle(0, size)
    throttle(1, size, force=True)
    return hasher.hexdigest(), size


def _copy_with_hash(
    source: str,
    dest: str,
    expected_sha256: Optional[str],
    progress: Optional[ProgressFn],
    cancel: Optional[threading.Event],
) -> ArchiveResult:
    started = time.monotonic()
    partial = partial_path(dest)
    throttle = _Throttle(progress)
    hasher = hashlib.sha256()
    size = 0
    out_fd = -1
    try:
        with open(source, "rb", buffering=0) as src:
            st = os.fstat(src.fileno())
            out_fd = _open_new(partial, 0o600)
            buf = memoryview(bytearray(CHUNK))
            while True:
                _check_cancel(cancel)
                count = src.readinto(buf)
                if not count:
                    break
                chunk = buf[:count]
                hasher.update(chunk)
                _write_all(out_fd, chunk)
                size += count
                throttle(0, size)
        digest = hasher.hexdigest()
        if expected_sha256 is not None and digest != expected_sha256.lower():
            raise ArchiveError(f"sha256 mismatch for {source}: expected {expected_sha256}, got {digest}")
        if os.geteuid() == 0:
            try:
                os.fchown(out_fd, st.st_uid, st.st_gid)
            except OSError:
                pass
        os.fchmod(out_fd, st.st_mode & 0o7777)
        os.utime(out_fd, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.fsync(out_fd)
        os.close(out_fd)
        out_fd = -1
        publish(partial, dest)
    except BaseException as exc:
        if out_fd >= 0:
            os.close(out_fd)
        try:
            os.unlink(partial)
        except FileNotFoundError:
            pass
        if _is_disk_full(exc):
            raise DiskFullError(dest, str(exc)) from exc
        if isinstance(exc, OSError):
            raise ArchiveError(f"copy {source} -> {dest} failed: {exc}") from exc
        raise
    throttle(1, size, force=True)
    return ArchiveResult(dest, digest, size, 1, source, [], round(time.monotonic() - started, 3), size)


def copy_file(
    source: str,
    dest: str,
    *,
    progress: Optional[ProgressFn] = None,
    cancel: Optional[threading.Event] = None,
) -> ArchiveResult:
    """Copy one file with in-stream SHA-256, keeping mode, mtime (and owner when root); atomic publish."""
    return _copy_with_hash(source, dest, None, progress, cancel)


def copy_back_file(
    source: str,
    dest: str,
    *,
    expected_sha256: Optional[str] = None,
    progress: Optional[ProgressFn] = None,
    cancel: Optional[threading.Event] = None,
) -> ArchiveResult:
    """Restore a copied file: like copy_file, but refuses to publish if the hash differs."""
    return _copy_with_hash(source, dest, expected_sha256, progress, cancel)


# --------------------------------------------------------------------------- reading archives


class _LineCounter(threading.Thread):
    """Counts newline-terminated lines of a pipe (tar -t / tar -xv listing) in constant memory."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.lines = 0

    def run(self) -> None:
        read = self.stream.read
        while True:
            chunk = read(1 << 16)
            if not chunk:
                return
            self.lines += chunk.count(b"\n")


def _feed_decompressor(
    path: str,
    tar_argv: Sequence[str],
    progress: Optional[ProgressFn],
    cancel: Optional[threading.Event],
    expected_sha256: Optional[str],
    what: str,
) -> Tuple[int, str, int]:
    """Read ``path`` once: hash it and feed it into ``zstd -dc | TAR_ARGV``; count listing lines.

    Returns (entries, sha256, size). Corruption, truncation or a hash mismatch raise ArchiveError.
    """
    zstd_err = tempfile.TemporaryFile()
    tar_err = tempfile.TemporaryFile()
    procs: List[subprocess.Popen] = []
    pipe_r, pipe_w = os.pipe()
    _grow_pipe(pipe_w)
    try:
        try:
            zstd = subprocess.Popen(
                ["zstd", "-dc", "-q"], stdin=subprocess.PIPE, stdout=pipe_w, stderr=zstd_err,
                start_new_session=True,
            )
            procs.append(zstd)
            tar = subprocess.Popen(
                list(tar_argv), stdin=pipe_r, stdout=subprocess.PIPE, stderr=tar_err,
                env=_c_locale_env(), start_new_session=True,
            )
            procs.append(tar)
        except OSError as exc:
            _stop(procs)
            raise ArchiveError(f"cannot start zstd/tar: {exc}") from exc
        finally:
            os.close(pipe_r)
            os.close(pipe_w)
        assert zstd.stdin is not None and tar.stdout is not None
        counter = _LineCounter(tar.stdout)
        counter.start()
        hasher = hashlib.sha256()
        size = 0
        throttle = _Throttle(progress)
        feeding = True
        buf = memoryview(bytearray(CHUNK))
        try:
            with open(path, "rb", buffering=0) as src:
                while True:
                    _check_cancel(cancel)
                    count = src.readinto(buf)
                    if not count:
                        break
                    chunk = buf[:count]
                    hasher.update(chunk)
                    size += count
                    if feeding:
                        try:
                            zstd.stdin.write(chunk)
                        except BrokenPipeError:
                            feeding = False  # zstd died; keep hashing, report below
                    throttle(counter.lines, size)
            try:
                zstd.stdin.close()
            except BrokenPipeError:
                pass
            for proc in procs:
                proc.wait()
            counter.join()
        except BaseException:
            _stop(procs)
            counter.join(timeout=5)
            raise
        digest = hasher.hexdigest()
        if zstd.returncode != 0:
            raise ArchiveError(
                f"{what}: {path} is corrupt or truncated (zstd {_rc_text(zstd.returncode)}): {_tail_of(zstd_err)}"
            )
        if tar.returncode != 0:
            raise ArchiveError(f"{what}: tar rejected {path} ({_rc_text(tar.returncode)}): {_tail_of(tar_err)}")
        if expected_sha256 is not None and digest != expected_sha256.lower():
            raise ArchiveError(f"{what}: sha256 mismatch for {path}: expected {expected_sha256}, got {digest}")
        throttle(counter.lines, size, force=True)
        return counter.lines, digest, size
    finally:
        _close_std(procs)
        zstd_err.close()
        tar_err.close()


def list_archive(
    path: str,
    expected_sha256: Optional[str] = None,
    *,
    progress: Optional[ProgressFn] = None,
    cancel: Optional[threading.Event] = None,
) -> ListResult:
    """Verify an archive in ONE read: sha256 + size of the file and its entry count via ``tar -tf``."""
    files, digest, size = _feed_decompressor(path, ["tar", "-tf", "-"], progress, cancel, expected_sha256, "verify")
    return ListResult(files=files, sha256=digest, size=size)


def _parts(name: str) -> List[str]:
    return [part for part in name.split("/") if part not in ("", ".")]


def _check_path(entry: str, name: str, symlinks: set, what: str) -> str:
    """Normalise a member/link name; reject absolute, '..' and paths through a symlink entry."""
    if name.startswith("/"):
        raise UnsafeArchiveError(entry, f"{what} is an absolute path")
    parts = _parts(name)
    if ".." in parts:
        raise UnsafeArchiveError(entry, f"{what} contains '..'")
    for depth in range(1, len(parts)):
        if "/".join(parts[:depth]) in symlinks:
            raise UnsafeArchiveError(entry, f"{what} goes through symlink {'/'.join(parts[:depth])!r}")
    return "/".join(parts)


def validate_members(path: str, *, cancel: Optional[threading.Event] = None) -> None:
    """Raise UnsafeArchiveError if any member could land outside the extraction directory.

    Rejected: absolute names, '..' components, hardlinks whose target is absolute or
    contains '..', entries (or hardlink targets) whose parent is a symlink member,
    entries that replace a symlink member, and device nodes. Symlinks themselves may
    point anywhere (WAS trees contain absolute symlinks). Memory: one set of symlink names.
    """
    proc = subprocess.Popen(
        ["zstd", "-dc", "-q", "--", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        bufsize=CHUNK, start_new_session=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    symlinks: set = set()
    try:
        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as archive:
                while True:
                    _check_cancel(cancel)
                    member = archive.next()
                    if member is None:
                        break
                    archive.members = []  # tarfile keeps every TarInfo otherwise
                    name = member.name
                    norm = _check_path(name, name, symlinks, "name")
                    if member.islnk():
                        target = _check_path(name, member.linkname, symlinks, "hardlink target")
                        if target in symlinks:  # a hardlink to a symlink is a symlink too
                            symlinks.add(norm)
                    if member.ischr() or member.isblk():
                        raise UnsafeArchiveError(name, "device node")
                    if norm in symlinks and not member.issym():
                        raise UnsafeArchiveError(name, "replaces a symlink member")
                    if member.issym():
                        symlinks.add(norm)
        except tarfile.TarError as exc:
            raise ArchiveError(f"cannot read {path}: {exc}") from exc
        proc.stdout.read()
        proc.wait()
        if proc.returncode != 0:
            raise ArchiveError(f"{path} is corrupt or truncated: {proc.stderr.read().decode('utf-8', 'replace')}")
    except BaseException:
        _stop([proc])
        raise
    finally:
        _close_std([proc])


def extract_archive(
    path: str,
    dest_dir: str,
    *,
    progress: Optional[ProgressFn] = None,
    cancel: Optional[threading.Event] = None,
    same_owner: bool = os.geteuid() == 0,
    numeric_owner: bool = False,
    extra_tar_args: Sequence[str] = (),
    expected_sha256: Optional[str] = None,
) -> int:
    """Validate, then extract ``path`` into the EXISTING, EMPTY staging dir ``dest_dir``.

    Keeps permissions (-p), owners when ``same_owner`` (default: running as root),
    symlinks and hardlinks. Returns the number of entries. On any error the staging
    dir may hold a partial tree: the caller must discard it, never publish it.
    """
    if not os.path.isdir(dest_dir):
        raise ArchiveError(f"staging directory does not exist: {dest_dir}")
    if os.listdir(dest_dir):
        raise ArchiveError(f"staging directory is not empty: {dest_dir}")
    validate_members(path, cancel=cancel)
    tar_argv = ["tar", "-xpvf", "-", "-C", dest_dir]
    tar_argv.append("--same-owner" if same_owner else "--no-same-owner")
    if numeric_owner:
        tar_argv.append("--numeric-owner")
    tar_argv += list(extra_tar_args)
    files, _, _ = _feed_decompressor(path, tar_argv, progress, cancel, expected_sha256, "extract")
    return files
