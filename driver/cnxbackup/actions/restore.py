"""``cnxbackup restore SET --env ENV``: bring a deployment back to a backup set, safely.

Version guard first (HCL's rules), then stop the servers, put the files back (validated,
extracted into a staging folder, what is replaced moved aside and kept), restore the
databases with the native tools, re-import the role mappings, and start the servers or
print the next steps. The steps are those of ``restore_plan.restore_steps`` -- the same
that RESTORE.md and ``--dry-run`` show -- and are journaled so ``--resume`` continues.
"""
from __future__ import annotations

import argparse
import os
import shutil
import threading
import time
from typing import Any, Dict, List, Optional

from ..archive import ArchiveError, copy_file, extract_archive
from ..config import Environment, load_environment
from ..errors import EXIT_FAILED, EXIT_OK, EXIT_WARNINGS, CnxBackupError, StepFailed
from ..journal import DONE, FAILED, RUNNING, SKIPPED, WARNING, Journal
from ..lock import RunLock
from ..log import add_log_file, get_logger, remove_handler
from ..manifest import load_manifest
from ..plan import detect_versions
from ..progress import Progress
from .restore_plan import Op, RestoreStep, restore_steps

RESTORE_DIR_PREFIX = "restore-"


class RestoreRefused(CnxBackupError):
    pass


def execute_operation(op: Op, progress: Progress, cancel: threading.Event, label: str) -> None:
    kind = op[0]
    if kind == "mkdir":
        os.makedirs(op[1], exist_ok=True)
    elif kind == "extract":
        task = progress.task(label)
        count = extract_archive(op[1], op[2], progress=task.update, cancel=cancel)
        task.finish(f"{count:,} entries")
    elif kind == "carry":
        if os.path.lexists(op[1]):
            os.makedirs(os.path.dirname(op[2]), exist_ok=True)
            if os.path.lexists(op[2]):
                raise StepFailed(f"cannot carry {op[1]} over: {op[2]} already exists in the restored tree")
            os.rename(op[1], op[2])
    elif kind == "aside":
        if os.path.lexists(op[1]):
            os.rename(op[1], op[2])
    elif kind == "move":
        os.rename(op[1], op[2])
    elif kind == "copy":
        copy_file(op[1], op[2])
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
        for name in os.listdir(op[1]):
            os.rename(os.path.join(op[1], name), os.path.join(op[2], name))
        os.rmdir(op[1])
    else:
        raise ValueError(f"unknown restore operation {kind}")


def _replaced_paths(step: RestoreStep) -> List[str]:
    return [op[2] for op in step.operations if op[0] in ("aside", "aside_contents") and os.path.lexists(op[2])]


def _restore_dir(set_dir: str, resume: bool) -> str:
    if resume:
        candidates = sorted(n for n in os.listdir(set_dir) if n.startswith(RESTORE_DIR_PREFIX))
        for name in reversed(candidates):
            journal = Journal.load(os.path.join(set_dir, name))
            if journal.data.get("status") != "complete":
                return os.path.join(set_dir, name)
        raise CnxBackupError(f"{set_dir}: no unfinished restore to resume")
    path = os.path.join(set_dir, RESTORE_DIR_PREFIX + time.strftime("%Y%m%dT%H%M%S"))
    os.makedirs(path, mode=0o700)
    return path


def plan_restore(args: argparse.Namespace, env: Environment, stamp: str) -> tuple:
    manifest = load_manifest(args.set_dir)
    if manifest.get("status") == "partial" and not args.only:
        raise RestoreRefused(f"{args.set_dir} is a partial backup ({'; '.join(manifest.get('failures') or [])}); "
                             "finish it with backup --resume, or restore chosen items with --only")
    current, _ = detect_versions(env)
    steps = restore_steps(manifest, os.path.abspath(args.set_dir), env, only=args.only, target_root=args.target_root,
                          current=current, force_provision=args.force_provision, stamp=stamp)
    if steps[0].skip_reason:
        raise RestoreRefused(f"restore refused: {steps[0].skip_reason}")
    return manifest, current, steps


def format_steps(steps: List[RestoreStep]) -> str:
    out = []
    for index, step in enumerate(steps, 1):
        out.append(f"{index}. {step.title}" + (f"  [SKIPPED: {step.skip_reason}]" if step.skip_reason else ""))
        out.extend(f"     {command}" for command in step.commands)
    return "\n".join(out)


def run_restore(args: argparse.Namespace, progress: Progress) -> int:
    env = load_environment(args.env)
    if env.data.get("demo"):
        from ..demo import prepare_demo

        prepare_demo(env, progress, build_tree=False)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    manifest, current, steps = plan_restore(args, env, stamp)
    provision_forced = args.force_provision and any(
        s.item and s.item.get("restoreRule") == "exact-version" for s in steps if s.kind == "file")
    if args.force_provision:
        progress.message("WARNING: --force-provision: provision/ will be restored although HCL allows it only onto "
                         f"the exact version {manifest['connections']['exact']} (deployment: {current.exact}). "
                         "This is recorded in the restore journal.")
    if args.dry_run:
        progress.message(f"Dry run: restore of {args.set_dir} onto {env.name} would do:\n" + format_steps(steps))
        return EXIT_OK
    restore_dir = _restore_dir(args.set_dir, args.resume)
    lock = RunLock(env.section("target")["dir"], env.name, os.path.basename(restore_dir))
    lock.acquire()
    handler = add_log_file(os.path.join(restore_dir, "restore.log"))
    try:
        journal = (Journal.load(restore_dir) if args.resume else
                   Journal.create(restore_dir, set=os.path.abspath(args.set_dir), environment=env.name,
                                  forcedProvision=bool(provision_forced), targetRoot=args.target_root))
        journal.data["status"] = "running"
        journal.save()
        return _execute(args, env, manifest, steps, journal, progress)
    finally:
        lock.release()
        remove_handler(handler)


def _execute(args: argparse.Namespace, env: Environment, manifest: Dict[str, Any], steps: List[RestoreStep],
             journal: Journal, progress: Progress) -> int:
    log = get_logger()
    cancel = threading.Event()
    warnings: List[str] = []
    replaced: List[str] = list(journal.data.get("replaced", []))
    side_restore = bool(args.target_root)
    session = None
    try:
        for step in steps[1:]:
            if journal.is_finished(step.step_id):
                progress.message(f"[{step.step_id}] already done, skipped")
                continue
            if step.skip_reason:
                journal.set(step.step_id, SKIPPED, error=step.skip_reason)
                progress.message(f"[{step.step_id}] SKIPPED: {step.skip_reason}")
                if step.item and step.item.get("restoreRule") == "exact-version":
                    warnings.append(step.skip_reason)
                continue
            if side_restore and step.kind in ("stop", "roles", "next", "db"):
                journal.set(step.step_id, SKIPPED, error="restore under --target-root: files only")
                continue
            journal.set(step.step_id, RUNNING)
            if step.kind in ("stop", "roles", "next"):
                if step.kind == "next" and not args.start:
                    journal.set(step.step_id, SKIPPED, error="servers not started (use --start)")
                    continue
                session = session or _open_session(env, journal, progress)
                _wsadmin_step(session, step, env, journal, args)
            elif step.kind == "file":
                for op in step.operations:
                    execute_operation(op, progress, cancel, step.item["name"])
                moved = _replaced_paths(step)
                replaced.extend(moved)
                journal.data["replaced"] = replaced
                journal.set(step.step_id, DONE, replaced=moved)
            elif step.kind == "db":
                if args.print_db_commands:
                    progress.message(f"[{step.step_id}] run by hand:\n    " + "\n    ".join(step.commands))
                    journal.set(step.step_id, SKIPPED, error="printed only (--print-db-commands)")
                    continue
                from .dbphase import restore_database

                restore_database(manifest, step.item, env, log)
                journal.set(step.step_id, DONE)
            progress.message(f"[{step.step_id}] done")
    except KeyboardInterrupt:
        raise
    except (CnxBackupError, ArchiveError, OSError) as error:
        running = [sid for sid in journal.data["order"] if journal.status(sid) == RUNNING]
        for sid in running:
            journal.set(sid, FAILED, error=str(error))
        journal.data["status"] = "failed"
        journal.save()
        progress.message(f"restore FAILED: {error}\nnothing moved aside was deleted; continue with --resume")
        return EXIT_FAILED
    finally:
        if session is not None:
            session.close()
    if args.discard_replaced:
        for path in replaced:
            shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.unlink(path)
        progress.message(f"deleted {len(replaced)} replaced copies (--discard-replaced)")
    elif replaced:
        progress.message("what was replaced is kept beside it:\n    " + "\n    ".join(replaced))
    journal.data["status"] = "complete"
    journal.save()
    if not args.start and not side_restore:
        progress.message("next: synchronize the nodes (syncNode.sh or AdminNodeManagement.syncActiveNodes()), "
                         "then start the servers: cnxbackup restore ... --start, or wsadmin/start_servers.py")
    for warning in warnings:
        progress.message(f"warning: {warning}")
    progress.message("restore complete")
    return EXIT_WARNINGS if warnings else EXIT_OK


def _open_session(env: Environment, journal: Journal, progress: Progress) -> Any:
    from ..secrets import REDACT, read_password
    from ..wsadmin_session import WsadminError, WsadminSession

    ws = env.section("wsadmin")
    password = None
    if ws["credentials"] == "driver":
        password = read_password(ws, "WAS administrative", env.where("wsadmin"), required=bool(ws.get("user")))
        REDACT.add(password)
    session = WsadminSession(ws["command"], os.path.join(journal.set_dir, ".run"), conntype=ws["conntype"],
                             host=ws["host"], port=ws["port"], user=ws.get("user"), password=password,
                             credentials="stdin" if ws["credentials"] == "driver" else "profile",
                             usejython21=ws.get("usejython21"), startup_timeout=ws["startup_timeout"],
                             env=ws.get("env") or {})
    try:
        session.start()
    except WsadminError as error:
        raise StepFailed(f"wsadmin: {error}") from None
    return session


def _wsadmin_step(session: Any, step: RestoreStep, env: Environment, journal: Journal, args: argparse.Namespace) -> None:
    ws = env.section("wsadmin")
    script = {"stop": "stop_servers", "roles": "import_role_mappings", "next": "start_servers"}[step.kind]
    out = os.path.join(journal.set_dir, f"{script}.json")
    if script == "import_role_mappings":
        argv = ["--in", os.path.join(os.path.abspath(args.set_dir), "wsadmin", "role_mappings.json")]
        timeout = ws["step_timeout"]
    else:
        argv = ["--timeout", str(ws["stop_timeout"]), "--out", out]
        timeout = ws["step_timeout"] + ws["stop_timeout"]
    result = session.run_step(script, argv, timeout=timeout, result_file=out if script != "import_role_mappings" else None)
    if result.rc != 0:
        lines = [line for line in result.output.splitlines() if line.strip()]
        raise StepFailed(f"wsadmin {script} failed: {lines[-1] if lines else 'exit ' + str(result.rc)}")
    journal.set(step.step_id, DONE, result=result.result)
