"""Reading archives: list, validate members, extract -- each archive read once per call.

For extraction and listing ``bytes_done`` of the progress callback is compressed bytes read.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import tarfile
import tempfile
import threading
from typing import IO, List, Optional, Sequence, Tuple

from .common import CHUNK, ArchiveError, ListResult, ProgressFn, Throttle, UnsafeArchiveError, check_cancel
from .process import c_locale_env, close_std, grow_pipe, rc_text, stop_processes, tail_of


class LineCounter(threading.Thread):
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
    grow_pipe(pipe_w)
    try:
        try:
            zstd = subprocess.Popen(
                ["zstd", "-dc", "-q"], stdin=subprocess.PIPE, stdout=pipe_w, stderr=zstd_err,
                start_new_session=True,
            )
            procs.append(zstd)
            tar = subprocess.Popen(
                list(tar_argv), stdin=pipe_r, stdout=subprocess.PIPE, stderr=tar_err,
                env=c_locale_env(), start_new_session=True,
            )
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
        hasher = hashlib.sha256()
        size = 0
        throttle = Throttle(progress)
        feeding = True
        buf = memoryview(bytearray(CHUNK))
        try:
            with open(path, "rb", buffering=0) as src:
                while True:
                    check_cancel(cancel)
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
            stop_processes(procs)
            counter.join(timeout=5)
            raise
        digest = hasher.hexdigest()
        if zstd.returncode != 0:
            raise ArchiveError(
                f"{what}: {path} is corrupt or truncated (zstd {rc_text(zstd.returncode)}): {tail_of(zstd_err)}"
            )
        if tar.returncode != 0:
            raise ArchiveError(f"{what}: tar rejected {path} ({rc_text(tar.returncode)}): {tail_of(tar_err)}")
        if expected_sha256 is not None and digest != expected_sha256.lower():
            raise ArchiveError(f"{what}: sha256 mismatch for {path}: expected {expected_sha256}, got {digest}")
        throttle(counter.lines, size, force=True)
        return counter.lines, digest, size
    finally:
        close_std(procs)
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
                    check_cancel(cancel)
                    member = archive.next()
                    if member is None:
                        break
                    archive.members = []  # type: ignore[attr-defined]  # tarfile keeps every TarInfo otherwise
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
        stop_processes([proc])
        raise
    finally:
        close_std([proc])


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
