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
import shlex
import shutil
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from ..archive import ArchiveError, copy_back_file, extract_archive, hash_file, validate_members
from ..config import Environment
from ..databases import restore_database
from ..errors import EXIT_FAILED, EXIT_OK, EXIT_WARNINGS, CnxBackupError, ConfigError, StepFailed
from ..hosts import Host, hosts_of
from ..journal import DONE, FAILED, RUNNING, SKIPPED, Journal
from ..lock import RunLock
from ..log import add_log_file, get_logger, remove_handler
from ..manifest import load_manifest
from ..plan import detect_versions
from ..progress import Progress
from ..transport import Transport, make_transport
from ..versions import ConnectionsVersion
from ..wsadmin_session import WsadminError, WsadminSession
from . import remote_ops
from .restore_plan import STAGING_SUFFIX, Op, RestoreStep, render_operation, restore_steps
from .wsphase import new_session

RESTORE_DIR_PREFIX = "restore-"
EXACT_VERSION = "exact-version"


class RestoreRefused(CnxBackupError):
    """The restore may not start; nothing was stopped or changed."""


# --------------------------------------------------------------------------- operations


def _is_staging(path: str) -> bool:
    return path.endswith(STAGING_SUFFIX) or os.path.basename(path) == STAGING_SUFFIX.lstrip(".")


def execute_operation(op: Op, progress: Progress, cancel: threading.Event, label: str,
                      expected_sha256: Optional[str] = None) -> None:
    """Run one operation of ``restore_plan.file_operations``.

    Each is safe to run again after a crash right after it (the journal counts finished
    operations, so only the one that was running can repeat); none deletes anything that is
    not its own partial output.
    """
    kind = op[0]
    if kind == "mkdir":
        os.makedirs(op[1], exist_ok=True)
    elif kind == "extract":
        staging = op[2]
        if os.path.isdir(staging) and os.listdir(staging):
            # a previous extraction into our own staging folder was cut short: it holds only
            # archive content (carried live data comes after extraction), so start it afresh
            if not _is_staging(staging):
                raise StepFailed(f"{staging} is not empty and not a staging folder; not touching it")
            shutil.rmtree(staging)
            os.makedirs(staging)
        task = progress.task(label)
        count = extract_archive(op[1], staging, progress=task.update, cancel=cancel, expected_sha256=expected_sha256)
        task.finish(f"{count:,} entries")
    elif kind == "carry":
        if os.path.lexists(op[1]):
            if os.path.lexists(op[2]):
                raise StepFailed(f"cannot carry {op[1]} over: {op[2]} already exists in the restored tree")
            os.makedirs(os.path.dirname(op[2]), exist_ok=True)
            os.rename(op[1], op[2])
    elif kind == "aside":
        if os.path.lexists(op[2]):
            return  # already moved aside by this restore (the stamp is unique to it)
        if os.path.lexists(op[1]):
            os.rename(op[1], op[2])
    elif kind == "move":
        if not os.path.lexists(op[1]) and os.path.lexists(op[2]):
            return  # already moved into place
        if os.path.lexists(op[2]):
            raise StepFailed(f"cannot move {op[1]} into place: {op[2]} exists (it should have been moved aside)")
        os.rename(op[1], op[2])
    elif kind == "copy":
        copy_back_file(op[1], op[2], expected_sha256=expected_sha256, cancel=cancel)
    elif kind == "chmod":
        os.chmod(op[2], int(op[1], 8))
    elif kind == "chown":
        uid, gid = op[1].split(":")
        if os.geteuid() == 0:
            os.chown(op[2], int(uid), int(gid))
    elif kind == "aside_contents":
        os.makedirs(op[2], exist_ok=True)
        keep = {os.path.basename(op[2]), os.path.basename(op[3])}
        for name in os.listdir(op[1]):
            if name not in keep:
                os.rename(os.path.join(op[1], name), os.path.join(op[2], name))
    elif kind == "move_contents":
        if not os.path.isdir(op[1]):
            return  # already done (the staging folder is removed last)
        for name in os.listdir(op[1]):
            os.rename(os.path.join(op[1], name), os.path.join(op[2], name))
        os.rmdir(op[1])
    else:
        raise ValueError(f"unknown restore operation {kind}")


def execute_remote_operation(op: Op, transport: Transport, host: Host, expected_sha256: Optional[str] = None) -> None:
    """The same operation on another host: rendered as shell, except extract and copy, which stream."""
    kind = op[0]
    if kind == "extract":
        staging = shlex.quote(op[2])
        transport.run(host, f"if [ -d {staging} ] && [ -n \"$(ls -A {staging})\" ]; then rm -rf {staging}; fi")
        remote_ops.extract_remote(op[1], op[2], transport, host)
        return
    if kind == "copy":
        copied = transport.put(host, op[1], op[2])
        if expected_sha256 and copied.sha256 != expected_sha256:
            raise StepFailed(f"{op[1]} does not match its manifest checksum; {host.name}:{op[2]} not trusted")
        return
    proc = transport.run(host, render_operation(op))
    if proc.returncode != 0:
        raise StepFailed(f"on host {host.name}: `{render_operation(op)}` failed: {proc.stderr.strip()[-300:]}")


def _replaced_paths(step: RestoreStep) -> List[str]:
    return [op[2] for op in step.operations if op[0] in ("aside", "aside_contents") and os.path.lexists(op[2])]


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


def _check_only(manifest: Dict[str, Any], only: Optional[List[str]]) -> None:
    if not only:
        return
    known = {item["name"] for item in manifest.get("archives", [])} | {"databases", "roles"}
    unknown = sorted(set(only) - known)
    if unknown:
        raise ConfigError(f"--only: unknown item(s) {', '.join(unknown)}; this set has: {', '.join(sorted(known))}")


def plan_restore(set_dir: str, manifest: Dict[str, Any], env: Environment, options: Dict[str, Any],
                 stamp: str) -> Tuple[ConnectionsVersion, List[RestoreStep]]:
    """The deployment's version and the steps; raises RestoreRefused when the guard says no."""
    if manifest.get("status") == "partial" and not options["only"]:
        raise RestoreRefused(f"{set_dir} is a partial backup ({'; '.join(manifest.get('failures') or [])}); "
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
        item = step.item or {}
        path = os.path.join(set_dir, item["path"])
        if not os.path.isfile(path):
            raise RestoreRefused(f"{item['name']}: {path} is missing; nothing was stopped or changed")
        size = os.path.getsize(path)
        if size != item.get("size"):
            raise RestoreRefused(f"{item['name']}: {path} is {size:,} bytes, the manifest says {item.get('size')}; "
                                 "nothing was stopped or changed")
        digest, _ = hash_file(path)
        if digest != item.get("sha256"):
            raise RestoreRefused(f"{item['name']}: {path} SHA-256 differs from the manifest; nothing was stopped or changed")
        if item.get("kind") == "archive":
            try:
                validate_members(path, cancel=cancel)
            except ArchiveError as error:
                raise RestoreRefused(f"{item['name']}: {path} refused: {error}; nothing was stopped or changed") from None
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
    backup_version = ConnectionsVersion.from_dict(manifest["connections"])
    provision_steps = [s for s in steps if s.kind == "file" and (s.item or {}).get("restoreRule") == EXACT_VERSION]
    forced = [s for s in provision_steps if s.note and not s.skip_reason]
    for step in provision_steps:
        if step.skip_reason:
            progress.message(f"NOTE: {(step.item or {}).get('name')}: {step.skip_reason}")
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


def _execute(args: argparse.Namespace, env: Environment, manifest: Dict[str, Any], steps: List[RestoreStep],
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
                if step.item and step.item.get("restoreRule") == EXACT_VERSION:
                    warnings.append(f"{step.item['name']}: {step.skip_reason}")
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
            elif step.kind == "file":
                item = step.item or {}
                host = hosts.get(item.get("host") or "local")
                remote = host is not None and not host.is_local and item.get("host") != "local"
                for index in range(ops_done, len(step.operations)):
                    if remote and host is not None:
                        execute_remote_operation(step.operations[index], transport, host, item.get("sha256"))
                    else:
                        execute_operation(step.operations[index], progress, cancel, item["name"], item.get("sha256"))
                    journal.set(step.step_id, RUNNING, opsDone=index + 1)
                moved = ([op[2] for op in step.operations if op[0] in ("aside", "aside_contents")] if remote
                         else _replaced_paths(step))
                replaced.extend(p for p in moved if p not in replaced)
                journal.data["replaced"] = replaced
                journal.set(step.step_id, DONE, replaced=moved, forced=bool(step.note) or None)
            elif step.kind == "db":
                restore_database(manifest.get("databaseVendor", "db2"), step.item or {}, env, log, transport=transport,
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
                  manifest: Dict[str, Any]) -> None:
    ws = env.section("wsadmin")
    script = {"stop": "stop_servers", "roles": "import_role_mappings", "next": "start_servers"}[step.kind]
    out = os.path.join(journal.set_dir, f"{script}.json")
    if script == "import_role_mappings":
        roles_file = manifest.get("wsadmin", {}).get("roleMappings", {}).get("file") or "wsadmin/role_mappings.json"
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
