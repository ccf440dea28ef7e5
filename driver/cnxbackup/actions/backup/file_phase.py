"""The file phase: one archive (or copied file) per item, hosts in parallel, each journaled.

Two-phase (``archive.mode``): phase 1 takes a level-0 archive of every folder while the servers
run (low priority); phase 2, after the stop, a level 1 of each folder (see :mod:`.levels`) and
the single files. A level 0 whose file no longer verifies is taken again, and then its level 1.
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Tuple

from ... import remote_archive
from ...archive import (
    ArchiveCancelled,
    ArchiveResult,
    DiskFullError,
    attribute_args,
    changed_while_read,
    copy_file,
    create_archive,
    hash_file,
    low_priority_prefix,
)
from ...errors import Interrupted, StepFailed
from ...hosts import Host, host_parallel
from ...journal import DONE, FAILED, RUNNING, WARNING
from ...plan import Item
from ...progress import counted
from ...transport import run_per_host
from . import levels
from .state import BackupRun

PHASE1, PHASE2, FULL = "phase 1", "phase 2", "full"
"""Which archives a call takes: level 0 of the folders (servers running), level 1 of the folders
and the single files (servers stopped), or one archive per item (``archive.mode: full``)."""


def two_phase(run: BackupRun) -> bool:
    return bool(run.env.section("archive")["mode"] == "two-phase")


def folder_items(items: List[Item]) -> List[Item]:
    return [item for item in items if item.kind == "archive"]


def step_of(item: Item, level: Optional[int]) -> str:
    """The journal step of an item's archive: ``item:NAME`` (level 0 or the one archive),
    ``level1:NAME`` for a level 1."""
    return f"level1:{item.name}" if level == 1 else f"item:{item.name}"


def archive_items(run: BackupRun, items: List[Item], phase: str = FULL) -> None:
    """Archive items, hosts in parallel (per-host limit); one host's failure spares the others."""
    by_host: Dict[str, List[Tuple[Item, Optional[int]]]] = {}
    for item in items:
        level = _level_in(phase, item)
        if phase == PHASE2 and level == 1 and not run.journal.is_finished(f"item:{item.name}"):
            run.journal.set(step_of(item, 1), FAILED, error="no level-0 archive (it failed before the stop)")
            run.failures.append(f"{item.name} (host {item.host}): no level-0 archive, so no level 1")
            continue
        if _already_done(run, item, level):
            run.progress.message(f"[{_label(item, level)}] already done in this set, verified, skipped")
            continue
        by_host.setdefault(item.host, []).append((item, level))
    if not by_host:
        return
    todo = [entry for entries in by_host.values() for entry in entries]
    run.log.info("%s: %d archive(s) to take: %s", phase, len(todo), ", ".join(_label(i, lv) for i, lv in todo))
    # a level 1 reads what changed, unknown before tar has read it: it adds no bytes to the totals
    run.progress.start_overall(f"files ({phase})" if phase != FULL else "files",
                               sum(item.est_bytes for item, level in todo if level != 1), len(todo))
    limits = {name: host_parallel(run.env, name) for name in by_host}
    results = run_per_host(by_host, lambda _host, entry: _archive_one(run, entry[0], entry[1]), per_host_limit=limits,
                           total_limit=sum(limits.values()), cancel=run.cancel)
    disk_full = None
    for outcome in results:
        error = outcome.error
        if error is None:
            continue
        item, level = outcome.item
        step = step_of(item, level)
        if isinstance(error, (ArchiveCancelled, KeyboardInterrupt)) or run.cancel.is_set():
            run.journal.set(step, FAILED, error="interrupted")
            continue
        if run.journal.status(step) != FAILED:
            run.journal.set(step, FAILED, error=str(error))
        run.failures.append(f"{_label(item, level)} (host {item.host}): {error}")
        run.log.error("item %s failed: %s", _label(item, level), error)
        if isinstance(error, DiskFullError):
            disk_full = error
    if run.cancel.is_set():
        raise Interrupted("interrupted while archiving")
    if disk_full is not None:
        raise StepFailed(f"the target is full: {disk_full}")


def _level_in(phase: str, item: Item) -> Optional[int]:
    if phase == PHASE1:
        return 0
    if phase == PHASE2 and item.kind == "archive":
        return 1
    return None


def _label(item: Item, level: Optional[int]) -> str:
    return item.name if level is None else f"{item.name} level {level}"


def _archive_one(run: BackupRun, item: Item, level: Optional[int]) -> ArchiveResult:
    """One archive (or copied file) of an item, local or on its host; journaled. Raises on failure."""
    settings = run.env.section("archive")
    step = step_of(item, level)
    relpath = levels.level1_relpath(item) if level == 1 else item.relpath
    dest = os.path.join(run.layout.root, relpath)
    os.makedirs(os.path.dirname(dest), mode=0o700, exist_ok=True)
    run.journal.set(step, RUNNING, source=item.source, kind=item.kind, host=item.host, level=level)
    # a copied file is one file: its count is shown once it is done, not as "0/1 files"
    task = run.progress.task(_label(item, level), (item.est_bytes or None) if level != 1 else None,
                             item.est_files if item.kind == "archive" and level != 1 else None)
    extra: Dict[str, Any] = {}
    try:
        if item.kind == "copy":
            result, extra = _copy_one(run, item, dest)
        else:
            result, extra = _archive_folder(run, item, level, dest, settings, task.update)
    except BaseException as error:
        interrupted = isinstance(error, (ArchiveCancelled, KeyboardInterrupt))
        run.journal.set(step, FAILED, error="interrupted" if interrupted else str(error))
        task.finish(verb="interrupted" if interrupted else "FAILED")  # "[item] FAILED: 1.0 MB in 0.5s", never "done"
        raise
    warnings = list(result.warnings)
    changed = changed_while_read(warnings) if level == 0 else []
    warnings = [w for w in warnings if w not in changed]  # level 1 takes those files again, after the stop
    status = WARNING if warnings else DONE
    for warning in warnings:
        run.warnings.append(f"{_label(item, level)}: {warning}")
    if level == 1:
        record: Dict[str, Any] = {"path": relpath}
    else:
        record = item.to_dict()
    record.update({"sha256": result.sha256, "size": result.size, "files": result.files,
                   "warnings": warnings, "seconds": round(result.seconds, 3),
                   "tarBytes": result.tar_bytes or result.size})
    if item.numeric_owner and level != 1:
        record["numericOwner"] = True
    if level == 0:
        record["level"] = 0
        record["changedWhileRead"] = changed
    if item.kind == "archive" and level != 1 and attribute_args(settings["attributes"], _as_root(run, item)):
        record["attributes"] = True  # archived with xattrs, ACLs and SELinux contexts
    record.update(extra)
    run.journal.set(step, status, result=record, level=level)
    run.log.info("item %s (host %s)%s %s -> %s: %d bytes, %s, sha256 %s, %.1f s%s%s; command: %s",
                 item.name, item.host, "" if level is None else f" level {level}", item.source, relpath, result.size,
                 counted(result.files, "entry"), result.sha256,
                 result.seconds, f", {len(warnings)} warning(s)" if warnings else "",
                 f", {len(changed)} file(s) changed while read (level 1 takes them again)" if changed else "",
                 result.command or "copy")
    task.update(result.files, (item.est_bytes if level != 1 else 0) or result.size)
    task.finish(f"-> {relpath} ({result.size:,} bytes, sha256 {result.sha256[:12]}...)")
    return result


def _copy_one(run: BackupRun, item: Item, dest: str) -> Tuple[ArchiveResult, Dict[str, Any]]:
    """A single file: copied into the set (0600), the source's mode and owner recorded."""
    if item.host != "local":
        host = run.hosts[item.host]
        extra = remote_archive.remote_stat(run.transport, host, item.source)
        result = remote_archive.copy_remote(item, dest, run.transport, host, cipher=run.cipher)
    else:
        info = os.stat(item.source)
        extra = {"mode": f"{info.st_mode & 0o7777:04o}", "uid": info.st_uid, "gid": info.st_gid}
        result = copy_file(item.source, dest, cancel=run.cancel, cipher=run.cipher)
    os.chmod(dest, 0o600)  # the set is private; the source's mode is recorded instead
    return result, extra


def _archive_folder(run: BackupRun, item: Item, level: Optional[int], dest: str, settings: Dict[str, Any],
                    progress: Any) -> Tuple[ArchiveResult, Dict[str, Any]]:
    """A folder: one tar | zstd, or a level of a two-phase item with its snapshot."""
    host = run.hosts[item.host] if item.host != "local" else None
    tar_args = remote_archive.archive_tar_args(item, settings, as_root=_as_root(run, item))
    if level is None:
        return _tar(run, item, host, dest, settings, tar_args, progress, low=False), {}
    base = base_sha = None
    if level == 1:
        level0 = run.journal.result(f"item:{item.name}") or {}
        snapshot = level0.get("snapshot") or {}
        base, base_sha = os.path.join(run.layout.root, snapshot.get("path", "")), snapshot.get("sha256")
        tar_args = list(level0.get("tarOptions") or tar_args)  # exactly level 0's excludes and options
    with levels.snapshot_place(item, host, run.transport if host else None, base, base_sha) as place:
        result = _tar(run, item, host, dest, settings, tar_args + place.tar_args, progress,
                      low=level == 0 and bool(settings["low_priority"]))
        if level == 1:
            return result, {"snapshotSha256": base_sha}
        relpath = levels.snapshot_relpath(item)
        fetched = place.fetch(os.path.join(run.layout.root, relpath))
    return result, {"snapshot": dict(fetched, path=relpath), "tarOptions": tar_args}


def _tar(run: BackupRun, item: Item, host: Optional[Host], dest: str, settings: Dict[str, Any], tar_args: List[str],
         progress: Any, *, low: bool) -> ArchiveResult:
    if host is not None:
        return remote_archive.archive_remote(item, dest, run.transport, host, settings, progress, run.cancel,
                                         tar_args=tar_args, low_priority=low, cipher=run.cipher)
    return create_archive(item.source, dest, level=settings["level"], threads=settings["threads"],
                          extra_tar_args=tar_args, progress=progress, cancel=run.cancel,
                          prefix=low_priority_prefix() if low else (), cipher=run.cipher)


def _as_root(run: BackupRun, item: Item) -> bool:
    """Whether the item is read as root: this process here, the ssh user on another host."""
    return run.hosts[item.host].user == "root" if item.host != "local" else os.geteuid() == 0


def _already_done(run: BackupRun, item: Item, level: Optional[int]) -> bool:
    """On resume: trust a finished archive only if its file (and a level 0's snapshot) is there and
    hashes as recorded, and a level 1 only if it was taken from the level-0 snapshot now in the set."""
    step = step_of(item, level)
    if not run.journal.is_finished(step):
        return False
    record = run.journal.result(step) or {}
    if "sha256" not in record:
        return False
    files = [(record.get("path") or item.relpath, record["sha256"], record["size"])]
    if level == 0:
        snapshot = record.get("snapshot") or {}
        if not snapshot.get("path"):
            return False
        files.append((snapshot["path"], snapshot.get("sha256"), snapshot.get("size")))
    if level == 1:
        base = ((run.journal.result(f"item:{item.name}") or {}).get("snapshot") or {}).get("sha256")
        if not base or record.get("snapshotSha256") != base:
            run.log.warning("item %s: its level 1 was not taken from the level-0 snapshot in the set; redoing it",
                            item.name)
            return False
    for relpath, sha256, size in files:
        path = os.path.join(run.layout.root, relpath)
        if not os.path.isfile(path):
            return False
        digest, found = hash_file(path)
        if (digest, found) != (sha256, size):
            run.log.warning("item %s: %s no longer matches the journal; redoing it", _label(item, level), path)
            return False
    return True
