"""``cnxbackup restore SET --env ENV``: bring a deployment back to a backup set, safely.

Version guard first (HCL's rules), then every selected archive is checked (size, SHA-256,
no entry escaping its folder) -- all before anything is stopped or changed. Then stop the
servers, put the files back (extracted into a staging folder, what is replaced moved aside
and kept), restore the databases with the native tools, re-import the role mappings, and
start the servers or print the next steps. The steps are those of
``restore_plan.restore_steps`` -- the same that RESTORE.md and ``--dry-run`` show.

Journal (``SET/restore-<stamp>/journal.json``): the stamp, the options, and per step its
status and how many of its operations are done. Every operation is idempotent given that
count, so ``--resume`` continues exactly where a failed or killed restore stopped.
"""
from __future__ import annotations

import argparse
import os
import shutil
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from ..archive import ArchiveError, hash_file, validate_members
from ..config import Environment
from ..databases import restore_database
from ..errors import EXIT_FAILED, EXIT_OK, EXIT_WARNINGS, CnxBackupError, ConfigError, StepFailed
from ..hosts import LOCAL, hosts_of
from ..journal import DONE, FAILED, RUNNING, SKIPPED, Journal
from ..lock import RunLock
from ..log import add_log_file, get_logger, remove_handler
from ..manifest import Manifest, load_manifest
from ..plan import detect_versions
from ..progress import Progress
from ..transport import make_transport
from ..versions import ConnectionsVersion
from ..wsadmin_session import WsadminError, WsadminSession
from .restore_ops import LocalRun, RemoteRun
from .restore_plan import EXACT_VERSION, RestoreStep, restore_steps
from .wsphase import new_session

RESTORE_DIR_PREFIX = "restore-"


class RestoreRefused(CnxBackupError):
    """The restore may not start; nothing was stopped or changed."""


def _replaced_paths(step: RestoreStep, remote: bool) -> List[str]:
    """What the step moved aside (on another host: what it would have, unchecked)."""
    moved = [op.replaced for op in step.operations if op.replaced is not None]
    return moved if remote else [p for p in moved if os.path.lexists(p)]


# --------------------------------------------------------------------------- planning


def _unfinished_restore(set_dir: str) -> str:
    candidates = sorted(n for n in os.listdir(set_dir) if n.startswith(RESTORE_DIR_PREFIX))
    for name in reversed(candidates):
        try:
            journal = Journal.load(os.path.join(set_dir, name))
        except (OSError, ValueError):
            continue
        if journal.data.get("status") != "complete":
            return os.path.join(set_dir, name)
    raise CnxBackupError(f"{set_dir}: no unfinished restore to resume")


def _new_stamp(set_dir: str) -> str:
    """A timestamp no earlier restore of this set used (it names the moved-aside copies)."""
    stamp = base = time.strftime("%Y%m%dT%H%M%S")
    serial = 1
    while os.path.exists(os.path.join(set_dir, RESTORE_DIR_PREFIX + stamp)):
        serial += 1
        stamp = f"{base}-{serial}"
    return stamp


def _check_only(manifest: Manifest, only: Optional[List[str]]) -> None:
    if not only:
        return
    known = set(manifest.item_names) | {"databases", "roles"}
    unknown = sorted(set(only) - known)
    if unknown:
        raise ConfigError(f"--only: unknown item(s) {', '.join(unknown)}; this set has: {', '.join(sorted(known))}")


def plan_restore(set_dir: str, manifest: Manifest, env: Environment, options: Dict[str, Any],
                 stamp: str) -> Tuple[ConnectionsVersion, List[RestoreStep]]:
    """The deployment's version and the steps; raises RestoreRefused when the guard says no."""
    if manifest.status == "partial" and not options["only"]:
        raise RestoreRefused(f"{set_dir} is a partial backup ({'; '.join(manifest.failures)}); "
                             "finish it with backup --resume, or restore chosen items with --only")
    _check_only(manifest, options["only"])
    current, _ = detect_versions(env)
    steps = restore_steps(manifest, set_dir, env, only=options["only"], target_root=options["target_root"],
                          current=current, force_provision=options["force_provision"], stamp=stamp)
    if steps[0].skip_reason:
        raise RestoreRefused(f"restore refused, nothing was stopped or changed: {steps[0].skip_reason}")
    return current, steps


def format_steps(steps: List[RestoreStep]) -> str:
    out = []
    for index, step in enumerate(steps, 1):
        out.append(f"{index}. {step.title}" + (f"  [SKIPPED: {step.skip_reason}]" if step.skip_reason else ""))
        if step.note:
            out.append(f"   ({step.note})")
        out.extend(f"     {command}" for command in step.commands)
    return "\n".join(out)


def check_archives(set_dir: str, steps: List[RestoreStep], journal: Optional[Journal], progress: Progress) -> None:
    """Size, SHA-256 and member safety of every archive still to restore; raises RestoreRefused."""
    cancel = threading.Event()
    for step in steps:
        if step.kind != "file" or step.skip_reason or (journal is not None and journal.is_finished(step.step_id)):
            continue
        item = step.archive
        if item is None:
            continue
        path = os.path.join(set_dir, item.path)
        if not os.path.isfile(path):
            raise RestoreRefused(f"{item.name}: {path} is missing; nothing was stopped or changed")
        size = os.path.getsize(path)
        if size != item.size:
            raise RestoreRefused(f"{item.name}: {path} is {size:,} bytes, the manifest says {item.size}; "
                                 "nothing was stopped or changed")
        digest, _ = hash_file(path)
        if digest != item.sha256:
            raise RestoreRefused(f"{item.name}: {path} SHA-256 differs from the manifest; nothing was stopped or changed")
        if item.is_archive:
            try:
                validate_members(path, cancel=cancel)
            except ArchiveError as error:
                raise RestoreRefused(f"{item.name}: {path} refused: {error}; nothing was stopped or changed") from None
    progress.message("[check] archives checked: sizes, SHA-256 and entries are safe")


# --------------------------------------------------------------------------- running


def run_restore(args: argparse.Namespace, env: Environment, progress: Progress) -> int:
    set_dir = os.path.abspath(args.set_dir)
    manifest = load_manifest(set_dir)
    options = {"only": args.only, "target_root": os.path.abspath(args.target_root) if args.target_root else None,
               "force_provision": bool(args.force_provision)}
    journal: Optional[Journal] = None
    if args.resume:
        journal = Journal.load(_unfinished_restore(set_dir))
        stamp = journal.data["stamp"]
        recorded = {k: journal.data.get(k) for k in options}
        if any(args_value and recorded[k] != args_value for k, args_value in options.items()):
            progress.message(f"note: --resume continues with the options of the interrupted restore: {recorded}")
        options = recorded
    else:
        stamp = _new_stamp(set_dir)
    current, steps = plan_restore(set_dir, manifest, env, options, stamp)
    backup_version = ConnectionsVersion.from_dict(manifest.connections)
    provision_steps = [s for s in steps if s.archive is not None and s.archive.restore_rule == EXACT_VERSION]
    forced = [s for s in provision_steps if s.note and not s.skip_reason]
    for step in provision_steps:
        if step.skip_reason:
            progress.message(f"NOTE: {step.label}: {step.skip_reason}")
    if forced:
        progress.message("!" * 72 + "\nWARNING: --force-provision: provision/ WILL be restored although HCL allows it only "
                         f"onto the exact version it was backed up on ({backup_version.exact}); the deployment is "
                         f"{current.exact}. This is recorded in the restore journal.\n" + "!" * 72)
    elif options["force_provision"]:
        progress.message("note: --force-provision has no effect: the versions match or provision/ is not selected")
    if args.dry_run:
        progress.message(f"Dry run: restore of {set_dir} onto {env.name} would do (nothing was changed):\n"
                         + format_steps(steps))
        return EXIT_OK
    check_archives(set_dir, steps, journal, progress)
    lock = RunLock(env.section("target")["dir"], env.name, f"restore-{stamp}")
    lock.acquire()
    handler = None
    try:
        if journal is None:
            restore_dir = os.path.join(set_dir, RESTORE_DIR_PREFIX + stamp)
            os.makedirs(restore_dir, mode=0o700)
            journal = Journal.create(restore_dir, set=set_dir, environment=env.name, stamp=stamp,
                                     backupVersion=backup_version.exact, deploymentVersion=current.exact,
                                     forcedProvision=bool(forced),
                                     forcedProvisionReason=forced[0].note if forced else None, **options)
        handler = add_log_file(os.path.join(journal.set_dir, "restore.log"))
        if forced:
            get_logger().warning("--force-provision: provision/ restored onto %s (backed up on %s)",
                                 current.exact, backup_version.exact)
        journal.data["status"] = "running"
        journal.save()
        return _execute(args, env, manifest, steps, journal, progress, options)
    finally:
        lock.release()
        if handler is not None:
            remove_handler(handler)


def _execute(args: argparse.Namespace, env: Environment, manifest: Manifest, steps: List[RestoreStep],
             journal: Journal, progress: Progress, options: Dict[str, Any]) -> int:
    log = get_logger()
    cancel = threading.Event()
    warnings: List[str] = []
    replaced: List[str] = list(journal.data.get("replaced", []))
    side_restore = bool(options["target_root"])
    session: Optional[WsadminSession] = None
    hosts = hosts_of(env)
    transport = make_transport(env)
    try:
        for step in steps[1:]:
            if journal.is_finished(step.step_id):
                progress.message(f"[{step.step_id}] already done, skipped")
                continue
            if step.skip_reason:
                journal.set(step.step_id, SKIPPED, error=step.skip_reason)
                progress.message(f"[{step.step_id}] SKIPPED: {step.skip_reason}")
                if step.archive is not None and step.archive.restore_rule == EXACT_VERSION:
                    warnings.append(f"{step.archive.name}: {step.skip_reason}")
                continue
            if step.kind == "check":
                journal.set(step.step_id, DONE)  # done by check_archives before the lock
                continue
            if side_restore and step.kind in ("stop", "roles", "next", "db"):
                journal.set(step.step_id, SKIPPED, error="restore under --target-root: files only")
                continue
            if step.kind == "next" and not args.start:
                journal.set(step.step_id, SKIPPED, error="servers not started (use --start)")
                continue
            if step.kind == "db" and args.print_db_commands:
                progress.message(f"[{step.step_id}] run by hand:\n    " + "\n    ".join(step.commands))
                journal.set(step.step_id, SKIPPED, error="printed only (--print-db-commands)")
                continue
            ops_done = int(journal.step(step.step_id).get("opsDone", 0))
            journal.set(step.step_id, RUNNING, opsDone=ops_done)
            if step.kind in ("stop", "roles", "next"):
                session = session or _open_session(env, journal, progress)
                _wsadmin_step(session, step, env, journal, manifest)
            elif step.archive is not None:
                item = step.archive
                host = hosts.get(item.host)
                remote_run = (RemoteRun(transport, host, item.sha256)
                              if host is not None and not host.is_local and item.host != LOCAL else None)
                local_run = LocalRun(progress, cancel, item.name, item.sha256)
                for index in range(ops_done, len(step.operations)):
                    if remote_run is not None:
                        step.operations[index].run_remote(remote_run)
                    else:
                        step.operations[index].run_local(local_run)
                    journal.set(step.step_id, RUNNING, opsDone=index + 1)
                moved = _replaced_paths(step, remote=remote_run is not None)
                replaced.extend(p for p in moved if p not in replaced)
                journal.data["replaced"] = replaced
                journal.set(step.step_id, DONE, replaced=moved, forced=bool(step.note) or None)
            elif step.database is not None:
                restore_database(manifest.database_vendor, step.database, env, log, transport=transport,
                                 spec_dir=journal.set_dir)
                journal.set(step.step_id, DONE)
            progress.message(f"[{step.step_id}] done")
    except KeyboardInterrupt:
        journal.data["status"] = "interrupted"
        journal.save()
        raise
    except (CnxBackupError, ArchiveError, OSError) as error:
        for sid in journal.data["order"]:
            if journal.status(sid) == RUNNING:
                journal.set(sid, FAILED, error=str(error))
        journal.data["status"] = "failed"
        journal.save()
        progress.message(f"restore FAILED: {error}\nnothing moved aside was deleted; fix the cause, then "
                         f"run: cnxbackup restore {journal.data.get('set')} --env {args.env} --resume")
        return EXIT_FAILED
    finally:
        if session is not None:
            session.close()
        transport.close()
    if args.discard_replaced:
        for path in replaced:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            elif os.path.lexists(path):
                os.unlink(path)
        progress.message(f"deleted {len(replaced)} replaced copies (--discard-replaced)")
    elif replaced:
        progress.message("what was replaced is kept beside it (delete it once the deployment is proven good):\n    "
                         + "\n    ".join(replaced))
    journal.data["status"] = "complete"
    journal.save()
    if not args.start and not side_restore:
        progress.message("next: synchronize the nodes (syncNode.sh or AdminNodeManagement.syncActiveNodes()), "
                         "then start the servers: cnxbackup restore ... --start, or wsadmin/start_servers.py")
    for warning in warnings:
        progress.message(f"warning: {warning}")
    progress.message("restore complete" + (" with warnings" if warnings else ""))
    return EXIT_WARNINGS if warnings else EXIT_OK


def _open_session(env: Environment, journal: Journal, progress: Progress) -> WsadminSession:
    session = new_session(env, os.path.join(journal.set_dir, ".run"), os.path.basename(journal.set_dir))
    try:
        session.start()
    except WsadminError as error:
        raise StepFailed(f"wsadmin: {error}") from None
    return session


def _wsadmin_step(session: WsadminSession, step: RestoreStep, env: Environment, journal: Journal,
                  manifest: Manifest) -> None:
    ws = env.section("wsadmin")
    script = {"stop": "stop_servers", "roles": "import_role_mappings", "next": "start_servers"}[step.kind]
    out = os.path.join(journal.set_dir, f"{script}.json")
    if script == "import_role_mappings":
        roles = manifest.wsadmin.role_mappings
        roles_file = roles.file if roles is not None else "wsadmin/role_mappings.json"
        argv = ["--in", os.path.join(journal.data["set"], roles_file), "--out", out]
        timeout = ws["step_timeout"]
    else:
        argv = ["--timeout", str(ws["stop_timeout"]), "--out", out]
        timeout = ws["step_timeout"] + ws["stop_timeout"]
    try:
        result = session.run_step(script, argv, timeout=timeout, result_file=out)
    except WsadminError as error:
        raise StepFailed(f"wsadmin {script}: {error}") from None
    if result.rc != 0:
        lines = [line for line in result.output.splitlines() if line.strip()]
        raise StepFailed(f"wsadmin {script} failed: {lines[-1] if lines else 'exit ' + str(result.rc)}")
    journal.set(step.step_id, DONE, result=result.result)
