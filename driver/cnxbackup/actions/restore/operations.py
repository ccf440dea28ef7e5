"""The operations that put one item of a set back, one class each.

Every operation holds, side by side, the three forms it takes: its shell text (RESTORE.md and
``restore --dry-run``), its execution here, and its execution on another host (through the
transport). The restore step list is built from them (``restore_plan.file_operations``), so
what the runbook says and what the tool does cannot drift apart.

Here, each operation works through folder descriptors (``dirfd``) and records every move in
the journal before and after it (``moves``): run again after a crash at any instant, it finds
by identity what happened and finishes it. An item is staged inside a container only root can
enter (``<dest>.cnxrestore-<stamp>/staged``); the swap moves the live tree into the same
container (``replaced``) and the staged one out to its place. None deletes anything that is
not its own: what is replaced is kept.
"""
from __future__ import annotations

import ctypes
import os
import shlex
import stat
import tempfile
import threading
from dataclasses import dataclass, field
from typing import List, Optional, Set, Tuple

from ... import remote_archive
from ...archive import ATTRIBUTE_ARGS, Cipher, copy_back_file, extract_archive
from ...dirfd import chase, fd_path, open_dir_at, remove_tree_at, rename_noreplace
from ...errors import StepFailed
from ...hosts import Host
from ...paths import REPLACED, STAGED
from ...progress import Progress, counted
from ...setbox import open_in_set, path_in_set
from ...shown import printable as shown
from ...transport import Transport
from .moves import ABSENT, Folder, Moves, make_container, move, open_container, open_folder

q = shlex.quote
MOVED_ASIDE = ".cnxrestore-moved-aside"  # in the runbook: inside a mount point's replaced folder, once all is there


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
    moves: Optional[Moves] = None  # the journal's record of moves and containers (None: a dry construction)

    @property
    def record(self) -> Moves:
        if self.moves is None:
            raise StepFailed("a restore operation ran without its journal")
        return self.moves


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

    def kept_aside(self, moves: Optional[Moves]) -> Optional[str]:
        """What this operation did keep aside once it ran: ``replaced``, unless the journal shows
        there was nothing there (``moves``: this machine's records; None on another host)."""
        return self.replaced

    def discard_local(self, ctx: LocalRun) -> None:
        """Remove this operation's own output (a restore refused before the stop leaves no staging)."""

    def discard_remote(self, ctx: RemoteRun) -> None:
        """The same on another host."""


def _in_set(set_dir: str, path: str) -> str:
    """``path`` (an archive or file of the set) checked as a regular file inside the set."""
    return path_in_set(set_dir, os.path.relpath(path, set_dir))


def sync_folder(fd: int) -> None:
    """Flush a staged tree to disk before anything relies on it (``syncfs`` of the filesystem that
    holds the open folder, as ``sync -f`` does: one call, whatever the number of files)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syncfs(fd) == 0:
            return
    except (OSError, AttributeError):
        pass
    os.sync()


@dataclass(frozen=True)
class Container:
    """Where an item is staged and what it replaces is kept: ``path`` (a root-only 0700 folder
    beside the destination, or inside it for a mount point) holds ``staged`` then ``replaced``."""

    path: str
    dest: str  # its key in the journal

    @property
    def folder(self) -> Folder:
        return Folder(self.path, (self.path, self.dest))

    @property
    def staged(self) -> str:
        return os.path.join(self.path, STAGED)

    @property
    def replaced(self) -> str:
        return os.path.join(self.path, REPLACED)


@dataclass(frozen=True)
class MakeContainer(Operation):
    """Make the container (``mkdir``: a name already there refuses), with a ``staged`` folder
    inside for an archive."""

    container: Container
    for_archive: bool = True

    def shell(self) -> str:
        inner = f" && mkdir {q(self.container.staged)}" if self.for_archive else ""
        return f"mkdir -m 700 {q(self.container.path)}{inner}"

    def run_local(self, ctx: LocalRun) -> None:
        make_container(ctx.record, self.container.path, self.container.dest)

    def run_remote(self, ctx: RemoteRun) -> None:
        box = q(self.container.path)
        inner = f" && rm -rf {q(self.container.staged)} && mkdir {q(self.container.staged)}" if self.for_archive else ""
        proc = ctx.transport.run(ctx.host, f"{{ [ -d {box} ] || mkdir -m 700 {box}; }}{inner}")
        if proc.returncode != 0:
            raise StepFailed(f"on host {ctx.host.name}: cannot make {self.container.path}: {proc.stderr.strip()[-300:]}")

    def discard_local(self, ctx: LocalRun) -> None:
        if ctx.moves is None or ctx.moves.container(self.container.dest) is None:
            return  # not made (or not by this restore): nothing of ours there
        fd = open_container(ctx.moves, self.container.path, self.container.dest)
        try:
            for name in os.listdir(fd):
                remove_tree_at(fd, name)
        finally:
            os.close(fd)
        parent = chase(os.path.dirname(self.container.path))
        try:
            os.rmdir(os.path.basename(self.container.path), dir_fd=parent)
        finally:
            os.close(parent)
        ctx.moves.put_container(self.container.dest, None)

    def discard_remote(self, ctx: RemoteRun) -> None:
        ctx.transport.run(ctx.host, f"rm -rf {q(self.container.path)}")


INCREMENTAL_EXTRACT = "--listed-incremental=/dev/null"
"""How a level of a two-phase archive is extracted: GNU tar applies its directory records
(deletions, renames) inside the staging folder, and reads no snapshot."""


@dataclass(frozen=True)
class Extract(Operation):
    """Unpack an archive of the set into the container's ``staged`` folder, owners and modes kept
    (only root can enter the container, so nobody else reaches the tree while it is built).

    The one archive of an item, or a level of a two-phase item: level 0 into the empty staging
    folder, then level 1 over it (``--listed-incremental=/dev/null``: what was deleted or renamed
    before the stop is deleted or renamed in staging). ``sha256``/``members``/``size``: this
    archive's, from the manifest (the run's context holds the item's).
    """

    archive: str
    container: Container
    attributes: bool = False  # the archive keeps xattrs, ACLs and SELinux contexts: restore them too (as root)
    level: Optional[int] = None
    sha256: Optional[str] = None
    members: Optional[int] = None
    size: Optional[int] = None
    numeric_owner: bool = False
    encrypted: bool = False  # an OpenPGP message of the .tar.zst (archive.encrypt)

    @property
    def staging(self) -> str:
        return self.container.staged

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

    def _staged_folder(self, box: int) -> int:
        """The ``staged`` folder inside the container, empty unless this is a level over the one before."""
        if not self.over_level:
            try:
                remove_tree_at(box, STAGED)  # an extraction cut short: its own, inside root's container
            except FileNotFoundError:
                pass
            os.mkdir(STAGED, 0o700, dir_fd=box)
        return open_dir_at(box, STAGED)

    def run_local(self, ctx: LocalRun) -> None:
        members = self.members if self.sha256 else ctx.expected_members
        task = ctx.progress.task(ctx.label if self.level is None else f"{ctx.label} level {self.level}",
                                 self.size if self.sha256 else ctx.total_bytes, members)  # totals from the manifest
        box = open_container(ctx.record, self.container.path, self.container.dest)
        try:
            staged = self._staged_folder(box)
            try:
                with open_in_set(ctx.set_dir, os.path.relpath(self.archive, ctx.set_dir)) as source:
                    result = extract_archive(
                        source, self.staging, progress=task.update, cancel=ctx.cancel,
                        expected_sha256=self.sha256 or ctx.expected_sha256, expected_members=members,
                        allow_special=ctx.allow_special,
                        extra_tar_args=self.trusted_tar_options(ctx.allow_special, os.geteuid() == 0) + self.level_options,
                        over_level=ctx.symlinks if self.over_level else None, cipher=ctx.cipher, dest_fd=staged)
                sync_folder(staged)
            finally:
                os.close(staged)
        finally:
            os.close(box)
        ctx.symlinks = set(result.symlinks)
        task.finish(counted(result.files, "entry"), verb="staged")

    def run_remote(self, ctx: RemoteRun) -> None:
        staging = q(self.staging)
        if not self.over_level:
            ctx.transport.run(ctx.host, f"if [ -d {staging} ] && [ -n \"$(ls -A {staging})\" ]; then rm -rf {staging} && "
                                        f"mkdir {staging}; fi")
        with open_in_set(ctx.set_dir, os.path.relpath(self.archive, ctx.set_dir)) as source:
            result = remote_archive.extract_remote(
                source, self.staging, ctx.transport, ctx.host, expected_sha256=self.sha256 or ctx.expected_sha256,
                expected_members=self.members if self.sha256 else ctx.expected_members,
                allow_special=ctx.allow_special, cancel=ctx.cancel,
                tar_options=self.trusted_tar_options(ctx.allow_special, ctx.host.user == "root") + self.level_options,
                carried_symlinks=ctx.symlinks if self.over_level else (), cipher=ctx.cipher)
        ctx.symlinks = set(result.symlinks)


def _between(container: Container, rel: str) -> Tuple[str, ...]:
    """The folders from the staged tree's top down to where ``rel`` goes (``..`` refused)."""
    parts = tuple(p for p in os.path.dirname(rel).split("/") if p not in ("", "."))
    if ".." in parts:
        raise StepFailed(f"{rel} is not a path inside the staged tree of {container.dest}")
    return parts


@dataclass(frozen=True)
class Carry(Operation):
    """Move a live nested item (one archived on its own, e.g. data/shared) into the staged tree.

    ``rel``: where it lies below the destination. The live item is found through the live tree
    (``chase``); its place in the staged tree through the container, folder by folder, never
    through a link (missing folders are made: only root can enter there).
    """

    dest: str
    rel: str
    container: Container

    @property
    def live(self) -> str:
        return os.path.join(self.dest, self.rel)

    @property
    def into(self) -> str:
        return os.path.join(self.container.staged, self.rel)

    def shell(self) -> str:
        guards = "".join(f"test ! -h {q(os.path.join(self.container.staged, *_between(self.container, self.rel)[:depth]))} && "
                         for depth in range(1, len(_between(self.container, self.rel)) + 1))
        # only while the staged tree is there: pasted again after the swap, it does nothing
        return (f"if [ -d {q(self.container.staged)} ] && [ ! -e {q(self.container.replaced)} ] && [ -e {q(self.live)} ]; "
                f"then {guards}mkdir -p {q(os.path.dirname(self.into))} && mv -T -- {q(self.live)} {q(self.into)}; fi")

    def check_staged(self, ctx: LocalRun) -> None:
        """Before the stop: the live item is not a mount point (it cannot be moved: restore the
        outer item's folders without it, or unmount it first), and the staged tree offers no link,
        nor a file, on the way to ``into``."""
        if os.path.ismount(self.live):
            raise StepFailed(f"{shown(self.live)} is a mount point inside {shown(self.dest)}: it cannot be carried into "
                             f"the restored tree; restore {shown(self.dest)} with that filesystem unmounted, or restore "
                             "the items inside it on their own (--only); refused")
        box = open_container(ctx.record, self.container.path, self.container.dest)
        fd = box
        try:
            for part in (STAGED,) + _between(self.container, self.rel):
                try:
                    child = open_dir_at(fd, part)
                except FileNotFoundError:
                    return
                except OSError:
                    raise StepFailed(f"{shown(os.path.join(self.container.staged, part))} in the staged tree is a "
                                     f"symlink or not a folder: {shown(self.live)} cannot be carried there; refused") from None
                if fd != box:
                    os.close(fd)
                fd = child
        finally:
            if fd != box:
                os.close(fd)
            os.close(box)

    def run_local(self, ctx: LocalRun) -> None:
        parts = _between(self.container, self.rel)
        live = Folder.within(self.dest, os.path.dirname(self.live)).at(os.path.basename(self.live))
        move(ctx.record, f"carry:{self.dest}:{self.rel}", live,
             self.container.folder.below(STAGED, *parts).at(os.path.basename(self.rel)), create_target=True)


@dataclass(frozen=True)
class MoveAside(Operation):
    """Keep what is there inside the container (``replaced``)."""

    path: str
    container: Container

    def shell(self) -> str:
        # once in the container it stays there (pasted twice: nothing)
        aside = q(self.container.replaced)
        return f"test -e {aside} || test ! -e {q(self.path)} || mv -T -- {q(self.path)} {aside}"

    def run_local(self, ctx: LocalRun) -> None:
        move(ctx.record, f"aside:{self.path}", Folder(os.path.dirname(self.path)).at(os.path.basename(self.path)),
             self.container.folder.at(REPLACED))

    @property
    def replaced(self) -> Optional[str]:
        return self.container.replaced

    def kept_aside(self, moves: Optional[Moves]) -> Optional[str]:
        record = moves.get(f"aside:{self.path}") if moves is not None else None
        return None if record is not None and record.state == ABSENT else self.replaced


@dataclass(frozen=True)
class MoveIntoPlace(Operation):
    container: Container
    dest: str

    def shell(self) -> str:
        # pasted again after it ran: the staged tree is gone and the restored one in place, nothing to do
        staged = q(self.container.staged)
        return f"if [ -e {staged} ]; then mv -T -- {staged} {q(self.dest)}; else test -e {q(self.dest)}; fi"

    def run_local(self, ctx: LocalRun) -> None:
        if not move(ctx.record, f"in:{self.dest}", self.container.folder.at(STAGED),
                    Folder(os.path.dirname(self.dest)).at(os.path.basename(self.dest))):
            raise StepFailed(f"{shown(self.container.staged)}: the staged copy is not there; nothing to put in place")


@dataclass(frozen=True)
class CopyFile(Operation):
    """Copy a file of the set into the container (checked against its manifest digest as it is written)."""

    source: str
    container: Container
    encrypted: bool = False  # an OpenPGP message of the file (archive.encrypt)

    @property
    def dest(self) -> str:
        return self.container.staged

    def shell(self) -> str:
        if self.encrypted:
            return f"gpg --decrypt --output {q(self.dest)} {q(self.source)}"
        return f"cp -p {q(self.source)} {q(self.dest)}"

    def remote_shell(self, ssh: str) -> str:
        if self.encrypted:
            return f"gpg --decrypt {q(self.source)} | {ssh} {q(f'cat > {q(self.dest)}')}"
        return f"{ssh} {q(f'cat > {q(self.dest)}')} < {q(self.source)}"

    def run_local(self, ctx: LocalRun) -> None:
        box = open_container(ctx.record, self.container.path, self.container.dest)
        try:
            try:
                os.unlink(STAGED, dir_fd=box)  # a copy cut short (inside root's container: its own)
            except FileNotFoundError:
                pass
            copy_back_file(_in_set(ctx.set_dir, self.source), os.path.join(fd_path(box), STAGED),
                           expected_sha256=ctx.expected_sha256, cancel=ctx.cancel, cipher=ctx.cipher)
        finally:
            os.close(box)

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


def _staged_file(ctx: LocalRun, container: Container) -> Tuple[int, int]:
    """(container, staged file) descriptors: the file opened without following a link, checked to be
    a regular file with one link (nothing else can be reached through it)."""
    box = open_container(ctx.record, container.path, container.dest)
    try:
        fd = os.open(STAGED, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=box)
    except OSError:
        os.close(box)
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(fd)
        os.close(box)
        raise StepFailed(f"{shown(container.staged)}: not the regular file this restore copied; refused")
    return box, fd


@dataclass(frozen=True)
class SetMode(Operation):
    """The recorded mode of a copied file, on the staged copy (inside the container)."""

    mode: str  # octal digits, as the manifest records them
    container: Container

    def shell(self) -> str:
        return f"chmod {self.mode} {q(self.container.staged)}"

    def run_local(self, ctx: LocalRun) -> None:
        box, fd = _staged_file(ctx, self.container)
        try:
            os.fchmod(fd, int(self.mode, 8))
        finally:
            os.close(fd)
            os.close(box)


@dataclass(frozen=True)
class SetOwner(Operation):
    """The recorded owner of a copied file, on the staged copy (before its mode: chown clears setuid)."""

    uid: int
    gid: int
    container: Container

    def shell(self) -> str:
        return f"chown {self.uid}:{self.gid} {q(self.container.staged)}"

    def run_local(self, ctx: LocalRun) -> None:
        if os.geteuid() != 0:  # only root can give a file away; others keep their own
            return
        box, fd = _staged_file(ctx, self.container)
        try:
            os.fchown(fd, self.uid, self.gid)
        finally:
            os.close(fd)
            os.close(box)


@dataclass(frozen=True)
class MoveContentsAside(Operation):
    """For a mount point (NFS shared data), which cannot be renamed: move its entries, one by one,
    into the container inside it (``replaced``), leaving the container itself."""

    folder: str
    container: Container

    def shell(self) -> str:
        # once every old entry is aside, a marker says so: run again (a crash, a second paste) it
        # finishes an interrupted move but never moves the restored contents aside
        aside = self.container.replaced
        marker = q(os.path.join(aside, MOVED_ASIDE))
        return (f"test -e {marker} || {{ mkdir -p {q(aside)} && find {q(self.folder)} -mindepth 1 "
                f"-maxdepth 1 ! -name {q(os.path.basename(self.container.path))} "
                f"-exec mv -t {q(aside)} {{}} + && : > {marker}; }}")

    def run_local(self, ctx: LocalRun) -> None:
        # Decided by listing, not entry by entry in the journal (a mount with many entries would
        # make the journal grow with their square): until the marker says all is aside, whatever
        # sits in the mount point besides the container is live, and goes into ``replaced``.
        marker = f"aside-all:{self.folder}"
        if ctx.record.done(marker):
            return
        _move_entries(ctx, Folder.within(self.folder, self.folder), self.container.folder.below(REPLACED),
                      (os.path.basename(self.container.path),), create_target=True)
        ctx.record.mark(marker)

    @property
    def replaced(self) -> Optional[str]:
        return self.container.replaced


@dataclass(frozen=True)
class MoveContentsIn(Operation):
    container: Container
    dest: str

    def shell(self) -> str:
        staged = q(self.container.staged)
        return (f"test ! -d {staged} || {{ find {staged} -mindepth 1 -maxdepth 1 -exec mv -t "
                f"{q(self.dest)} {{}} + && rmdir {staged}; }}")

    def run_local(self, ctx: LocalRun) -> None:
        marker = f"in-all:{self.dest}"
        if ctx.record.done(marker):
            return
        staged = self.container.folder.below(STAGED)
        try:  # until the marker, whatever is still in ``staged`` goes in
            _move_entries(ctx, staged, Folder.within(self.dest, self.dest), ())
        except FileNotFoundError:  # emptied and removed by the interrupted run (only root enters the container)
            pass
        else:
            box = open_container(ctx.record, self.container.path, self.container.dest)
            try:
                os.rmdir(STAGED, dir_fd=box)
            finally:
                os.close(box)
        ctx.record.mark(marker)


def _move_entries(ctx: LocalRun, source: Folder, target: Folder, skip: Tuple[str, ...], create_target: bool = False) -> None:
    """Every entry of ``source`` (but ``skip``) renamed into ``target``, never replacing a name there."""
    src = open_folder(ctx.record, source)
    try:
        dst = open_folder(ctx.record, target, create=create_target)
        try:
            for name in sorted(set(os.listdir(src)) - set(skip)):
                try:
                    rename_noreplace(src, name, dst, name)
                except FileExistsError:
                    raise StepFailed(f"cannot move {shown(os.path.join(source.path, name))}: "
                                     f"{shown(os.path.join(target.path, name))} already exists and is not this "
                                     "restore's (nothing was replaced)") from None
            os.fsync(dst)
            os.fsync(src)
        finally:
            os.close(dst)
    finally:
        os.close(src)
