"""Reading archives: each read once, hashed, checked by the member gate, and (to extract) unpacked.

``read → sha256 → zstd -dc → MemberGate → tar -x``: the archive file is read a single time; its
digest is computed in the stream (compared with the manifest's at the end, before the caller
publishes anything); the gate passes a member's bytes to tar only after the member's header
passed (see :mod:`.members`). ``scan_archive`` is the same stream with nothing behind the
gate (``verify --deep``); ``list_archive`` asks GNU tar itself for the listing.

For extraction and scanning, ``bytes_done`` of the progress callback is compressed bytes read.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from typing import IO, BinaryIO, Iterable, List, Optional, Sequence, Tuple, Union

from .common import CHUNK, ArchiveError, ListResult, ProgressFn, Throttle, check_cancel
from .copy import open_source
from .encryption import Cipher, EncryptionError
from .members import MemberGate, Sink
from .process import Feeder, c_locale_env, close_std, grow_pipe, rc_text, stop_processes, tail_of, write_all

Source = Union[str, BinaryIO]


class LineCounter(threading.Thread):
    """Counts newline-terminated lines of a pipe (tar -t listing) in constant memory."""

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


def _open(source: Source) -> Tuple[BinaryIO, bool]:
    if isinstance(source, str):
        return open_source(source), True
    return source, False


def stream_archive(
    source: Source,
    consumer_argv: Optional[Sequence[str]],
    *,
    allow_special: bool,
    label: str,
    expected_sha256: Optional[str] = None,
    expected_members: Optional[int] = None,
    progress: Optional[ProgressFn] = None,
    cancel: Optional[threading.Event] = None,
    carried_symlinks: Iterable[str] = (),
    cipher: Optional[Cipher] = None,
    pass_fds: Sequence[int] = (),
) -> ListResult:
    """One read of an archive through the gate into ``consumer_argv`` (stdin), or nowhere
    (``pass_fds``: descriptors the consumer inherits, e.g. the folder tar extracts into).

    ``cipher``: the file is an OpenPGP message: it is decrypted between the read (hashed as it is
    on disk) and zstd.

    ``carried_symlinks``: those of the level extracted before this one (``ListResult.symlinks``).

    Raises ArchiveError (corrupt, truncated, digest or member count not the manifest's, the
    consumer failed) or UnsafeArchiveError (a member the gate refuses): the consumer's output
    must then be discarded by the caller.
    """
    handle, owned = _open(source)
    zstd_err = tempfile.TemporaryFile()
    consumer_err = tempfile.TemporaryFile()
    procs: List[subprocess.Popen] = []
    try:
        filt, zstd, consumer = _start_pipeline(consumer_argv, cipher, procs, zstd_err, consumer_err, pass_fds)
        feed_into = filt.stdin if filt is not None else zstd.stdin
        assert feed_into is not None and zstd.stdout is not None
        out_fd = zstd.stdout.fileno()
        grow_pipe(out_fd)
        gate = MemberGate(_consumer_sink(consumer), allow_special=allow_special, label=label,
                          carried_symlinks=carried_symlinks)
        feeder = Feeder(handle, feed_into)
        feeder.start()
        throttle = Throttle(progress)
        members = _pump(out_fd, gate, feeder, throttle, cancel, consumer, procs)
        if feeder.error is not None:
            raise ArchiveError(f"{label}: cannot read the archive: {feeder.error}")
        digest = feeder.hasher.hexdigest()
        problem = cipher.problem(filt) if cipher is not None and filt is not None else None
        if problem:
            raise ArchiveError(f"{label}: {problem}")
        if zstd.returncode != 0:
            raise ArchiveError(f"{label}: the archive is corrupt or truncated (zstd {rc_text(zstd.returncode)}): "
                               f"{tail_of(zstd_err)}")
        if expected_sha256 is not None and digest != expected_sha256.lower():
            raise ArchiveError(f"{label}: SHA-256 {digest} differs from the manifest's {expected_sha256}")
        if expected_members is not None and members != expected_members:
            raise ArchiveError(f"{label}: {members:,} members, the manifest says {expected_members:,}")
        if consumer is not None and consumer.returncode != 0:
            raise ArchiveError(f"{label}: {consumer_argv[0] if consumer_argv else 'tar'} failed "
                               f"({rc_text(consumer.returncode)}): {tail_of(consumer_err)}")
        throttle(members, feeder.size, force=True)
        return ListResult(files=members, sha256=digest, size=feeder.size, symlinks=frozenset(gate.symlinks))
    finally:
        close_std(procs)
        zstd_err.close()
        consumer_err.close()
        if owned:
            handle.close()


def _start_pipeline(
    consumer_argv: Optional[Sequence[str]],
    cipher: Optional[Cipher],
    procs: List[subprocess.Popen],
    zstd_err: IO[bytes],
    consumer_err: IO[bytes],
    pass_fds: Sequence[int] = (),
) -> Tuple[Optional[subprocess.Popen], subprocess.Popen, Optional[subprocess.Popen]]:
    """Start gpg (when ``cipher``) → zstd → the consumer (when ``consumer_argv``): (gpg, zstd, consumer).

    Each process is appended to ``procs`` as it starts, so the caller closes their pipes whatever
    happens; when one cannot start, those already started are stopped.
    """
    filt: Optional[subprocess.Popen] = None
    try:
        if cipher is not None:
            filt = cipher.spawn(subprocess.PIPE)
            procs.append(filt)
        zstd = subprocess.Popen(["zstd", "-dc", "-q"], stdin=filt.stdout if filt is not None else subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=zstd_err, start_new_session=True, bufsize=0)
        procs.append(zstd)
        if filt is not None and filt.stdout is not None:
            filt.stdout.close()  # zstd holds it: a zstd that dies stops gpg
        consumer = None
        if consumer_argv is not None:
            consumer = subprocess.Popen(list(consumer_argv), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                        stderr=consumer_err, env=c_locale_env(), start_new_session=True, bufsize=0,
                                        pass_fds=tuple(pass_fds))
            procs.append(consumer)
    except (OSError, EncryptionError) as exc:
        stop_processes(procs)
        raise ArchiveError(f"cannot start zstd/tar: {exc}") from exc
    return filt, zstd, consumer


def _consumer_sink(consumer: Optional[subprocess.Popen]) -> Optional[Sink]:
    """Where the gate writes the members it passed: the consumer's stdin, or None without a consumer.

    A consumer that died is not written to any more, and is not an error here: its exit status
    and stderr say why, after the read.
    """
    if consumer is None or consumer.stdin is None:
        return None
    consumer_fd = consumer.stdin.fileno()
    grow_pipe(consumer_fd)
    broken = False

    def sink(data: memoryview) -> None:
        nonlocal broken
        if broken:
            return
        try:
            write_all(consumer_fd, data)
        except BrokenPipeError:
            broken = True  # the consumer died: its status and stderr say why, after the read

    return sink


def _pump(out_fd: int, gate: MemberGate, feeder: Feeder, throttle: Throttle, cancel: Optional[threading.Event],
          consumer: Optional[subprocess.Popen], procs: List[subprocess.Popen]) -> int:
    """Read zstd's output through the gate to its end, then wait for every process: the member count.

    On any exception (cancel, a refused member) the feeder and the processes are stopped first.
    """
    buf = bytearray(CHUNK)  # reused: the gate keeps copies of what it holds back, never the chunk
    view = memoryview(buf)
    try:
        while True:
            check_cancel(cancel)
            count = os.readv(out_fd, [buf])
            if not count:
                break
            gate.feed(view[:count])
            throttle(gate.members, feeder.size)
        members = gate.close()
        if consumer is not None and consumer.stdin is not None:
            consumer.stdin.close()
        feeder.join()
        for proc in procs:
            proc.wait()
    except BaseException:
        feeder.stop.set()
        stop_processes(procs)
        feeder.join(timeout=5)
        raise
    return members


def tar_extract_argv(dest_dir: str, *, same_owner: bool, numeric_owner: bool = False,
                     extra_tar_args: Sequence[str] = ()) -> List[str]:
    argv = ["tar", "-xpf", "-", "-C", dest_dir, "--same-owner" if same_owner else "--no-same-owner"]
    if numeric_owner:
        argv.append("--numeric-owner")
    return argv + list(extra_tar_args)


def extract_archive(
    source: Source,
    dest_dir: str,
    *,
    allow_special: bool = False,
    progress: Optional[ProgressFn] = None,
    cancel: Optional[threading.Event] = None,
    same_owner: bool = os.geteuid() == 0,
    numeric_owner: bool = False,
    extra_tar_args: Sequence[str] = (),
    expected_sha256: Optional[str] = None,
    expected_members: Optional[int] = None,
    over_level: Optional[Iterable[str]] = None,
    cipher: Optional[Cipher] = None,
    dest_fd: Optional[int] = None,
) -> ListResult:
    """Extract into the EXISTING, EMPTY staging dir ``dest_dir`` in one gated read.

    ``dest_fd``: an open descriptor of that folder; tar then extracts into the descriptor
    (``/proc/self/fd/N``, inherited), never resolving ``dest_dir`` again.

    Keeps permissions (-p), owners when ``same_owner`` (default: running as root), symlinks
    and hardlinks. On any error the staging dir is emptied again; the digest is compared only
    at the end, so the caller publishes the tree only after this returned. ``over_level``: the
    staging dir holds the level before this one (its symlinks, from that extraction's result);
    it is then not empty, and is extracted over.
    """
    where = f"/proc/self/fd/{dest_fd}" if dest_fd is not None else dest_dir
    if not os.path.isdir(where):
        raise ArchiveError(f"staging directory does not exist: {dest_dir}")
    if over_level is None and os.listdir(dest_fd if dest_fd is not None else dest_dir):
        raise ArchiveError(f"staging directory is not empty: {dest_dir}")
    argv = tar_extract_argv(where, same_owner=same_owner, numeric_owner=numeric_owner, extra_tar_args=extra_tar_args)
    try:
        return stream_archive(source, argv, allow_special=allow_special, label=os.path.basename(str(getattr(
            source, "name", source))), expected_sha256=expected_sha256, expected_members=expected_members,
            progress=progress, cancel=cancel, carried_symlinks=over_level or (), cipher=cipher,
            pass_fds=(dest_fd,) if dest_fd is not None else ())
    except BaseException:
        if dest_fd is None:
            _empty(dest_dir)  # what was extracted before the refusal is not kept (with a descriptor: the caller's job)
        raise


def _empty(folder: str) -> None:
    """Remove everything inside ``folder`` (which was empty before), never following a link."""
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


def scan_archive(source: Source, *, allow_special: bool, expected_sha256: Optional[str] = None,
                 expected_members: Optional[int] = None, progress: Optional[ProgressFn] = None,
                 cancel: Optional[threading.Event] = None, carried_symlinks: Iterable[str] = (),
                 cipher: Optional[Cipher] = None) -> ListResult:
    """The gate's check of a whole archive with nothing extracted (``verify --deep``)."""
    return stream_archive(source, None, allow_special=allow_special,
                          label=os.path.basename(str(getattr(source, "name", source))), expected_sha256=expected_sha256,
                          expected_members=expected_members, progress=progress, cancel=cancel,
                          carried_symlinks=carried_symlinks, cipher=cipher)


def list_archive(
    path: str,
    expected_sha256: Optional[str] = None,
    *,
    progress: Optional[ProgressFn] = None,
    cancel: Optional[threading.Event] = None,
) -> ListResult:
    """GNU tar's own listing in one read: sha256 + size of the file and its entry count via ``tar -tf``."""
    zstd_err = tempfile.TemporaryFile()
    tar_err = tempfile.TemporaryFile()
    procs: List[subprocess.Popen] = []
    pipe_r, pipe_w = os.pipe()
    grow_pipe(pipe_w)
    try:
        try:
            zstd = subprocess.Popen(["zstd", "-dc", "-q"], stdin=subprocess.PIPE, stdout=pipe_w, stderr=zstd_err,
                                    start_new_session=True)
            procs.append(zstd)
            tar = subprocess.Popen(["tar", "-tf", "-"], stdin=pipe_r, stdout=subprocess.PIPE, stderr=tar_err,
                                   env=c_locale_env(), start_new_session=True)
            procs.append(tar)
        except OSError as exc:
            stop_processes(procs)
            raise ArchiveError(f"cannot start zstd/tar: {exc}") from exc
        finally:
            os.close(pipe_r)
            os.close(pipe_w)
        assert zstd.stdin is not None and tar.stdout is not None
        counter = LineCounter(tar.stdout)
        counter.start()
        feeder = Feeder(open_source(path), zstd.stdin)
        feeder.start()
        throttle = Throttle(progress)
        try:
            while feeder.is_alive():
                check_cancel(cancel)
                feeder.join(timeout=0.25)
                throttle(counter.lines, feeder.size)
            for proc in procs:
                proc.wait()
            counter.join()
        except BaseException:
            feeder.stop.set()
            stop_processes(procs)
            raise
        finally:
            feeder.source.close()
        digest = feeder.hasher.hexdigest()
        if zstd.returncode != 0:
            raise ArchiveError(f"verify: {path} is corrupt or truncated (zstd {rc_text(zstd.returncode)}): "
                               f"{tail_of(zstd_err)}")
        if tar.returncode != 0:
            raise ArchiveError(f"verify: tar rejected {path} ({rc_text(tar.returncode)}): {tail_of(tar_err)}")
        if expected_sha256 is not None and digest != expected_sha256.lower():
            raise ArchiveError(f"verify: sha256 mismatch for {path}: expected {expected_sha256}, got {digest}")
        throttle(counter.lines, feeder.size, force=True)
        return ListResult(files=counter.lines, sha256=digest, size=feeder.size)
    finally:
        close_std(procs)
        zstd_err.close()
        tar_err.close()


def archive_names(path: str, cipher: Optional[Cipher] = None) -> List[str]:
    """Member names of an archive as GNU tar lists them (``zstd -dc | tar -tf -``), for a lookup of a
    few names in an archive already checked by digest (decrypted first with ``cipher``)."""
    if cipher is None:
        command = ["sh", "-c", 'zstd -dc -q -- "$1" | tar -tf -', "list", path]
        proc = subprocess.run(command, capture_output=True, env=c_locale_env(), check=False)
    else:
        with open_source(path) as source:
            filt = cipher.spawn(source)
            try:
                proc = subprocess.run(["sh", "-c", "zstd -dc -q | tar -tf -"], stdin=filt.stdout, capture_output=True,
                                      env=c_locale_env(), check=False)
            finally:
                close_std([filt])
                filt.wait()
            if cipher.problem(filt):
                raise ArchiveError(f"cannot list {path}: {cipher.problem(filt)}")
    if proc.returncode != 0:
        raise ArchiveError(f"cannot list {path}: {proc.stderr.decode(errors='replace').strip()[-200:]}")
    return proc.stdout.decode("utf-8", "surrogateescape").splitlines()
