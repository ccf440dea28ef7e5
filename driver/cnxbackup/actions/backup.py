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
from typing import List, Optional

from .. import __version__, signals
from ..config import Environment
from ..errors import EXIT_FAILED, EXIT_OK, EXIT_WARNINGS, CnxBackupError, Interrupted, StepFailed
from ..journal import DONE, FAILED, RUNNING, Journal
from ..lock import RunLock
from ..log import add_log_file, get_logger, remove_handler
from ..manifest import write_manifest
from ..plan import Plan
from ..progress import Progress
from ..signing import ensure_signing_key, sign
from ..transport import Transport
from . import dbphase, filephase, reports, wsphase
from .common import find_resumable_set, new_set_dir
from .identity import ALLOW_OTHER, check_identity, journal_cell
from .state import BackupRun, SetLayout


def _check_resumed_set(env: Environment, set_dir: str, transport: Optional[Transport], progress: Progress,
                       allow_other: bool) -> List[str]:
    """The set to resume must be this environment's and this cell's; returns the overrides used."""
    try:
        journal = Journal.load(set_dir)
    except (OSError, ValueError) as error:
        raise CnxBackupError(f"{set_dir}: not a backup set that can be resumed (journal.json: {error})") from None
    found = check_identity(env, set_dir, journal.data.get("environment"), journal_cell(journal), transport)
    for note in found.notes:
        progress.message(f"note: {note}")
        get_logger().info("identity: %s", note)
    if found.problems and not allow_other:
        raise CnxBackupError("resume refused: " + "; ".join(found.problems) + f" ({ALLOW_OTHER} overrides this)")
    for problem in found.problems:
        progress.message(f"WARNING: {ALLOW_OTHER}: {problem}")
        get_logger().warning("identity overridden (%s): %s", ALLOW_OTHER, problem)
    return [ALLOW_OTHER] if found.problems else []


def run_backup(env: Environment, plan: Plan, *, progress: Progress, resume: Optional[str] = None,
               cancel: Optional[threading.Event] = None, transport: Optional[Transport] = None,
               allow_partial: bool = False, allow_other_environment: bool = False) -> int:
    """Run a backup; returns the exit code (0, 1 or 3). Raises Interrupted on Ctrl-C."""
    cancel = cancel or signals.CANCEL
    target = env.section("target")["dir"]
    os.makedirs(target, mode=0o700, exist_ok=True)
    overrides = ["--allow-partial"] if allow_partial else []
    if resume:
        set_dir = find_resumable_set(target, env.name) if resume == "latest" else os.path.abspath(resume)
        overrides += _check_resumed_set(env, set_dir, transport, progress, allow_other_environment)
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
            journal.data["overrides"] = sorted(set(journal.data.get("overrides") or []) | set(overrides))
            journal.save()
            progress.message(f"resuming {set_dir}")
        else:
            journal = Journal.create(set_dir, tool=__version__, environment=env.name, run_id=run_id,
                                     config=os.path.abspath(env.file), host=socket.gethostname(), overrides=overrides)
        signing = env.section("signing")
        for note in ensure_signing_key(signing["key"], signing["trusted_keys"]):
            progress.message(note)
            log.info("%s", note)
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
        if run.failures or status == "partial":  # a partial set is never a success, whatever the reason
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
    filephase.archive_items(run, plan.items)
    extra = wsphase.file_registry_item(run)
    if extra is not None:
        plan.items.append(extra)
        filephase.archive_items(run, [extra])
    reports.write_generated_files(run)
    manifest = reports.build_manifest(run)
    reports.write_report(run, manifest)
    key = env.section("signing")["key"]
    # last: only now is the set complete (or recorded as partial); its signature just before it
    write_manifest(set_dir, manifest, signer=lambda text: sign(key, text))
    journal.data["status"] = manifest.status
    journal.set("manifest", DONE)
