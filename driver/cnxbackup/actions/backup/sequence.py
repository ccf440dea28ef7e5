"""``cnxbackup backup``: HCL's procedure, in order, recorded in one backup set.

Order: wsadmin (aliases, filenetAdmin, role export -- all before any server stops), then, in
two-phase mode, a level-0 archive of every folder while the servers still run; then the stop;
then the databases (native tools) and the file archives (level 1 of each folder, or the one
archive of ``full`` mode, and the single files) at the same time; fileRegistry.xml when the
filenetAdmin user is file-based; REPORT.md / RESTORE.md / DB scripts, and the manifest last.
Every step is journaled; ``--resume`` skips steps that are finished and still verify.
"""
from __future__ import annotations

import errno
import os
import socket
import threading
import time
from typing import Callable, List, Optional, Tuple

from ... import __version__, signals
from ...config import Environment
from ...databases.base import stop_all_tools
from ...errors import EXIT_FAILED, EXIT_OK, EXIT_WARNINGS, CnxBackupError, Interrupted, StepFailed
from ...invocation import command_line
from ...journal import DONE, FAILED, FINISHED, RUNNING, Journal
from ...lock import RunLock
from ...log import add_log_file, get_logger, remove_handler
from ...manifest import write_manifest
from ...paths import set_wsadmin_dir
from ...plan import Plan
from ...progress import Progress, counted, human_bytes, human_seconds
from ...signing import ensure_signing_key, sign
from ...stopped import interrupted_text
from ...transport import Transport
from ...wsadmin_session import start_servers_command
from ..sets.crypto import backup_cipher, encryption_record
from ..sets.identity import ALLOW_OTHER, check_identity, journal_cell
from ..sets.naming import find_resumable_set, new_set_dir
from . import component_pack_phase, database_phase, file_phase, record, wsadmin_phase
from .dmgr_gate import DmgrGate
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
        progress.note(note)
    if found.problems and not allow_other:
        raise CnxBackupError("resume refused: " + "; ".join(found.problems) + f" ({ALLOW_OTHER} overrides this)")
    for problem in found.problems:
        progress.warning(f"{ALLOW_OTHER}: {problem}")
    return [ALLOW_OTHER] if found.problems else []


def run_backup(env: Environment, plan: Plan, *, progress: Progress, resume: Optional[str] = None,
               cancel: Optional[threading.Event] = None, transport: Optional[Transport] = None,
               allow_partial: bool = False, allow_other_environment: bool = False,
               gate_notes: Optional[List[str]] = None, dmgr: Optional[DmgrGate] = None) -> int:
    """Run a backup; returns the exit code (0, 1 or 3). Raises Interrupted on Ctrl-C. ``dmgr``:
    the gate's wsadmin session, which the wsadmin phase takes over (one JVM for the whole run)."""
    cancel = cancel or signals.CANCEL
    target = env.section("target")["dir"]
    os.makedirs(target, mode=0o700, exist_ok=True)
    overrides = ["--allow-partial"] if allow_partial else []
    if resume:
        set_dir = find_resumable_set(target, env.name) if resume == "latest" else os.path.abspath(resume)
        overrides += _check_resumed_set(env, set_dir, transport, progress, allow_other_environment)
    else:
        set_dir = new_set_dir(target, env.name)
    started = time.time()
    layout = SetLayout(set_dir)
    run_id = os.path.basename(set_dir)
    lock = RunLock(target, env.name, run_id)
    lock.acquire()
    log_handler = None
    try:
        layout.create()
        progress.outcome.set_dir = set_dir
        log_handler = add_log_file(layout.log)
        log = get_logger()
        journal = _open_journal(env, set_dir, run_id, bool(resume), overrides, progress)
        signing = env.section("signing")
        for level, note in ensure_signing_key(signing["key"], signing["trusted_keys"]):
            progress.message(note, level)  # into the set's log too: progress records what it shows
        log.info("backup of %s into %s (cnxbackup %s)", env.name, set_dir, __version__)
        log.info("gate passed: every check before the outage%s", f" (overrides: {', '.join(overrides)})" if overrides else "")
        for note in list(gate_notes or []) + plan.notes:
            log.info("plan: %s", note)
        progress.message(f"backup set: {set_dir}")
        run = BackupRun(plan, layout, journal, progress, cancel, transport)
        run.dmgr = dmgr
        _run_encrypted_phases(run, plan, set_dir, env, journal, target)
        status = journal.data.get("status")
        for warning in run.warnings:
            progress.warning(warning)
        for failure in run.failures:
            progress.failed(failure)
        for line in servers_left_stopped(env, plan, set_wsadmin_dir(set_dir)):
            progress.message(line)
        partial = bool(run.failures) or status == "partial"  # a partial set is never a success, whatever the reason
        code = EXIT_FAILED if partial else (EXIT_WARNINGS if run.warnings else EXIT_OK)
        downtime = record.downtime_seconds(journal)
        outage = f" (downtime {human_seconds(downtime)} from the stop)" if downtime is not None else ""
        progress.message(f"backup {status}{outage}: {set_dir}")
        log.info("backup %s, exit %d, in %s%s: %s; set %s", status, code, human_seconds(time.time() - started),
                 outage, totals(journal), set_dir)
        if partial:
            progress.message(f"resume with: {resume_command(env, set_dir)}")
        return code
    finally:
        lock.release()
        remove_handler(log_handler)


def _open_journal(env: Environment, set_dir: str, run_id: str, resume: bool, overrides: List[str],
                  progress: Progress) -> Journal:
    """The new set's journal, or the resumed set's once its archive mode and encryption are this run's
    (a set keeps the mode and the recipients it was begun with)."""
    mode = env.section("archive")["mode"]
    encryption = encryption_record(env)
    if not resume:
        return Journal.create(set_dir, tool=__version__, environment=env.name, run_id=run_id,
                              config=os.path.abspath(env.file), host=socket.gethostname(), overrides=overrides,
                              archiveMode=mode, encryption=encryption)
    journal = Journal.load(set_dir)
    started_as = journal.data.setdefault("archiveMode", "full")  # sets begun before two-phase were full
    if started_as != mode:
        raise CnxBackupError(f"{env.where('archive.mode')}: archive.mode is {mode}, but {set_dir} was begun "
                             f"as {started_as}; resume it with archive.mode: {started_as}, or start a new set")
    begun_with = journal.data.get("encryption") or None
    if begun_with != encryption:
        raise CnxBackupError(f"{env.where('archive.encrypt')}: archive.encrypt is "
                             f"{(encryption or {}).get('recipients') or 'off'}, but {set_dir} was begun with "
                             f"{(begun_with or {}).get('recipients') or 'no encryption'}: one set is encrypted "
                             "to one set of recipients; resume it with those, or start a new set")
    journal.data.setdefault("resumed", []).append(time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    journal.data["overrides"] = sorted(set(journal.data.get("overrides") or []) | set(overrides))
    journal.save()
    progress.message(f"resuming {set_dir}")
    return journal


def _run_encrypted_phases(run: BackupRun, plan: Plan, set_dir: str, env: Environment, journal: Journal,
                          target: str) -> None:
    """The phases with the set's cipher open; how they stopped, said in the set's own log.

    Ctrl-C or a cancel marks the running steps failed (a resume redoes them); a full target is a
    failed step that says to free space and resume.
    """
    log = get_logger()
    try:
        with backup_cipher(env) as run.cipher:
            if run.cipher is not None:
                log.info("encryption: every archive, copied file, Component Pack file and image copy goes to "
                         "gpg for %s", ", ".join(run.cipher.recipients))
            _run_phases(run, plan, set_dir, env, journal)
    except (KeyboardInterrupt, Interrupted):
        raise Interrupted(_interrupted(env, set_dir, journal)) from None
    except OSError as error:
        if error.errno == errno.ENOSPC:
            log.error("the target %s is full: %s", target, error)
            raise StepFailed(f"the target {target} is full ({error}); free space and resume with: "
                             f"{resume_command(env, set_dir)}") from None
        log.error("backup stopped: %s", error)
        raise
    except CnxBackupError as error:  # the set's own log holds why it ended, not only the console
        log.error("backup stopped: %s", error)
        raise


def _interrupted(env: Environment, set_dir: str, journal: Journal) -> str:
    """The steps cut short marked failed ("interrupted": a resume redoes them); the lines the run
    ends with: what it left stopped, and how to finish it or start them."""
    left = wsadmin_phase.left_stopped(journal)  # before the marking: a stop still running was cut
    _mark_interrupted(journal)
    get_logger().info("backup interrupted (Ctrl-C or SIGTERM); %s", left.lines() or "nothing stopped")
    return interrupted_text("backup", "interrupted; partial files were removed and nothing unfinished is marked done",
                            left, resume_command(env, set_dir), command_line("start", "--env", env.argument),
                            " (the backup is then left unfinished)")


def resume_command(env: Environment, set_dir: str) -> str:
    """The line that resumes this backup, as this program was started here."""
    return command_line("backup", "--env", env.argument, "--resume", set_dir)


def servers_left_stopped(env: Environment, plan: Plan, scripts_dir: Optional[str] = None) -> List[str]:
    """What the administrator must know at the end: the servers stay stopped for the upgrade."""
    if "stop_servers" not in plan.wsadmin_steps:
        return []
    return ["The application servers are LEFT STOPPED, ready for the upgrade (the Dmgr and the node agents run).",
            f"If the upgrade is postponed, start them with: {command_line('start', '--env', env.argument)}\n"
            f"    (or only the application servers, by hand: {start_servers_command(env, scripts_dir)})"]


def totals(journal: Journal) -> str:
    """Counts and sizes of what the set holds, from the journal (for the final log line)."""
    steps = journal.data["steps"]
    archives = [e for sid, e in steps.items() if sid.startswith(("item:", "level1:"))]
    items = [sid.split(":", 1)[1] for sid in steps if sid.startswith("item:")]
    dbs = [e for sid, e in steps.items() if sid.startswith("db:")]
    size = sum(int((e.get("result") or {}).get("size") or 0) for e in archives)
    done = sum(1 for name in items if all(steps[sid].get("status") in FINISHED
                                          for sid in (f"item:{name}", f"level1:{name}") if sid in steps))
    db_done = sum(1 for e in dbs if e.get("status") in FINISHED)
    return (f"{done}/{counted(len(items), 'item')} ({human_bytes(size)} in the set), "
            f"{db_done}/{counted(len(dbs), 'database')}")


def _mark_interrupted(journal: Journal) -> None:
    for step_id, entry in list(journal.data["steps"].items()):
        if entry.get("status") == RUNNING:
            journal.set(step_id, FAILED, error="interrupted")


def _phase1(run: BackupRun, plan: Plan) -> None:
    """Two-phase, phase 1: a level-0 archive of every folder while the servers still run. Nothing
    is stopped unless every level 0 is in the set (``--allow-partial`` lets a failed one through:
    its item is then missing from the set)."""
    folders = file_phase.folder_items(plan.items)
    started = time.time()
    low = " at low priority (nice/ionice)" if run.env.section("archive")["low_priority"] else ""
    run.progress.message(f"phase 1: level-0 archives of {len(folders)} folders while the servers run{low}")
    failures = len(run.failures)
    file_phase.archive_items(run, folders, file_phase.PHASE1)
    failed = run.failures[failures:]
    run.log.info("phase 1 ended in %s%s", human_seconds(time.time() - started),
                 f", {len(failed)} level-0 archive(s) failed" if failed else "")
    if failed and "--allow-partial" not in (run.journal.data.get("overrides") or []):
        raise StepFailed(f"{len(failed)} level-0 archive(s) failed while the servers still run: "
                         f"{'; '.join(failed)}. Nothing was stopped; fix it and resume the backup "
                         "(--allow-partial goes on without those items)")


def _databases_and_files(run: BackupRun, plan: Plan) -> None:
    """After the stop, the database backups (on the DB host, or here), the Component Pack part and
    the file archives run at the same time, each within its own limits (``database.concurrency``;
    ``archive.parallel`` and the hosts' own): the outage is the longest of them, not their sum.
    Two-phase, the file archives are the level 1 of each folder and the single files. The folder of
    the OpenSearch snapshot repository is archived once the snapshot is over."""
    phase = file_phase.PHASE2 if file_phase.two_phase(run) else file_phase.FULL
    after_snapshot = set(component_pack_phase.snapshot_item_names(run))
    run.log.info("%s: %d database(s)%s beside %d file item(s), servers stopped", phase if phase != file_phase.FULL
                 else "after the stop", len(plan.databases), ", the Component Pack" if component_pack_phase.planned_steps(run) else "",
                 len(plan.items))
    workers: List[Tuple[str, Callable[[BackupRun], None], Callable[[], None]]] = []
    if plan.databases:
        workers.append(("databases", database_phase.run, stop_all_tools))
    if component_pack_phase.planned_steps(run):
        workers.append(("component pack", component_pack_phase.run, component_pack_phase.stop))
    failure: List[BaseException] = []
    finished = [threading.Event() for _ in workers]  # waited on, not Thread.join(): a join cut by Ctrl-C may return early

    def worker(body: Callable[[BackupRun], None], done: threading.Event) -> None:
        try:
            body(run)
        except BaseException as error:  # re-raised in the main thread, after the files
            failure.append(error)
        finally:
            done.set()

    for (name, body, _), done in zip(workers, finished):
        threading.Thread(target=worker, args=(body, done), name=name, daemon=True).start()
    try:
        file_phase.archive_items(run, [item for item in plan.items if item.name not in after_snapshot], phase)
        for done in finished:
            while not done.wait(0.2):  # Ctrl-C is delivered to this thread, here
                pass
    except BaseException:
        for _, _, stop in workers:
            stop()  # Ctrl-C or a full target: the tools stop too, nothing is left running
        for done in finished:
            while not done.wait(0.2):  # their results are journaled before the run unwinds
                pass
        raise
    if failure:
        raise failure[0]
    waiting = [item for item in plan.items if item.name in after_snapshot]
    if run.journal.is_finished("cp:opensearch"):
        file_phase.archive_items(run, waiting, phase)
        return
    for item in waiting:
        step = file_phase.step_of(item, 1 if phase == file_phase.PHASE2 else None)
        run.journal.set(step, FAILED, error="the OpenSearch snapshot did not succeed; archived after it on resume")
        run.failures.append(f"{item.name}: not archived after the stop, the OpenSearch snapshot did not succeed")


def _run_phases(run: BackupRun, plan: Plan, set_dir: str, env: Environment, journal: Journal) -> None:
    ws = wsadmin_phase.WsadminPhase(run)
    try:
        ws.before_stop()
        if file_phase.two_phase(run):
            _phase1(run, plan)
        ws.stop()
    finally:
        ws.close()
    _databases_and_files(run, plan)
    extra = wsadmin_phase.file_registry_item(run)
    if extra is not None:
        plan.items.append(extra)
        file_phase.archive_items(run, [extra], file_phase.PHASE2 if file_phase.two_phase(run) else file_phase.FULL)
    journal.data["finishedEpoch"] = time.time()
    downtime = record.downtime_seconds(journal)
    if downtime is not None:
        run.log.info("the backup steps after the stop ended: downtime %s", human_seconds(downtime))
    record.write_generated_files(run)
    manifest = record.build_manifest(run)
    record.write_report(run, manifest)
    record.account_for_files(run, manifest)  # format 5: every file so far listed (RESTORE.md, REPORT.md, tools/)
    key = env.section("signing")["key"]
    # last: only now is the set complete (or recorded as partial); its signature just before it
    write_manifest(set_dir, manifest, signer=lambda text: sign(key, text))
    journal.data["status"] = manifest.status
    journal.set("manifest", DONE)
