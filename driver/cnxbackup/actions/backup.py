"""``cnxbackup backup``: HCL's procedure, in order, recorded in one backup set.

Order: wsadmin (aliases, filenetAdmin, role export -- all before any server stops -- then
stop servers), databases (native tools, concurrently), file archives, fileRegistry.xml when
the filenetAdmin user is file-based, REPORT.md / RESTORE.md / DB scripts, and the manifest
last. Every step is journaled; ``--resume`` skips steps that are finished and still verify.
"""
from __future__ import annotations

import errno
import os
import socket
import threading
import time
from typing import Any, Dict, List, Optional

from .. import __version__
from ..archive import ArchiveCancelled, ArchiveError, ArchiveResult, DiskFullError, copy_file, create_archive, hash_file
from ..config import Environment
from ..errors import EXIT_FAILED, EXIT_OK, EXIT_WARNINGS, CnxBackupError, Interrupted, StepFailed
from ..journal import DONE, FAILED, RUNNING, SKIPPED, WARNING, Journal
from ..lock import RunLock
from ..log import add_log_file, get_logger, remove_handler
from ..manifest import write_manifest
from ..plan import Item, Plan
from ..progress import Progress
from . import dbphase, reports, wsphase
from .common import SetLayout, find_resumable_set, new_set_dir, tar_exclude_args


class BackupRun:
    """State shared by the phases of one backup run."""

    def __init__(self, plan: Plan, layout: SetLayout, journal: Journal, progress: Progress,
                 cancel: threading.Event, transport: Any = None) -> None:
        self.plan = plan
        self.env: Environment = plan.env
        self.layout = layout
        self.journal = journal
        self.progress = progress
        self.cancel = cancel
        self.log = get_logger()
        # Warnings live in the journal so that a resumed run still reports the earlier ones.
        self.warnings: List[str] = journal.data.setdefault("warnings", [])
        self.failures: List[str] = []
        from ..hosts import hosts_of, make_transport

        self.hosts = hosts_of(self.env)
        self.transport = transport if transport is not None else make_transport(self.env)

    # ---- files -------------------------------------------------------------------------
    def archive_items(self, items: List[Item]) -> None:
        """Archive items, hosts in parallel (per-host limit); one host's failure spares the others."""
        from ..hosts import host_config
        from ..remote import run_per_host

        by_host: Dict[str, List[Item]] = {}
        for item in items:
            if self._already_done(f"item:{item.name}", item):
                self.progress.message(f"[{item.name}] already done in this set, verified, skipped")
                continue
            by_host.setdefault(item.host, []).append(item)
        if not by_host:
            return
        limits = [host_config(self.env, name).get("parallel") or 1 for name in by_host]
        per_host = max(limits) if len(by_host) > 1 else self.env.section("archive")["parallel"]
        results = run_per_host(by_host, lambda _host, item: self._archive_one(item), per_host_limit=per_host,
                               total_limit=max(1, per_host * len(by_host)), cancel=self.cancel)
        disk_full = None
        for outcome in results:
            error = outcome.error
            if error is None:
                continue
            item = outcome.item
            step = f"item:{item.name}"
            if isinstance(error, (ArchiveCancelled, KeyboardInterrupt)) or self.cancel.is_set():
                self.journal.set(step, FAILED, error="interrupted")
                continue
            if self.journal.status(step) != FAILED:
                self.journal.set(step, FAILED, error=str(error))
            self.failures.append(f"{item.name} (host {item.host}): {error}")
            self.log.error("item %s failed: %s", item.name, error)
            if isinstance(error, DiskFullError):
                disk_full = error
        if self.cancel.is_set():
            raise Interrupted("interrupted while archiving")
        if disk_full is not None:
            raise StepFailed(f"the target is full: {disk_full}")

    def _archive_one(self, item: Item) -> ArchiveResult:
        """One item, local or on its host; journaled. Raises on failure (run_per_host records it)."""
        from . import remote_ops

        settings = self.env.section("archive")
        step = f"item:{item.name}"
        dest = os.path.join(self.layout.root, item.relpath)
        os.makedirs(os.path.dirname(dest), mode=0o700, exist_ok=True)
        self.journal.set(step, RUNNING, source=item.source, kind=item.kind, host=item.host)
        task = self.progress.task(item.name, item.est_bytes or None, item.est_files or None)
        extra: Dict[str, Any] = {}
        try:
            if item.host != "local":
                host = self.hosts[item.host]
                if item.kind == "copy":
                    extra = remote_ops.remote_stat(self.transport, host, item.source)
                    result = remote_ops.copy_remote(item, dest, self.transport, host)
                else:
                    result = remote_ops.archive_remote(item, dest, self.transport, host, settings, task.update, self.cancel)
            elif item.kind == "copy":
                info = os.stat(item.source)
                extra = {"mode": f"{info.st_mode & 0o7777:04o}", "uid": info.st_uid, "gid": info.st_gid}
                result = copy_file(item.source, dest, progress=task.update, cancel=self.cancel)
            else:
                result = create_archive(
                    item.source, dest, level=settings["level"], threads=settings["threads"],
                    extra_tar_args=tar_exclude_args(settings["excludes"], item.nested_excludes) + list(settings["tar_options"]),
                    progress=task.update, cancel=self.cancel)
            if item.kind == "copy":
                os.chmod(dest, 0o600)  # the set is private; the source's mode is recorded instead
        except BaseException as error:
            self.journal.set(step, FAILED, error="interrupted" if isinstance(error, (ArchiveCancelled, KeyboardInterrupt))
                             else str(error))
            task.finish("FAILED")
            raise
        status = WARNING if result.warnings else DONE
        for warning in result.warnings:
            self.warnings.append(f"{item.name}: {warning}")
        record = self._archive_record(item, result)
        record.update(extra)
        self.journal.set(step, status, result=record)
        task.update(result.files, item.est_bytes or result.size)
        task.finish(f"-> {item.relpath} ({result.size:,} bytes, sha256 {result.sha256[:12]}...)")
        return result

    def _archive_record(self, item: Item, result: ArchiveResult) -> Dict[str, Any]:
        record = item.to_dict()
        record.update({"sha256": result.sha256, "size": result.size, "files": result.files,
                       "warnings": list(result.warnings), "seconds": round(result.seconds, 3)})
        return record

    def _already_done(self, step: str, item: Item) -> bool:
        """On resume: trust a finished item only if its file is there and hashes as recorded."""
        if not self.journal.is_finished(step):
            return False
        record = self.journal.result(step) or {}
        path = os.path.join(self.layout.root, item.relpath)
        if not os.path.exists(path) or "sha256" not in record:
            return False
        digest, size = hash_file(path)
        if digest != record["sha256"] or size != record["size"]:
            self.log.warning("item %s: %s no longer matches the journal; redoing it", item.name, path)
            return False
        return True


def run_backup(env: Environment, plan: Plan, *, progress: Progress, resume: Optional[str] = None,
               cancel: Optional[threading.Event] = None, transport: Any = None) -> int:
    """Run a backup; returns the exit code (0, 1 or 3). Raises Interrupted on Ctrl-C."""
    from .. import signals

    cancel = cancel or signals.CANCEL
    target = env.section("target")["dir"]
    os.makedirs(target, mode=0o700, exist_ok=True)
    if resume:
        set_dir = find_resumable_set(target, env.name) if resume == "latest" else resume
    else:
        set_dir = new_set_dir(target, env.name)
    layout = SetLayout(set_dir)
    run_id = os.path.basename(set_dir)
    lock = RunLock(target, env.name, run_id)
    lock.acquire()
    log_handler = None
    try:
        layout.create()
        log_handler = add_log_file(layout.log)
        log = get_logger()
        if resume:
            journal = Journal.load(set_dir)
            journal.data.setdefault("resumed", []).append(time.strftime("%Y-%m-%dT%H:%M:%S%z"))
            journal.save()
            progress.message(f"resuming {set_dir}")
        else:
            journal = Journal.create(set_dir, tool=__version__, environment=env.name, run_id=run_id,
                                     config=os.path.abspath(env.file), host=socket.gethostname())
        log.info("backup of %s into %s (cnxbackup %s)", env.name, set_dir, __version__)
        progress.message(f"backup set: {set_dir}")
        run = BackupRun(plan, layout, journal, progress, cancel, transport)
        try:
            _run_phases(run, plan, set_dir, env, journal)
        except KeyboardInterrupt:
            _mark_interrupted(journal)
            raise Interrupted(f"interrupted; resume with: cnxbackup backup --env {env.name} --resume {set_dir}") from None
        except Interrupted:
            _mark_interrupted(journal)
            raise
        except OSError as error:
            if error.errno == errno.ENOSPC:
                raise StepFailed(f"the target {target} is full ({error}); free space and resume with: "
                                 f"cnxbackup backup --env {env.name} --resume {set_dir}") from None
            raise
        status = journal.data.get("status")
        for warning in run.warnings:
            progress.message(f"warning: {warning}")
        for failure in run.failures:
            progress.message(f"FAILED: {failure}")
        progress.message(f"backup {status}: {set_dir}")
        if run.failures:
            progress.message(f"resume with: cnxbackup backup --env {env.name} --resume {set_dir}")
            return EXIT_FAILED
        return EXIT_WARNINGS if run.warnings else EXIT_OK
    finally:
        lock.release()
        remove_handler(log_handler)


def _mark_interrupted(journal: Journal) -> None:
    for step_id, entry in list(journal.data["steps"].items()):
        if entry.get("status") == RUNNING:
            journal.set(step_id, FAILED, error="interrupted")


def _run_phases(run: BackupRun, plan: Plan, set_dir: str, env: Environment, journal: Journal) -> None:
    wsphase.run(run)
    if plan.databases:
        dbphase.run(run)
    run.archive_items(plan.items)
    extra = wsphase.file_registry_item(run)
    if extra is not None:
        plan.items.append(extra)
        run.archive_items([extra])
    reports.write_generated_files(run)
    manifest = reports.build_manifest(run)
    reports.write_report(run, manifest)
    write_manifest(set_dir, manifest)  # last: only now is the set complete (or recorded as partial)
    journal.data["status"] = manifest["status"]
    journal.set("manifest", DONE)
