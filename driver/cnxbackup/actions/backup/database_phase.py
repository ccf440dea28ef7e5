"""The database phase of a backup: native tools through the database front door, several at once."""
from __future__ import annotations

import os
import shlex
import time
from typing import Any, Dict, List

from ...databases import (
    DbBackupResult,
    backup_all,
    backup_targets,
    db_host,
    db_secrets,
    db_settings,
    generated_scripts,
    image_record,
    remote_settings,
    result_from_record,
    run_settings,
)
from ...databases.base import TOOLS_CANCELLED
from ...journal import DONE, FAILED, RUNNING, WARNING
from ...manifest import DatabaseRecord
from ...progress import human_seconds
from ...transport import HostUnreachable
from .state import BackupRun


def run(run: BackupRun) -> None:
    env = run.env
    settings = db_settings(env)
    pending = [name for name in run.plan.databases if not run.journal.is_finished(f"db:{name}")]
    if not pending:
        run.progress.message("[databases] all already backed up in this set")
        return
    backup_dir = settings["backup_dir"]
    remote_host = db_host(env)
    if remote_host is None:
        os.makedirs(backup_dir, exist_ok=True)
    else:
        settings = remote_settings(env, settings, run.transport, run.layout.private)
        try:
            run.transport.check(run.hosts[remote_host])
            run.transport.run(run.hosts[remote_host], f"mkdir -p {shlex.quote(backup_dir)}")
        except HostUnreachable as error:  # the DB host's items fail; the file archives go on
            for name in pending:
                run.journal.set(f"db:{name}", FAILED, error=str(error))
            run.failures.append(f"databases: {error}")
            return
    secrets = db_secrets(env)
    settings = run_settings(settings, secrets, run.log)
    targets = [t for t in backup_targets(env, run.plan.version.raw) if t.name in pending]
    for target in targets:
        run.journal.set(f"db:{target.name}", RUNNING)
    run.progress.message(f"[databases] {len(targets)} {settings['vendor']} backups, {settings['concurrency']} at a time ...")

    started = time.monotonic()

    def on_progress(finished: int, total: int, name: str) -> None:
        if not _stopped(run):  # a tool stopped by Ctrl-C did not finish: nothing is said of it
            run.progress.message(f"[databases] {name} finished ({finished}/{total}, elapsed "
                                 f"{human_seconds(time.monotonic() - started)})")

    results = backup_all(targets, settings, backup_dir, concurrency=settings["concurrency"], dry_run=False,
                         secrets=secrets, log=run.log, progress=on_progress)
    failed: List[str] = []
    interrupted: List[str] = []
    copy_back = remote_host is not None and env.section("database")["copy_back"]
    for result in results:
        record = result.to_dict()
        if remote_host is None:
            record["images"] = [image_record(path) for path in result.images]
        else:
            record["host"] = remote_host
            record["images"] = [_remote_image_record(run, remote_host, result.name, path, copy_back)
                                for path in result.images] if result.ok else []
        images = ", ".join(f"{i['path']} ({i.get('size', '?')} bytes, sha256 {i.get('sha256', 'not read')})"
                           for i in record["images"]) or "none"
        run.log.info("database %s: %s in %.1f s, timestamp %s, images %s; command: %s", result.name,
                     "ok" if result.ok else f"FAILED ({result.error})", result.seconds, result.timestamp, images,
                     result.command)
        if result.ok:
            status = WARNING if result.warnings else DONE
            for warning in result.warnings:
                run.warnings.append(f"database {result.name}: {warning}")
            run.journal.set(f"db:{result.name}", status, result=record)
        elif _stopped(run) and "interrupted" in str(result.error):  # stopped by Ctrl-C or a full target
            interrupted.append(result.name)
            run.journal.set(f"db:{result.name}", FAILED, result=record, error="interrupted")
        else:
            failed.append(f"{result.name}: {result.error}")
            run.journal.set(f"db:{result.name}", FAILED, result=record, error=result.error)
    ok = len(results) - len(failed) - len(interrupted)
    run.progress.message(f"[databases] done: {ok} ok, {len(failed)} failed"
                         + (f", {len(interrupted)} interrupted ({', '.join(interrupted)})" if interrupted else ""))
    # A failed database does not stop the file archives: the run ends as partial and
    # --resume redoes only what failed.
    run.failures.extend(f"database {f}" for f in failed)


def _stopped(run: BackupRun) -> bool:
    """Whether the tools were told to stop (Ctrl-C, or the file phase's full target): what did not
    finish then was interrupted, not failed."""
    return run.cancel.is_set() or TOOLS_CANCELLED.is_set()


def _remote_image_record(run: BackupRun, host_name: str, name: str, path: str, copy_back: bool) -> Dict[str, Any]:
    """An image on the DB host; with copy_back it is also fetched into the set (hashed as it lands)."""
    record: Dict[str, Any] = {"path": path, "host": host_name}
    if copy_back:
        local = os.path.join(run.layout.databases, name, os.path.basename(path))
        os.makedirs(os.path.dirname(local), mode=0o700, exist_ok=True)
        copied = run.transport.get(run.hosts[host_name], path, local, cipher=run.cipher)
        os.chmod(local, 0o600)
        record.update({"copy": os.path.relpath(local, run.layout.root), "sha256": copied.sha256, "size": copied.size})
        if copied.source_sha256 is not None:  # encrypted on its way: the image's digest, and the copy's own
            record.update({"sha256": copied.source_sha256, "size": copied.source_size,
                           "copySha256": copied.sha256, "copySize": copied.size})
    return record


def set_scripts(run: BackupRun) -> Dict[str, str]:
    """``scripts/db-backup-<vendor>.sh`` and ``scripts/db-restore-<vendor>.sh`` (no secrets inside)."""
    vendor = run.plan.db_vendor
    if vendor == "none" or not run.plan.databases:
        return {}
    version = run.plan.version.raw
    results: List[DbBackupResult] = [
        result_from_record(DatabaseRecord.from_json(run.journal.result(f"db:{t.name}") or {}, f"journal db:{t.name}"),
                           vendor)
        for t in backup_targets(run.env, version) if run.journal.status(f"db:{t.name}") in (DONE, WARNING)]
    return generated_scripts(run.env, version, results)
