"""The file phase: one archive (or copied file) per item, hosts in parallel, each journaled."""
from __future__ import annotations

import os
from typing import Any, Dict, List

from ..archive import (
    ArchiveCancelled,
    ArchiveResult,
    DiskFullError,
    attribute_args,
    copy_file,
    create_archive,
    hash_file,
)
from ..errors import Interrupted, StepFailed
from ..hosts import host_parallel
from ..journal import DONE, FAILED, RUNNING, WARNING
from ..plan import Item
from ..transport import run_per_host
from . import remote_ops
from .state import BackupRun


def archive_items(run: BackupRun, items: List[Item]) -> None:
    """Archive items, hosts in parallel (per-host limit); one host's failure spares the others."""
    by_host: Dict[str, List[Item]] = {}
    for item in items:
        if _already_done(run, f"item:{item.name}", item):
            run.progress.message(f"[{item.name}] already done in this set, verified, skipped")
            continue
        by_host.setdefault(item.host, []).append(item)
    if not by_host:
        return
    todo = [item for items_ in by_host.values() for item in items_]
    run.progress.start_overall("files", sum(item.est_bytes for item in todo), len(todo))
    limits = {name: host_parallel(run.env, name) for name in by_host}
    results = run_per_host(by_host, lambda _host, item: _archive_one(run, item), per_host_limit=limits,
                           total_limit=sum(limits.values()), cancel=run.cancel)
    disk_full = None
    for outcome in results:
        error = outcome.error
        if error is None:
            continue
        item = outcome.item
        step = f"item:{item.name}"
        if isinstance(error, (ArchiveCancelled, KeyboardInterrupt)) or run.cancel.is_set():
            run.journal.set(step, FAILED, error="interrupted")
            continue
        if run.journal.status(step) != FAILED:
            run.journal.set(step, FAILED, error=str(error))
        run.failures.append(f"{item.name} (host {item.host}): {error}")
        run.log.error("item %s failed: %s", item.name, error)
        if isinstance(error, DiskFullError):
            disk_full = error
    if run.cancel.is_set():
        raise Interrupted("interrupted while archiving")
    if disk_full is not None:
        raise StepFailed(f"the target is full: {disk_full}")


def _archive_one(run: BackupRun, item: Item) -> ArchiveResult:
    """One item, local or on its host; journaled. Raises on failure (run_per_host records it)."""
    settings = run.env.section("archive")
    step = f"item:{item.name}"
    dest = os.path.join(run.layout.root, item.relpath)
    os.makedirs(os.path.dirname(dest), mode=0o700, exist_ok=True)
    run.journal.set(step, RUNNING, source=item.source, kind=item.kind, host=item.host)
    # a copied file is one file: its count is shown once it is done, not as "0/1 files"
    task = run.progress.task(item.name, item.est_bytes or None, item.est_files if item.kind == "archive" else None)
    extra: Dict[str, Any] = {}
    try:
        if item.host != "local":
            host = run.hosts[item.host]
            if item.kind == "copy":
                extra = remote_ops.remote_stat(run.transport, host, item.source)
                result = remote_ops.copy_remote(item, dest, run.transport, host)
            else:
                result = remote_ops.archive_remote(item, dest, run.transport, host, settings, task.update, run.cancel)
        elif item.kind == "copy":
            info = os.stat(item.source)
            extra = {"mode": f"{info.st_mode & 0o7777:04o}", "uid": info.st_uid, "gid": info.st_gid}
            result = copy_file(item.source, dest, progress=task.update, cancel=run.cancel)
        else:
            result = create_archive(
                item.source, dest, level=settings["level"], threads=settings["threads"],
                extra_tar_args=remote_ops.archive_tar_args(item, settings, as_root=_as_root(run, item)),
                progress=task.update, cancel=run.cancel)
        if item.kind == "copy":
            os.chmod(dest, 0o600)  # the set is private; the source's mode is recorded instead
    except BaseException as error:
        run.journal.set(step, FAILED, error="interrupted" if isinstance(error, (ArchiveCancelled, KeyboardInterrupt))
                        else str(error))
        task.finish("FAILED")
        raise
    status = WARNING if result.warnings else DONE
    for warning in result.warnings:
        run.warnings.append(f"{item.name}: {warning}")
    record = item.to_dict()
    record.update({"sha256": result.sha256, "size": result.size, "files": result.files,
                   "warnings": list(result.warnings), "seconds": round(result.seconds, 3),
                   "tarBytes": result.tar_bytes or result.size})
    if item.kind == "archive" and attribute_args(settings["attributes"], _as_root(run, item)):
        record["attributes"] = True  # archived with xattrs, ACLs and SELinux contexts
    record.update(extra)
    run.journal.set(step, status, result=record)
    run.log.info("item %s (host %s) %s -> %s: %d bytes, %d entries, sha256 %s, %.1f s%s; command: %s", item.name,
                 item.host, item.source, item.relpath, result.size, result.files, result.sha256, result.seconds,
                 f", {len(result.warnings)} warning(s)" if result.warnings else "", result.command or "copy")
    task.update(result.files, item.est_bytes or result.size)
    task.finish(f"-> {item.relpath} ({result.size:,} bytes, sha256 {result.sha256[:12]}...)")
    return result


def _as_root(run: BackupRun, item: Item) -> bool:
    """Whether the item is read as root: this process here, the ssh user on another host."""
    return run.hosts[item.host].user == "root" if item.host != "local" else os.geteuid() == 0


def _already_done(run: BackupRun, step: str, item: Item) -> bool:
    """On resume: trust a finished item only if its file is there and hashes as recorded."""
    if not run.journal.is_finished(step):
        return False
    record = run.journal.result(step) or {}
    path = os.path.join(run.layout.root, item.relpath)
    if not os.path.exists(path) or "sha256" not in record:
        return False
    digest, size = hash_file(path)
    if digest != record["sha256"] or size != record["size"]:
        run.log.warning("item %s: %s no longer matches the journal; redoing it", item.name, path)
        return False
    return True
