"""Creating archives: ``tar | zstd`` here or on another host, hashed while it is written.

Creation runs GNU tar and the zstd binary as two processes joined by a pipe (no shell, so
any path is safe). Python reads zstd's output in 1 MiB chunks, hashes it and writes
``DEST.partial``; on success the file is fsynced, renamed to DEST and the directory fsynced
(:mod:`cnxbackup.atomic`). Nothing is read twice and memory stays constant whatever the tree
size: tar's verbose listing is counted line by line, never stored. For creation
``bytes_done`` is uncompressed tar bytes (from ``--checkpoint``).

The optional ``zstandard`` module is not used: the binaries compress in their own threads
and are as fast (measured in bench/bench_archive.py), and System z has no wheel.
"""
from __future__ import annotations

import hashlib
import os
import selectors
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
from typing import IO, Callable, List, Optional, Sequence, Tuple

from ..atomic import open_new, partial_path, publish
from .common import (
    CHUNK,
    PROGRESS_INTERVAL,
    ArchiveError,
    ArchiveResult,
    DiskFullError,
    ProgressFn,
    Throttle,
    check_cancel,
    is_disk_full,
)
from .encryption import Cipher, EncryptionError
from .process import (
    TarStderr,
    c_locale_env,
    close_std,
    grow_pipe,
    judge_tar,
    rc_text,
    stop_processes,
    tail_of,
    write_all,
)

CHECKPOINT_RECORDS = 256  # one "Write checkpoint" line per 2.5 MiB of tar stream

def _pump_to_partial(
    data_fd: int,
    stderr_fd: int,
    out_fd: int,
    parser: TarStderr,
    progress: Throttle,
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
            check_cancel(cancel)
            for key, _ in sel.select(timeout=PROGRESS_INTERVAL):
                if key.data == "data":
                    count = os.readv(data_fd, [buf])
                    if not count:
                        sel.unregister(data_fd)
                        continue
                    chunk = buf[:count]
                    hasher.update(chunk)
                    write_all(out_fd, chunk)
                    size += count
                else:
                    text = os.read(stderr_fd, 1 << 16)
                    if not text:
                        sel.unregister(stderr_fd)
                        parser.close()
                        continue
                    parser.feed(text)
            progress(parser.entries, parser.bytes_done)
    finally:
        sel.close()
    return hasher.hexdigest(), size


def _through_cipher(cipher: Optional[Cipher], stream: IO[bytes], procs: List[subprocess.Popen]) -> Tuple[int, Optional[subprocess.Popen]]:
    """The fd the set's file is written from: ``stream`` itself, or the encrypting filter reading it
    (the parent's copy of ``stream`` is closed so that a dead filter stops the producer)."""
    if cipher is None:
        return stream.fileno(), None
    try:
        filt = cipher.spawn(stream)
    except EncryptionError:
        stop_processes(procs)
        raise
    stream.close()
    procs.append(filt)
    assert filt.stdout is not None
    grow_pipe(filt.stdout.fileno())
    return filt.stdout.fileno(), filt


def _cipher_problem(cipher: Optional[Cipher], filt: Optional[subprocess.Popen], label: str) -> None:
    if cipher is not None and filt is not None:
        problem = cipher.problem(filt)
        if problem:
            raise ArchiveError(f"{label}: {problem}")


def _stream_to_file(
    procs: Sequence[subprocess.Popen],
    data_fd: int,
    stderr_fd: int,
    dest: str,
    source: str,
    judge: Callable[[TarStderr], List[str]],
    progress: Optional[ProgressFn],
    cancel: Optional[threading.Event],
) -> ArchiveResult:
    """Shared body of local and remote creation: pump, judge exit codes, publish or clean up."""
    started = time.monotonic()
    partial = partial_path(dest)
    parser = TarStderr()
    throttle = Throttle(progress)
    out_fd = -1
    created = False  # a name open_new refused is someone else's: never removed here
    try:
        out_fd = open_new(partial, 0o600)
        created = True
        sha256, size = _pump_to_partial(data_fd, stderr_fd, out_fd, parser, throttle, cancel)
        for proc in procs:
            proc.wait()
        warnings = judge(parser)
        os.fsync(out_fd)
        os.close(out_fd)
        out_fd = -1
        publish(partial, dest)
    except BaseException as exc:
        stop_processes(procs)
        if out_fd >= 0:
            try:
                os.close(out_fd)
            except OSError:
                pass
        try:
            if created:
                os.unlink(partial)
        except FileNotFoundError:
            pass
        if is_disk_full(exc):
            raise DiskFullError(dest, str(exc)) from exc
        raise
    finally:
        close_std(procs)
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


def tar_create_args(
    excludes: Sequence[str] = (), extra_tar_args: Sequence[str] = (), tar_cmd: str = "tar"
) -> List[str]:
    """argv of the tar half (without ``-C``): GNU format, verbose to stderr, totals, checkpoints."""
    # --sparse: holes stay holes (a 200 MB sparse file comes back as 200 MB of holes, not of zeros)
    argv = [tar_cmd, "--format=gnu", "--sparse", "-cvf", "-", "--totals", f"--checkpoint={CHECKPOINT_RECORDS}"]
    argv += [f"--exclude={pattern}" for pattern in excludes]
    argv += list(extra_tar_args)
    return argv


def incremental_args(snapshot: str) -> List[str]:
    """GNU tar's listed-incremental options for the snapshot file ``snapshot``: read (when it
    exists: a level 1) and rewritten by tar. Device numbers are not compared (an NFS remount
    changes them, and every file would look new); the notices of new and renamed folders that
    ``-v`` prints are not warnings."""
    return [f"--listed-incremental={snapshot}", "--no-check-device", "--warning=no-new-directory",
            "--warning=no-rename-directory"]


LOW_PRIORITY = ("nice", "-n", "19")
IDLE_IO = ("ionice", "-c3")


def low_priority_prefix() -> List[str]:
    """``nice -n 19 ionice -c3`` (ionice where this machine has it): for archives taken while the
    servers still serve users."""
    return list(LOW_PRIORITY) + (list(IDLE_IO) if shutil.which("ionice") else [])


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
    prefix: Sequence[str] = (),
    cipher: Optional[Cipher] = None,
) -> ArchiveResult:
    """Archive the directory ``source`` into ``dest`` (.tar.zst) and publish it atomically.

    ``cipher``: the compressed stream is encrypted on its way to the file (what is hashed is
    what lands on disk).

    ``excludes`` are GNU tar ``--exclude`` patterns (members are named ``./rel/path``);
    ``prefix`` goes before both tar and zstd (``low_priority_prefix()``).
    tar exit 1 becomes a warning in the result; exit >= 2, a signal or a zstd
    failure raise ArchiveError; ENOSPC raises DiskFullError; ``cancel`` raises
    ArchiveCancelled. No ``.partial`` is left behind on any failure.
    """
    if not os.path.isdir(source):
        raise ArchiveError(f"source directory not found: {source}")
    tar_argv = list(prefix) + tar_create_args(excludes, extra_tar_args, tar_cmd)
    tar_argv[len(prefix) + 1:len(prefix) + 1] = ["-C", source]
    tar_argv.append(".")
    zstd_argv = list(prefix) + zstd_compress_args(level, threads, zstd_cmd)
    pipe_r, pipe_w = os.pipe()
    grow_pipe(pipe_w)
    procs: List[subprocess.Popen] = []
    zstd_err = tempfile.TemporaryFile()
    try:
        try:
            tar = subprocess.Popen(
                tar_argv, stdin=subprocess.DEVNULL, stdout=pipe_w, stderr=subprocess.PIPE,
                env=c_locale_env(), start_new_session=True,
            )
            procs.append(tar)
            zstd = subprocess.Popen(
                zstd_argv, stdin=pipe_r, stdout=subprocess.PIPE,
                stderr=zstd_err, start_new_session=True,
            )
            procs.append(zstd)
        except OSError as exc:
            stop_processes(procs)
            close_std(procs)
            raise ArchiveError(f"cannot start archiver: {exc}") from exc
        finally:
            os.close(pipe_r)
            os.close(pipe_w)
        assert tar.stderr is not None and zstd.stdout is not None
        grow_pipe(zstd.stdout.fileno())
        data_fd, filt = _through_cipher(cipher, zstd.stdout, procs)

        def judge(parser: TarStderr) -> List[str]:
            if zstd.returncode != 0:
                raise ArchiveError(
                    f"zstd failed for {source} ({rc_text(zstd.returncode)}): {tail_of(zstd_err)}\n"
                    f"{parser.tail_text()}"
                )
            _cipher_problem(cipher, filt, source)
            return judge_tar(tar.returncode, parser, source)

        result = _stream_to_file(
            procs, data_fd, tar.stderr.fileno(), dest, source, judge, progress, cancel
        )
        result.command = f"{shlex.join(tar_argv)} | {shlex.join(zstd_argv)}"
        return result
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
    cipher: Optional[Cipher] = None,
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
    grow_pipe(producer.stdout.fileno())
    procs: List[subprocess.Popen] = [producer]
    data_fd, filt = _through_cipher(cipher, producer.stdout, procs)

    def judge(parser: TarStderr) -> List[str]:
        _cipher_problem(cipher, filt, label)
        if producer.returncode != 0:
            raise ArchiveError(
                f"archive producer failed for {label} ({rc_text(producer.returncode)}):\n{parser.tail_text()}"
            )
        if parser.tar_rc is None:
            if require_tar_rc:
                raise ArchiveError(f"producer did not report tar's exit status for {label}:\n{parser.tail_text()}")
            return parser.warning_list()
        return judge_tar(parser.tar_rc, parser, label)

    result = _stream_to_file(procs, data_fd, producer.stderr.fileno(), dest, label, judge, progress, cancel)
    result.command = shlex.join(producer_argv)
    return result


def remote_archive_command(
    source: str,
    level: int = 3,
    threads: int = 0,
    excludes: Sequence[str] = (),
    extra_tar_args: Sequence[str] = (),
    tar_cmd: str = "tar",
    zstd_cmd: str = "zstd",
    low_priority: bool = False,
    prelude: str = "",
) -> str:
    """POSIX sh command for the remote side: tar | zstd, with tar's exit status echoed to stderr.

    Example: ``cd -- '/opt/IBM' && { tar ... . ; echo "CNXTAR_RC=$?" >&2; } | zstd -T0 -3 -q -c``.
    Pass it as the single command argument of ``ssh host CMD``. ``low_priority``: both run under
    ``nice -n 19`` and, where the host has it, ``ionice -c3``; ``prelude``: a command that must
    succeed first (e.g. making the private folder of a snapshot).
    """
    tar_part = " ".join(shlex.quote(arg) for arg in tar_create_args(excludes, extra_tar_args, tar_cmd))
    zstd_part = " ".join(shlex.quote(arg) for arg in zstd_compress_args(level, threads, zstd_cmd))
    low = ""
    if low_priority:
        nice, idle = " ".join(LOW_PRIORITY), " ".join(IDLE_IO)
        low = f"if command -v ionice >/dev/null 2>&1; then CNXLOW='{nice} {idle}'; else CNXLOW='{nice}'; fi; "
        tar_part, zstd_part = f"$CNXLOW {tar_part}", f"$CNXLOW {zstd_part}"
    return (
        f"LC_ALL=C; export LC_ALL; {low}{prelude + ' && ' if prelude else ''}cd -- {shlex.quote(source)} && "
        f'{{ {tar_part} . ; echo "CNXTAR_RC=$?" >&2; }} | {zstd_part}'
    )
