"""How root works in trees another user owns: through directory descriptors, never through names
that user can change between a check and a use.

Restore runs as root on folders that belong to the WebSphere user, who can rename anything in
them at any moment. So a path is resolved once, component by component, into an open directory
descriptor (``chase``, after systemd's ``chase()`` with ``CHASE_SAFE``), and every later step
names files relative to such descriptors (``dir_fd=``), never through the path again. A tree
root builds goes into a container only root can enter (``make_private_dir``: a fresh 0700
folder, ``EEXIST`` if the name is taken), where nobody else can reach it. The one name-based step
in a folder others can write is a rename between two verified descriptors, with
``RENAME_NOREPLACE`` where the filesystem has it, followed by a check of what is now at the name.
"""
from __future__ import annotations

import ctypes
import errno
import os
import stat
from typing import List, NamedTuple, Optional

from .errors import CnxBackupError

MAX_LINKS = 40  # as the kernel's path walk
RENAME_NOREPLACE = 1
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafePath(CnxBackupError):
    """A path root must not work through (a link or a folder another user can change)."""


class Identity(NamedTuple):
    """What a name pointed to: device and inode (a rename keeps both)."""

    dev: int
    ino: int

    @classmethod
    def of(cls, info: os.stat_result) -> "Identity":
        return cls(info.st_dev, info.st_ino)

    def as_list(self) -> List[int]:
        return [self.dev, self.ino]


def _unsafe_transition(parent: os.stat_result, child: os.stat_result) -> bool:
    """systemd's rule: from a folder owned by root anything may follow; from a folder owned by
    another user only what that same user owns (that user could swap it anyway)."""
    return parent.st_uid != 0 and child.st_uid != parent.st_uid


def chase(path: str) -> int:
    """An open descriptor of the folder at the absolute ``path``, walked from ``/`` one component
    at a time, with systemd's ``CHASE_SAFE`` rule at every step: from a folder owned by root
    anything may follow; from a folder owned by another user only what that same user owns --
    a folder, or a link (an absolute link's step up to ``/`` is refused there). So a link the
    WebSphere user puts in their own tree never leads root out of what that user owns.
    The caller closes the descriptor."""
    if not os.path.isabs(path):
        raise UnsafePath(f"{path}: not an absolute path")
    fd = os.open("/", DIR_FLAGS)
    todo = [part for part in path.split("/") if part]
    links = 0
    try:
        while todo:
            part = todo.pop(0)
            if part == ".":
                continue
            if part == "..":
                raise UnsafePath(f"{path}: '..' is not followed")
            here = os.fstat(fd)
            try:
                info = os.stat(part, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                raise FileNotFoundError(errno.ENOENT, "no such folder", path) from None
            if stat.S_ISLNK(info.st_mode):
                links += 1
                if links > MAX_LINKS or _unsafe_transition(here, info):
                    raise UnsafePath(f"{path}: the link {part} is owned by uid {info.st_uid} inside a folder of uid "
                                     f"{here.st_uid}; not followed")
                target = os.readlink(part, dir_fd=fd)
                todo = [p for p in target.split("/") if p] + todo
                if target.startswith("/"):
                    top = os.open("/", DIR_FLAGS)
                    if _unsafe_transition(here, os.fstat(top)):  # from a folder another user owns up to /
                        os.close(top)
                        raise UnsafePath(f"{path}: the link {part} in a folder of uid {here.st_uid} leads to / "
                                         f"({target}); not followed")
                    os.close(fd)
                    fd = top
                continue
            if _unsafe_transition(here, info):
                raise UnsafePath(f"{path}: {part} (uid {info.st_uid}) sits in a folder of uid {here.st_uid}, who could "
                                 "swap it; refused")
            child = os.open(part, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
            if Identity.of(os.fstat(fd)) != Identity.of(info):
                raise UnsafePath(f"{path}: {part} changed while it was opened")
        return fd
    except BaseException:
        os.close(fd)
        raise


def identity_at(dir_fd: int, name: str) -> Optional[Identity]:
    """What is at ``name`` inside the folder (never following a link), or None."""
    try:
        return Identity.of(os.stat(name, dir_fd=dir_fd, follow_symlinks=False))
    except FileNotFoundError:
        return None


def open_dir_at(dir_fd: int, name: str) -> int:
    """A descriptor of the folder ``name`` inside ``dir_fd`` (a link there: ELOOP/ENOTDIR)."""
    return os.open(name, DIR_FLAGS, dir_fd=dir_fd)


def is_private(info: os.stat_result) -> bool:
    """A folder only this user can enter: its own, mode 0700 (nobody else can make one like it)."""
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) == 0o700


def make_private_dir(dir_fd: int, name: str) -> int:
    """Create ``name`` (failing if it exists, whatever it is) as a 0700 folder of this user, and
    return its verified descriptor."""
    os.mkdir(name, 0o700, dir_fd=dir_fd)
    fd = open_dir_at(dir_fd, name)
    try:
        os.fchmod(fd, 0o700)  # whatever the umask
        if not is_private(os.fstat(fd)):
            raise UnsafePath(f"{name}: the folder just made is not this user's own 0700 folder")
        return fd
    except BaseException:
        os.close(fd)
        raise


def open_private_dir(dir_fd: int, name: str, expected: Optional[Identity] = None) -> int:
    """The private folder ``name`` made earlier (this user's, 0700, and ``expected`` when given)."""
    fd = open_dir_at(dir_fd, name)
    info = os.fstat(fd)
    if not is_private(info) or (expected is not None and Identity.of(info) != expected):
        os.close(fd)
        raise UnsafePath(f"{name}: not the private folder this restore made")
    return fd


_libc: Optional[ctypes.CDLL] = None


def _renameat2(src_fd: int, src: str, dst_fd: int, dst: str, flags: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    function = getattr(_libc, "renameat2", None)
    if function is None:
        raise OSError(errno.ENOSYS, "renameat2 is not in this C library")
    if function(src_fd, os.fsencode(src), dst_fd, os.fsencode(dst), flags) != 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number), dst)


def rename_noreplace(src_fd: int, src: str, dst_fd: int, dst: str) -> None:
    """Rename between two folder descriptors, failing with EEXIST when ``dst`` exists. Where the
    filesystem rejects the flag (NFS: EINVAL), the target is checked absent first and renamed
    plainly: the caller then checks the identity at ``dst``."""
    try:
        _renameat2(src_fd, src, dst_fd, dst, RENAME_NOREPLACE)
        return
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise
    if identity_at(dst_fd, dst) is not None:
        raise FileExistsError(errno.EEXIST, "exists", dst)
    os.rename(src, dst, src_dir_fd=src_fd, dst_dir_fd=dst_fd)


def remove_tree_at(dir_fd: int, name: str) -> None:
    """Remove ``name`` inside the folder and everything below it, never following a link."""
    info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if not stat.S_ISDIR(info.st_mode):
        os.unlink(name, dir_fd=dir_fd)
        return
    fd = open_dir_at(dir_fd, name)
    try:
        for entry in os.listdir(fd):
            remove_tree_at(fd, entry)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dir_fd)


def make_dirs_at(dir_fd: int, parts: List[str], mode: int = 0o755) -> int:
    """A descriptor of ``parts`` below ``dir_fd``, each folder made when missing, none followed
    through a link. For trees only this user can reach (inside a private folder)."""
    return walk_at(dir_fd, parts, create=True, mode=mode)


def walk_at(dir_fd: int, parts: List[str], create: bool = False, mode: int = 0o755) -> int:
    """A new descriptor of ``parts`` below ``dir_fd`` (``dir_fd`` stays open), opened one folder at a
    time without following a link; ``create`` makes the missing ones."""
    fd = os.dup(dir_fd)
    try:
        for part in parts:
            if create:
                try:
                    os.mkdir(part, mode, dir_fd=fd)
                except FileExistsError:
                    pass
            child = open_dir_at(fd, part)
            os.close(fd)
            fd = child
        return fd
    except BaseException:
        os.close(fd)
        raise


def fd_path(fd: int) -> str:
    """A path that names the open folder itself (for tools that take a path: tar, with the
    descriptor passed through ``pass_fds``, and this process's own file functions)."""
    return f"/proc/self/fd/{fd}"


def private_folder(path: str) -> None:
    """Make sure ``path`` is a folder only this user can change, every folder above it one that only
    this user or root can change (owned by one of them, not writable by others unless sticky), none
    reached through a link another user owns; missing folders are made 0700. Then this user may
    name files inside it by path: nobody else can swap a name on the way."""
    me = os.geteuid()
    parts = [part for part in path.split("/") if part]
    for depth in range(1, len(parts) + 1):
        here = "/" + "/".join(parts[:depth])
        try:
            os.mkdir(here, 0o700)
        except FileExistsError:
            pass
        fd = chase(here)
        try:
            info = os.fstat(fd)
        finally:
            os.close(fd)
        last = depth == len(parts)
        writable = info.st_mode & 0o022 and not (info.st_mode & stat.S_ISVTX and not last)
        if info.st_uid not in (0, me) or writable or (last and info.st_uid != me):
            raise UnsafePath(f"{here}: owned by uid {info.st_uid}, mode {stat.S_IMODE(info.st_mode):o}: others could "
                             f"change what is inside; {path} must be a folder only uid {me} can change")


def make_private_at(path: str) -> None:
    """Make the folder ``path`` (failing if the name exists) 0700 inside a folder that
    ``private_folder`` accepted, and check what was made."""
    private_folder(os.path.dirname(path))
    parent = chase(os.path.dirname(path))
    try:
        os.close(make_private_dir(parent, os.path.basename(path)))
    finally:
        os.close(parent)


def chase_or_make(path: str, mode: int = 0o755) -> int:
    """``chase(path)``, the missing folders at its end made first (0755, this user's), each made
    through the descriptor of the one above it (a restore under ``--target-root`` into an empty folder)."""
    try:
        return chase(path)
    except FileNotFoundError:
        parent = os.path.dirname(path)
        if parent == path:
            raise
    fd = chase_or_make(parent, mode)
    try:
        try:
            os.mkdir(os.path.basename(path), mode, dir_fd=fd)
        except FileExistsError:
            pass
        return open_dir_at(fd, os.path.basename(path))
    finally:
        os.close(fd)
