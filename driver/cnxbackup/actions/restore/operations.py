"""The operations that put one item of a set back, one class each.

Every operation holds, side by side, the three forms it takes: its shell text (RESTORE.md and
``restore --dry-run``), its execution here, and its execution on another host (through the
transport). The restore step list is built from them (``restore_plan.file_operations``), so
what the runbook says and what the tool does cannot drift apart.

Each operation is safe to run again after a crash right after it (the restore journal counts
finished operations, so only the one that was running can repeat), and none deletes anything
that is not its own partial output: what is replaced is moved aside.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from typing import List, Optional, Set

from ... import remote_archive
from ...archive import ATTRIBUTE_ARGS, Cipher, copy_back_file, extract_archive
from ...errors import StepFailed
from ...hosts import Host
from ...paths import REPLACED_SUFFIX, STAGING_SUFFIX  # noqa: F401  (re-exported: the restore's naming)
from ...progress import Progress
from ...setbox import open_in_set, path_in_set
from ...transport import Transport

q = shlex.quote
MOVED_ASIDE = ".cnxrestore-moved-aside"  # inside a mount point's aside folder, once its contents are all there


@dataclass
class LocalRun:
    """What an operation needs to run on this machine.

    ``set_dir``: archives and files are read only as regular files inside it (``setbox``);
    ``allow_special``: FIFOs and setuid/setgid members pass the gate (a signed set).
    """

    progress: Progress
    cancel: threading.Event
    label: str
    expected_sha256: Optional[str] = None
    set_dir: str = "/"
    expected_members: Optional[int] = None
    allow_special: bool = False
    total_bytes: Optional[int] = None  # the archive's size in the manifest: progress has a total
    symlinks: Set[str] = field(default_factory=set)  # what the level just extracted left (for the next level)
    cipher: Optional[Cipher] = None  # the item is encrypted: decrypted as it is read


@dataclass
class RemoteRun:
    """What an operation needs to run on another host (the archive is read and gated here)."""

    transport: Transport
    host: Host
    expected_sha256: Optional[str] = None
    set_dir: str = "/"
    expected_members: Optional[int] = None
    allow_special: bool = False
    cancel: Optional[threading.Event] = None
    symlinks: Set[str] = field(default_factory=set)  # what the level just extracted left (for the next level)
    cipher: Optional[Cipher] = None  # the item is encrypted: decrypted here, as it is read


class Operation:
    """One idempotent step of putting an item back."""

    def shell(self) -> str:
        """The command line an administrator would run by hand, on the host of the item."""
        raise NotImplementedError

    def remote_shell(self, ssh: str) -> str:
        """The command line run from here when the item lives on another host (``ssh`` prefix)."""
        return f"{ssh} {q(self.shell())}"

    def run_local(self, ctx: LocalRun) -> None:
        raise NotImplementedError

    def run_remote(self, ctx: RemoteRun) -> None:
        """On another host most operations are their shell text; those that move data override this."""
        proc = ctx.transport.run(ctx.host, self.shell())
        if proc.returncode != 0:
            raise StepFailed(f"on host {ctx.host.name}: `{self.shell()}` failed: {proc.stderr.strip()[-300:]}")

    @property
    def replaced(self) -> Optional[str]:
        """Where this operation keeps what it replaces (None when it replaces nothing)."""
        return None

    def discard_local(self) -> None:
        """Remove this operation's own output (a restore refused before the stop leaves no staging)."""

    def discard_remote(self, ctx: RemoteRun) -> None:
        """The same on another host."""


def _in_set(set_dir: str, path: str) -> str:
    """``path`` (an archive or file of the set) checked as a regular file inside the set."""
    return path_in_set(set_dir, os.path.relpath(path, set_dir))


def _remove_staging(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        if not is_staging(path):
            raise StepFailed(f"{path} is not a staging folder; not removing it")
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path) and is_staging(path):
        os.unlink(path)


def is_staging(path: str) -> bool:
    return path.endswith(STAGING_SUFFIX) or os.path.basename(path) == STAGING_SUFFIX.lstrip(".")


def sync_tree(path: str) -> None:
    """Flush a staged tree to disk before anything relies on it (``syncfs`` of its filesystem,
    as ``sync -f`` does: one call, whatever the number of files)."""
    try:
        subprocess.run(["sync", "-f", path], check=False, capture_output=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired):
        os.sync()


@dataclass(frozen=True)
class MakeDir(Operation):
    path: str

    def shell(self) -> str:
        return f"mkdir -p {q(self.path)}"

    def run_local(self, ctx: LocalRun) -> None:
        os.makedirs(self.path, exist_ok=True)


INCREMENTAL_EXTRACT = "--listed-incremental=/dev/null"
"""How a level of a two-phase archive is extracted: GNU tar applies its directory records
(deletions, renames) inside the staging folder, and reads no snapshot."""


@dataclass(frozen=True)
class Extract(Operation):
    """Unpack an archive of the set into the staging folder, owners and modes kept.

    The one archive of an item, or a level of a two-phase item: level 0 into the empty staging
    folder, then level 1 over it (``--listed-incremental=/dev/null``: what was deleted or renamed
    before the stop is deleted or renamed in staging). ``sha256``/``members``/``size``: this
    archive's, from the manifest (the run's context holds the item's).
    """

    archive: str
    staging: str
    attributes: bool = False  # the archive keeps xattrs, ACLs and SELinux contexts: restore them too (as root)
    level: Optional[int] = None
    sha256: Optional[str] = None
    members: Optional[int] = None
    size: Optional[int] = None
    numeric_owner: bool = False
    encrypted: bool = False  # an OpenPGP message of the .tar.zst (archive.encrypt)

    @property
    def tar_options(self) -> List[str]:
        return list(ATTRIBUTE_ARGS) if self.attributes else []

    @property
    def level_options(self) -> List[str]:
        """The options of every extraction of this archive, trusted or not: its level, numeric owners."""
        return ([INCREMENTAL_EXTRACT] if self.level is not None else []) + (["--numeric-owner"] if self.numeric_owner else [])

    def trusted_tar_options(self, signed: bool, as_root: bool) -> List[str]:
        """The attribute options for an extraction that runs as root from a signed set, else none:
        an extended attribute can be a file capability (``security.capability``) or an SELinux
        label, as strong as a setuid bit, so an unsealed set's are never restored."""
        return self.tar_options if signed and as_root else []

    def _tar(self) -> str:
        return " ".join(["tar -xpf - --same-owner", *(q(a) for a in self.tar_options + self.level_options),
                         "-C", q(self.staging)])

    def shell(self) -> str:
        if self.encrypted:
            return f"gpg --decrypt {q(self.archive)} | zstd -dc | {self._tar()}"
        return f"zstd -dc {q(self.archive)} | {self._tar()}"

    def remote_shell(self, ssh: str) -> str:
        if self.encrypted:
            return f"gpg --decrypt {q(self.archive)} | {ssh} {q(f'zstd -dc | {self._tar()}')}"
        return f"{ssh} {q(f'zstd -dc | {self._tar()}')} < {q(self.archive)}"

    @property
    def over_level(self) -> bool:
        """Extracted over the level before it (the staging folder is not emptied first)."""
        return bool(self.level)

    def run_local(self, ctx: LocalRun) -> None:
        if not self.over_level and os.path.isdir(self.staging) and os.listdir(self.staging):
            # a previous extraction into our own staging folder was cut short, or a resumed
            # restore stages afresh what it cannot re-check: start it again
            if not is_staging(self.staging):
                raise StepFailed(f"{self.staging} is not empty and not a staging folder; not touching it")
            shutil.rmtree(self.staging)
            os.makedirs(self.staging)
        members = self.members if self.sha256 else ctx.expected_members
        task = ctx.progress.task(ctx.label if self.level is None else f"{ctx.label} level {self.level}",
                                 self.size if self.sha256 else ctx.total_bytes, members)  # totals from the manifest
        with open_in_set(ctx.set_dir, os.path.relpath(self.archive, ctx.set_dir)) as source:
            result = extract_archive(source, self.staging, progress=task.update, cancel=ctx.cancel,
                                     expected_sha256=self.sha256 or ctx.expected_sha256, expected_members=members,
                                     allow_special=ctx.allow_special,
                                     extra_tar_args=self.trusted_tar_options(ctx.allow_special, os.geteuid() == 0)
                                     + self.level_options,
                                     over_level=ctx.symlinks if self.over_level else None, cipher=ctx.cipher)
        ctx.symlinks = set(result.symlinks)
        sync_tree(self.staging)
        task.finish(f"{result.files:,} entries", verb="staged")

    def run_remote(self, ctx: RemoteRun) -> None:
        staging = q(self.staging)
        if not self.over_level:
            ctx.transport.run(ctx.host, f"if [ -d {staging} ] && [ -n \"$(ls -A {staging})\" ]; then rm -rf {staging}; fi")
        with open_in_set(ctx.set_dir, os.path.relpath(self.archive, ctx.set_dir)) as source:
            result = remote_archive.extract_remote(
                source, self.staging, ctx.transport, ctx.host, expected_sha256=self.sha256 or ctx.expected_sha256,
                expected_members=self.members if self.sha256 else ctx.expected_members,
                allow_special=ctx.allow_special, cancel=ctx.cancel,
                tar_options=self.trusted_tar_options(ctx.allow_special, ctx.host.user == "root") + self.level_options,
                carried_symlinks=ctx.symlinks if self.over_level else (), cipher=ctx.cipher)
        ctx.symlinks = set(result.symlinks)

    def discard_local(self) -> None:
        _remove_staging(self.staging)

    def discard_remote(self, ctx: RemoteRun) -> None:
        if is_staging(self.staging):
            ctx.transport.run(ctx.host, f"rm -rf {q(self.staging)}")


@dataclass(frozen=True)
class Carry(Operation):
    """Move a live nested item (one archived on its own, e.g. data/shared) into the staged tree.

    The staged tree came from the archive, so no folder on the way to ``into`` may be a
    symlink (the live data would be moved wherever it points): each is checked with
    ``lstat`` below ``staging`` and missing ones are made, never through a link.
    """

    live: str
    into: str
    staging: str
    aside: str = ""  # the item's moved-aside copy: once it exists the swap happened, nothing to carry

    def _between(self) -> List[str]:
        rel = os.path.relpath(os.path.dirname(self.into), self.staging)
        parts = [] if rel == "." else rel.split(os.sep)
        if ".." in parts:
            raise StepFailed(f"{self.into} is not inside the staging folder {self.staging}")
        return [os.path.join(self.staging, *parts[:depth]) for depth in range(1, len(parts) + 1)]

    def shell(self) -> str:
        guards = "".join(f"test ! -h {q(path)} && " for path in self._between())
        # only while the staged tree is there: pasted again after the swap, it does nothing
        swapped = f" && [ ! -e {q(self.aside)} ]" if self.aside else ""
        return (f"if [ -d {q(self.staging)} ]{swapped} && [ -e {q(self.live)} ]; then {guards}mkdir -p "
                f"{q(os.path.dirname(self.into))} && mv -T -- {q(self.live)} {q(self.into)}; fi")

    def check_staged(self) -> None:
        """Before the stop: the staged tree offers no link on the way to ``into``."""
        for path in self._between():
            if os.path.islink(path):
                raise StepFailed(f"{path} in the staged tree is a symlink: carrying {self.live} there would move the "
                                 "live data out of the tree; refused")
            if os.path.lexists(path) and not os.path.isdir(path):
                raise StepFailed(f"{path} in the staged tree is not a folder; {self.live} cannot be carried into it")

    def run_local(self, ctx: LocalRun) -> None:
        if not os.path.lexists(self.live):
            return
        self.check_staged()
        for path in self._between():
            if not os.path.lexists(path):
                os.mkdir(path, 0o755)
        if os.path.lexists(self.into):
            raise StepFailed(f"cannot carry {self.live} over: {self.into} already exists in the restored tree")
        os.rename(self.live, self.into)


@dataclass(frozen=True)
class MoveAside(Operation):
    """Keep what is there under a name stamped with this restore."""

    path: str
    aside: str

    def shell(self) -> str:
        # the stamp is this restore's: an existing aside copy means this was done (pasted twice: nothing)
        return f"test -e {q(self.aside)} || test ! -e {q(self.path)} || mv -T -- {q(self.path)} {q(self.aside)}"

    def run_local(self, ctx: LocalRun) -> None:
        if os.path.lexists(self.aside):
            return  # already moved aside by this restore (the stamp is unique to it)
        if os.path.lexists(self.path):
            os.rename(self.path, self.aside)

    @property
    def replaced(self) -> Optional[str]:
        return self.aside


@dataclass(frozen=True)
class MoveIntoPlace(Operation):
    staging: str
    dest: str

    def shell(self) -> str:
        # pasted again after it ran: the staged tree is gone and the restored one in place, nothing to do
        return f"if [ -e {q(self.staging)} ]; then mv -T -- {q(self.staging)} {q(self.dest)}; else test -e {q(self.dest)}; fi"

    def run_local(self, ctx: LocalRun) -> None:
        if not os.path.lexists(self.staging) and os.path.lexists(self.dest):
            return  # already moved into place
        if os.path.lexists(self.dest):
            raise StepFailed(f"cannot move {self.staging} into place: {self.dest} exists (it should have been moved aside)")
        os.rename(self.staging, self.dest)


@dataclass(frozen=True)
class CopyFile(Operation):
    """Copy a file of the set back (checked against its manifest digest as it is written)."""

    source: str
    dest: str
    encrypted: bool = False  # an OpenPGP message of the file (archive.encrypt)

    def shell(self) -> str:
        if self.encrypted:
            return f"gpg --decrypt --output {q(self.dest)} {q(self.source)}"
        return f"cp -p {q(self.source)} {q(self.dest)}"

    def remote_shell(self, ssh: str) -> str:
        if self.encrypted:
            return f"gpg --decrypt {q(self.source)} | {ssh} {q(f'cat > {q(self.dest)}')}"
        return f"{ssh} {q(f'cat > {q(self.dest)}')} < {q(self.source)}"

    def run_local(self, ctx: LocalRun) -> None:
        copy_back_file(_in_set(ctx.set_dir, self.source), self.dest, expected_sha256=ctx.expected_sha256,
                       cancel=ctx.cancel, cipher=ctx.cipher)

    def run_remote(self, ctx: RemoteRun) -> None:
        if ctx.cipher is not None:  # decrypted here (checked against the set's digest), then sent
            with tempfile.TemporaryDirectory(prefix="cnxplain-") as private:
                plain = os.path.join(private, os.path.basename(self.dest))
                decrypted = copy_back_file(_in_set(ctx.set_dir, self.source), plain, expected_sha256=ctx.expected_sha256,
                                           cancel=ctx.cancel, cipher=ctx.cipher)
                sent = ctx.transport.put(ctx.host, plain, self.dest)
            if sent.sha256 != decrypted.sha256:
                ctx.transport.run(ctx.host, f"rm -f {q(self.dest)}")
                raise StepFailed(f"{self.source}: what reached {ctx.host.name}:{self.dest} is not what was decrypted; not trusted")
            return
        copied = ctx.transport.put(ctx.host, _in_set(ctx.set_dir, self.source), self.dest)
        if ctx.expected_sha256 and copied.sha256 != ctx.expected_sha256:
            ctx.transport.run(ctx.host, f"rm -f {q(self.dest)}")
            raise StepFailed(f"{self.source} does not match its manifest checksum; {ctx.host.name}:{self.dest} not trusted")

    def discard_local(self) -> None:
        _remove_staging(self.dest)

    def discard_remote(self, ctx: RemoteRun) -> None:
        if is_staging(self.dest):
            ctx.transport.run(ctx.host, f"rm -f {q(self.dest)}")


@dataclass(frozen=True)
class SetMode(Operation):
    mode: str  # octal digits, as the manifest records them
    path: str

    def shell(self) -> str:
        return f"chmod {self.mode} {q(self.path)}"

    def run_local(self, ctx: LocalRun) -> None:
        os.chmod(self.path, int(self.mode, 8))


@dataclass(frozen=True)
class SetOwner(Operation):
    uid: int
    gid: int
    path: str

    def shell(self) -> str:
        return f"chown {self.uid}:{self.gid} {q(self.path)}"

    def run_local(self, ctx: LocalRun) -> None:
        if os.geteuid() == 0:  # only root can give a file away; others keep their own
            os.chown(self.path, self.uid, self.gid)


@dataclass(frozen=True)
class MoveContentsAside(Operation):
    """For a mount point (NFS shared data), which cannot be renamed: move its contents aside,
    inside it, leaving the staging folder and the aside folder themselves."""

    folder: str
    aside: str
    staging: str

    def shell(self) -> str:
        # once every old entry is aside, a marker says so: run again (a crash, a second paste) it
        # finishes an interrupted move but never moves the restored contents aside
        marker = q(os.path.join(self.aside, MOVED_ASIDE))
        return (f"test -e {marker} || {{ mkdir -p {q(self.aside)} && find {q(self.folder)} -mindepth 1 "
                f"-maxdepth 1 ! -name {q(os.path.basename(self.staging))} ! -name {q(os.path.basename(self.aside))} "
                f"-exec mv -t {q(self.aside)} {{}} + && : > {marker}; }}")

    def run_local(self, ctx: LocalRun) -> None:
        marker = os.path.join(self.aside, MOVED_ASIDE)
        if os.path.lexists(marker):
            return
        os.makedirs(self.aside, exist_ok=True)
        keep = {os.path.basename(self.aside), os.path.basename(self.staging)}
        for name in os.listdir(self.folder):
            if name not in keep:
                os.rename(os.path.join(self.folder, name), os.path.join(self.aside, name))
        with open(marker, "w"):
            pass

    @property
    def replaced(self) -> Optional[str]:
        return self.aside


@dataclass(frozen=True)
class MoveContentsIn(Operation):
    staging: str
    dest: str

    def shell(self) -> str:
        return (f"test ! -d {q(self.staging)} || {{ find {q(self.staging)} -mindepth 1 -maxdepth 1 -exec mv -t "
                f"{q(self.dest)} {{}} + && rmdir {q(self.staging)}; }}")

    def run_local(self, ctx: LocalRun) -> None:
        if not os.path.isdir(self.staging):
            return  # already done (the staging folder is removed last)
        for name in os.listdir(self.staging):
            os.rename(os.path.join(self.staging, name), os.path.join(self.dest, name))
        os.rmdir(self.staging)
