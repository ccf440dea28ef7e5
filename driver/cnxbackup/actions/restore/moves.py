"""The restore's moves, each recorded before and after it, and resumed by identity.

Every rename the swap makes (a live tree moved aside, a staged tree moved in, a live nested item
carried into the staged tree, a mount point's entries moved one by one) goes through ``move``:

1. the journal records the intent with the identity (device, inode) of what moves, fsynced;
2. the rename, between two verified folder descriptors, never replacing anything;
3. the identity now at the target is checked, and the journal records the move done.

A crash can come between any two of these. ``move`` run again (``restore --resume``) decides
from the record and from what it finds, by identity, never by name: the identity at the target
means the rename happened; at the source, that it did not; anywhere else, that someone moved it,
and the resume stops naming both places. A name it finds at the target that it has not recorded
is never taken for its own. So at every instant each tree is the original, the restored copy, or
a moved-aside copy, and the journal says which.

Containers (``<dest>.cnxrestore-<stamp>``, root's 0700 folders beside each destination) hold a
staged tree until it moves in, and what it replaced after: recorded with their identity when
made, found again only by that identity.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from ...dirfd import (
    Identity,
    UnsafePath,
    chase,
    chase_or_make,
    identity_at,
    make_private_dir,
    open_private_dir,
    rename_noreplace,
    walk_at,
)
from ...errors import StepFailed
from ...journal import Journal
from ...shown import printable as shown

INTENT, DONE, ABSENT = "intent", "done", "absent"


@dataclass(frozen=True)
class MoveRecord:
    """One move as the journal holds it."""

    state: str  # intent | done | absent (nothing was there to move)
    identity: Optional[Identity]
    source: str
    target: str

    @classmethod
    def from_data(cls, data: Any) -> Optional["MoveRecord"]:
        if not isinstance(data, dict) or data.get("state") not in (INTENT, DONE, ABSENT):
            return None
        raw = data.get("identity")
        identity = Identity(int(raw[0]), int(raw[1])) if isinstance(raw, list) and len(raw) == 2 else None
        return cls(data["state"], identity, str(data.get("from", "")), str(data.get("to", "")))

    def as_data(self) -> Dict[str, Any]:
        return {"state": self.state, "identity": self.identity.as_list() if self.identity else None,
                "from": self.source, "to": self.target}


class Moves:
    """The journal's record of every move and container of a restore (``journal.data['moves']``,
    ``['containers']``), written through the journal: atomic and fsynced each time."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def _table(self, key: str) -> Dict[str, Any]:
        table = self.journal.data.get(key)
        return table if isinstance(table, dict) else {}

    def get(self, move_id: str) -> Optional[MoveRecord]:
        return MoveRecord.from_data(self._table("moves").get(move_id))

    def put(self, move_id: str, record: MoveRecord) -> None:
        self.journal.put("moves", {**self._table("moves"), move_id: record.as_data()})

    def container(self, key: str) -> Optional[Identity]:
        raw = self._table("containers").get(key)
        return Identity(int(raw[0]), int(raw[1])) if isinstance(raw, list) and len(raw) >= 2 else None

    def container_path(self, key: str) -> Optional[str]:
        raw = self._table("containers").get(key)
        return str(raw[2]) if isinstance(raw, list) and len(raw) == 3 else None

    def put_container(self, key: str, identity: Optional[Identity], path: str = "") -> None:
        table = dict(self._table("containers"))
        if identity is None:
            table.pop(key, None)
        else:
            table[key] = identity.as_list() + ([path] if path else [])
        self.journal.put("containers", table)

    def done(self, move_id: str) -> bool:
        record = self.get(move_id)
        return record is not None and record.state in (DONE, ABSENT)

    def mark(self, move_id: str, state: str = DONE) -> None:
        """An operation with no rename of its own (a marker of its end)."""
        self.put(move_id, MoveRecord(state, None, "", ""))


@dataclass(frozen=True)
class Folder:
    """A folder the swap works in: found from ``/`` (``chase``), or inside a container of this
    restore (found by its recorded identity, then folder by folder, never through a link)."""

    path: str  # absolute, for messages
    container: Optional[Tuple[str, str]] = None  # (the container's path, its journal key)
    inside: Tuple[str, ...] = ()  # the folders below the container (or below ``base``), never through a link
    base: Optional[str] = None  # found from ``/`` (``chase``), then ``inside`` below it

    @classmethod
    def within(cls, base: str, path: str) -> "Folder":
        """``path`` inside an item's tree at ``base``: ``base``'s parent is found from ``/``, and every
        folder from ``base`` down is opened without following a link (the item's own tree: a link
        its owner put there is never a way out of it)."""
        parent = os.path.dirname(base)
        parts = tuple(p for p in os.path.relpath(path, parent).split(os.sep) if p not in ("", "."))
        if ".." in parts:
            raise StepFailed(f"{shown(path)} is not inside {shown(base)}")
        return cls(path, None, parts, parent)

    def at(self, name: str) -> "Spot":
        return Spot(self, name)

    def below(self, *parts: str) -> "Folder":
        return Folder(os.path.join(self.path, *parts), self.container, self.inside + parts, self.base)


@dataclass(frozen=True)
class Spot:
    """A name inside a folder."""

    where: Folder
    name: str

    @property
    def path(self) -> str:
        return os.path.join(self.where.path, self.name)


def open_container(moves: Moves, path: str, key: str) -> int:
    """The container at ``path`` made by this restore (its recorded identity), as a descriptor."""
    expected = moves.container(key)
    if expected is None:
        raise StepFailed(f"{shown(path)}: no container of this restore is recorded there; not using it")
    made_at = moves.container_path(key)
    if made_at is not None and made_at != path:  # a mount point then, a plain folder now, or the reverse
        raise StepFailed(f"this restore keeps {shown(key)} in {shown(made_at)}, not {shown(path)}: is the filesystem "
                         "mounted as it was when the restore started? Mount it so, then resume")
    parent = chase(os.path.dirname(path))
    try:
        return open_private_dir(parent, os.path.basename(path), expected)
    except (OSError, UnsafePath) as error:
        raise StepFailed(f"{shown(path)}: not the container this restore made ({error}); not using it") from None
    finally:
        os.close(parent)


def open_folder(moves: Moves, folder: Folder, create: bool = False) -> int:
    """A descriptor of ``folder`` (inside a container, ``create`` makes missing folders)."""
    if folder.container is None and folder.base is None:
        return chase(folder.path)
    top = open_container(moves, *folder.container) if folder.container is not None else chase(str(folder.base))
    try:
        return walk_at(top, list(folder.inside), create=create)
    finally:
        os.close(top)


def make_container(moves: Moves, path: str, key: str) -> None:
    """Make (or, after a crash, find again) the container at ``path``: recorded before it is made,
    with its identity after; a name already there that is not recorded refuses."""
    if moves.container(key) is not None:
        os.close(open_container(moves, path, key))
        return
    parent = chase_or_make(os.path.dirname(path))
    try:
        pending = moves.get("container:" + key)
        if pending is not None and pending.state == INTENT:
            # made by the interrupted run before it could record the identity: only this user can
            # make a private folder of its own, and nothing was put in it yet, so an empty one found
            # there is ours (one holding anything -- an older restore's, renamed there -- is not)
            try:
                fd = open_private_dir(parent, os.path.basename(path))
            except FileNotFoundError:
                fd = make_private_dir(parent, os.path.basename(path))
            if os.listdir(fd):
                os.close(fd)
                raise StepFailed(f"{shown(path)} is not the empty folder this restore made before it was "
                                 "interrupted; refused")
        else:
            moves.put("container:" + key, MoveRecord(INTENT, None, "", path))
            try:
                fd = make_private_dir(parent, os.path.basename(path))
            except FileExistsError:
                raise StepFailed(f"{shown(path)} already exists and is not this restore's; refused") from None
        moves.put_container(key, Identity.of(os.fstat(fd)), path)
        moves.mark("container:" + key)
        os.close(fd)
    finally:
        os.close(parent)


def move(moves: Moves, move_id: str, source: Spot, target: Spot, create_target: bool = False) -> bool:
    """Rename ``source`` to ``target`` once, whatever crashed before (see the module's text).
    False when there was nothing to move."""
    record = moves.get(move_id)
    if record is not None and record.state in (DONE, ABSENT):
        return record.state == DONE
    try:
        src_fd = open_folder(moves, source.where)
    except FileNotFoundError:
        if record is None:  # not this restore's doing: the folder is gone, not its content moved
            raise StepFailed(f"{shown(source.where.path)} is not there any more: {shown(source.path)} cannot be "
                             "moved; put it back as it was, then resume") from None
        src_fd = -1
    try:
        dst_fd = open_folder(moves, target.where, create=create_target)
        try:
            return _move_between(moves, move_id, record, source, target, src_fd, dst_fd)
        finally:
            os.close(dst_fd)
    finally:
        if src_fd >= 0:
            os.close(src_fd)


def _move_between(moves: Moves, move_id: str, record: Optional[MoveRecord], source: Spot, target: Spot,
                  src_fd: int, dst_fd: int) -> bool:
    at_source = identity_at(src_fd, source.name) if src_fd >= 0 else None
    at_target = identity_at(dst_fd, target.name)
    if record is not None:  # an intent: did the rename happen before the crash?
        if record.identity is not None and at_target == record.identity:
            moves.put(move_id, MoveRecord(DONE, record.identity, source.path, target.path))
            return True
        if record.identity is None or at_source != record.identity:
            raise StepFailed(f"{shown(source.path)} was to move to {shown(target.path)}, but neither holds what the "
                             "journal recorded: something else moved it; not resuming (look at both)")
    elif at_source is None:
        moves.put(move_id, MoveRecord(ABSENT, None, source.path, target.path))
        return False
    if at_target is not None:
        raise StepFailed(f"cannot move {shown(source.path)}: {shown(target.path)} already exists and is not this "
                         "restore's (nothing was replaced)")
    identity = at_source
    assert identity is not None
    moves.put(move_id, MoveRecord(INTENT, identity, source.path, target.path))
    rename_noreplace(src_fd, source.name, dst_fd, target.name)
    if identity_at(dst_fd, target.name) != identity:
        raise StepFailed(f"{shown(target.path)}: after the move it does not hold what was moved; not going on")
    for folder in {src_fd, dst_fd}:  # the rename on disk before the journal says done (a power loss too)
        os.fsync(folder)
    moves.put(move_id, MoveRecord(DONE, identity, source.path, target.path))
    return True
