"""Two-phase archives: where GNU tar keeps its listed-incremental snapshot for one attempt.

Phase 1 (servers running) takes a level-0 archive of every folder item; GNU tar writes the
snapshot of what it saw into a fresh private (0700) folder on the host where it runs, and the
snapshot is fetched into the set. Phase 2 (servers stopped) takes the level-1 archive from a
fresh copy of *the set's* snapshot, pushed to the host for each attempt: GNU tar rewrites the
snapshot it is given, so a level 1 retried or resumed from a file left on the host would start
from the wrong moment and silently miss changes. The folder is removed after each attempt.
Before a level 1 the copy loses the records of folders that are gone (``pruned_snapshot``).
"""
from __future__ import annotations

import hashlib
import os
import secrets
import shlex
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ...archive import copy_file, incremental_args
from ...atomic import write_file_atomic
from ...errors import StepFailed
from ...hosts import Host
from ...log import get_logger
from ...plan import Item
from ...transport import Transport

SNAPSHOTS = "snapshots"
SNAPSHOT_NAME = "snapshot.snar"


def snapshot_relpath(item: Item) -> str:
    """Where the level-0 snapshot of ``item`` lives in the set."""
    return f"{SNAPSHOTS}/{item.name}.level0.snar"


def level1_relpath(item: Item) -> str:
    return f"archives/{item.name}.level1.tar.zst"


class SnapshotPlace:
    """A private folder holding tar's snapshot for one archive attempt, here or on a host."""

    def __init__(self, folder: str, host: Optional[Host], transport: Optional[Transport]) -> None:
        self.folder = folder
        self.host = host
        self.transport = transport

    @property
    def path(self) -> str:
        return os.path.join(self.folder, SNAPSHOT_NAME)

    @property
    def tar_args(self) -> List[str]:
        return incremental_args(self.path)

    def fetch(self, dest: str) -> Dict[str, Any]:
        """Copy the snapshot tar wrote into the set (hashed as it lands); its record."""
        os.makedirs(os.path.dirname(dest), mode=0o700, exist_ok=True)
        if self.host is not None and self.transport is not None:
            copied = self.transport.get(self.host, self.path, dest)
            digest, size = copied.sha256, copied.size
        else:
            result = copy_file(self.path, dest)
            digest, size = result.sha256, result.size
        os.chmod(dest, 0o600)
        return {"sha256": digest, "size": size}


def _fresh_folder_command(folder: str) -> str:
    """Make the private folder; ``mkdir`` fails when the name exists (nothing is reused or followed)."""
    return f"umask 077 && mkdir -m 700 -- {shlex.quote(folder)}"


def directory_inodes_command(item: Item) -> str:
    """Every folder of the item as tar names it (``.``, ``./a``) with its inode, NUL-separated
    (GNU find); nested items' trees are not walked."""
    prunes = " ".join(f"-path {shlex.quote(e)} -prune -o" for e in item.nested_excludes)
    return f"cd -- {shlex.quote(item.source)} && find . {prunes} -type d -printf '%i %p\\0'"


def parse_directory_inodes(output: bytes) -> Dict[bytes, int]:
    found: Dict[bytes, int] = {}
    for entry in output.split(b"\0"):
        inode, _, name = entry.partition(b" ")
        if name and inode.isdigit():
            found[name] = int(inode)
    return found


def pruned_snapshot(data: bytes, directories: Dict[bytes, int]) -> Tuple[bytes, int]:
    """The level-0 snapshot without the records of folders that are no longer at their path with
    their inode; (new content, records dropped).

    GNU tar takes a folder it does not find by name for the rename of any recorded folder with
    the same inode. A deleted folder's inode is soon reused (a folder deleted and another made
    between the phases), and the extraction then fails to rename, or renames the wrong tree. Left
    without those records, a folder renamed between the phases is archived whole at level 1 (new
    to tar) and its old name is deleted at extraction: correct, at the cost of its size. Snapshot
    format 2 (GNU tar 1.16 through 1.35): a header line, the dump time (two fields), then per folder
    ``nfs mtime_s mtime_ns dev ino name`` and its entries, each NUL-terminated, closed by two NULs.
    """
    header, newline, rest = data.partition(b"\n")
    if not newline or not header.startswith(b"GNU tar-") or not header.endswith(b"-2"):
        raise StepFailed(f"the level-0 snapshot is not in GNU tar's format 2 ({header[:40]!r})")
    tokens = rest.split(b"\0")
    out = [header + b"\n" + b"\0".join(tokens[:2]) + b"\0"]
    dropped, at = 0, 2
    while at < len(tokens) and tokens[at:] != [b""]:
        fields = tokens[at:at + 6]
        if len(fields) < 6 or not fields[4].isdigit():
            raise StepFailed("the level-0 snapshot is damaged (a folder record is cut short)")
        at += 6
        entries = []
        while at < len(tokens) and tokens[at]:
            entries.append(tokens[at])
            at += 1
        if tokens[at:at + 2] != [b"", b""]:
            raise StepFailed("the level-0 snapshot is damaged (a folder record is not closed)")
        at += 2
        if directories.get(fields[5]) != int(fields[4]):
            dropped += 1
            continue
        out.append(b"\0".join(fields) + b"\0" + b"".join(e + b"\0" for e in entries) + b"\0\0")
    return b"".join(out), dropped


def _level1_snapshot(item: Item, base: str, base_sha256: Optional[str], host: Optional[Host],
                     transport: Optional[Transport]) -> Tuple[bytes, int]:
    """The set's level-0 snapshot, checked against its record, pruned against the folders as they
    are now (read on the host where tar runs)."""
    with open(base, "rb") as handle:
        data = handle.read()
    _check_base(item, base, hashlib.sha256(data).hexdigest(), base_sha256)
    command = directory_inodes_command(item)
    if host is not None and transport is not None:
        proc = transport.run(host, command, timeout=3600, text=False)
    else:
        proc = subprocess.run(["sh", "-c", command], capture_output=True, timeout=3600)
    if proc.returncode != 0:
        raise StepFailed(f"item {item.name}: cannot list the folders of {item.source}"
                         f"{' on host ' + host.name if host else ''}: {proc.stderr.decode(errors='replace')[-200:]}")
    return pruned_snapshot(data, parse_directory_inodes(proc.stdout))


@contextmanager
def snapshot_place(item: Item, host: Optional[Host], transport: Optional[Transport],
                   base: Optional[str] = None, base_sha256: Optional[str] = None) -> Iterator[SnapshotPlace]:
    """A fresh private folder for one attempt; for a level 1, the set's level-0 snapshot ``base``
    (checked against ``base_sha256``, pruned: ``pruned_snapshot``) is written into it first.
    Removed afterwards, whatever happened."""
    level1 = _level1_snapshot(item, base, base_sha256, host, transport) if base is not None else None
    if level1 is not None and level1[1]:
        get_logger().info("item %s: %d folder record(s) of the level-0 snapshot are gone or were replaced; "
                          "level 1 takes those folders whole", item.name, level1[1])
    if host is None:
        folder = tempfile.mkdtemp(prefix=f"cnxbackup-{item.name}-")  # 0700
        place = SnapshotPlace(folder, None, None)
        try:
            if level1 is not None:
                write_file_atomic(place.path, level1[0])
            yield place
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    assert transport is not None
    folder = f"/tmp/cnxbackup-{secrets.token_hex(8)}"
    place = SnapshotPlace(folder, host, transport)
    try:
        made = transport.run(host, _fresh_folder_command(folder))
        if made.returncode != 0:
            raise StepFailed(f"item {item.name}: cannot make the private folder {folder} on host {host.name}: "
                             f"{str(made.stderr).strip()[-200:]}")
        if level1 is not None:
            with tempfile.NamedTemporaryFile(prefix="cnxbackup-snapshot-") as local:
                local.write(level1[0])
                local.flush()
                sent = transport.put(host, local.name, place.path)
            if sent.sha256 != hashlib.sha256(level1[0]).hexdigest():
                raise StepFailed(f"item {item.name}: the snapshot sent to host {host.name} arrived changed")
        yield place
    finally:
        try:
            transport.run(host, f"rm -rf -- {shlex.quote(folder)}")
        except Exception:  # noqa: BLE001  (an unreachable host keeps a small private folder; the error is elsewhere)
            pass


def _check_base(item: Item, base: str, digest: str, expected: Optional[str]) -> None:
    if expected is not None and digest != expected:
        raise StepFailed(f"item {item.name}: the level-0 snapshot {base} no longer matches the set's record "
                         f"(sha256 {digest[:12]}..., recorded {expected[:12]}...); the level 0 is redone on resume")
