"""The wsadmin phase: one session; aliases, filenetAdmin and role export before any server stops."""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

from ..config import Environment
from ..errors import StepFailed
from ..journal import DONE, FAILED, PENDING, RUNNING, WARNING, now
from ..plan import Item
from ..secrets import REDACT, read_password
from ..wsadmin_session import WsadminError, WsadminSession
from .state import BackupRun

RESULT_FILES = {
    "list_auth_aliases": "auth_aliases.json",
    "check_filenet_admin": "filenet_admin.json",
    "export_role_mappings": "role_mappings.json",
    "stop_servers": "stop_servers.json",
}


def step_arguments(script: str, ws: Dict[str, Any], out: str) -> List[str]:
    """Command-line options of each wsadmin script, as a by-hand run would pass them."""
    argv = ["--out", out]
    if script == "check_filenet_admin":
        argv += ["--alias", ws["filenet_alias"]]
    elif script == "stop_servers":
        for cluster in ws["clusters"]:
            argv += ["--cluster", cluster]
        for server in ws["servers"]:
            argv += ["--server", server]
        argv += ["--timeout", str(ws["stop_timeout"])]
    return argv


def new_session(env: Environment, workdir: str, run_id: str = "") -> WsadminSession:
    """A WsadminSession configured from the ``wsadmin`` section (not started yet)."""
    ws = env.section("wsadmin")
    password = None
    if ws["credentials"] == "driver":
        password = read_password(ws, "WAS administrative", env.where("wsadmin"), required=bool(ws.get("user")))
        REDACT.add(password)
    return WsadminSession(
        ws["command"], workdir, conntype=ws["conntype"], host=ws["host"], port=ws["port"],
        user=ws.get("user"), password=password, credentials="stdin" if ws["credentials"] == "driver" else "profile",
        usejython21=ws.get("usejython21"), startup_timeout=ws["startup_timeout"], env=ws.get("env") or {},
        transcript=os.path.join(workdir, "wsadmin-transcript.log"), run_id=run_id)


def open_session(run: BackupRun) -> WsadminSession:
    return new_session(run.env, run.layout.private, os.path.basename(run.layout.root))


def run(run: BackupRun) -> None:
    """Run the planned wsadmin steps that are not finished yet, in order, in one session.

    A resumed run stops the servers again even when the interrupted run had (stopping is
    idempotent): what comes after the stop expects them stopped, whatever happened since."""
    ws = run.env.section("wsadmin")
    pending = [s for s in run.plan.wsadmin_steps if not run.journal.is_finished(f"wsadmin:{s}")]
    if run.journal.data.get("resumed") and "stop_servers" in run.plan.wsadmin_steps and "stop_servers" not in pending:
        run.progress.message("[wsadmin] resuming: the servers are stopped again before more work")
        pending.append("stop_servers")
    if not pending:
        run.progress.message("[wsadmin] all steps already done in this set")
        return
    session = open_session(run)
    run.progress.message(f"[wsadmin] connecting to {ws['host']}:{ws['port']} ...")
    try:
        try:
            session.start()
        except WsadminError as error:
            for script in pending:
                run.journal.set(f"wsadmin:{script}", FAILED, error=str(error))
            raise StepFailed(f"wsadmin: {error}") from None
        for script in pending:
            _run_step(run, session, script, ws)
    except KeyboardInterrupt:
        session.kill()  # do not wait for a step that is still running
        raise
    finally:
        session.close()
        run.journal.data["wsadminLaunches"] = run.journal.data.get("wsadminLaunches", 0) + session.launches
        run.journal.save()


def _run_step(run: BackupRun, session: WsadminSession, script: str, ws: Dict[str, Any]) -> None:
    step = f"wsadmin:{script}"
    out = os.path.join(run.layout.wsadmin, RESULT_FILES[script])
    timeout = ws["step_timeout"] + (ws["stop_timeout"] if script == "stop_servers" else 0)
    run.journal.set(step, RUNNING)
    run.progress.message(f"[wsadmin] {script} ...")
    try:
        result = session.run_step(script, step_arguments(script, ws, out), timeout=timeout, result_file=out)
    except WsadminError as error:
        run.journal.set(step, FAILED, error=str(error))
        raise StepFailed(f"wsadmin step {script}: {error}") from None
    if result.rc != 0 or result.result is None:
        reason = _last_line(result.output) or f"exit code {result.rc}"
        run.journal.set(step, FAILED, error=reason, result=result.result)
        if script == "stop_servers" and result.result:
            failed = ", ".join(result.result.get("failed") or [])
            raise StepFailed(f"wsadmin: servers did not stop within {ws['stop_timeout']}s: {failed}")
        raise StepFailed(f"wsadmin step {script} failed: {reason}")
    status = DONE
    if script == "stop_servers":
        _record_stop(run, result.result)
    if script == "check_filenet_admin" and result.result.get("alias") is None and run.env.section("connections")["ccm"]:
        status = WARNING
        run.warnings.append(f"connections.ccm is true but the cell has no J2C alias {ws['filenet_alias']}")
    run.journal.set(step, status, result=_journal_record(script, result.result), seconds=round(result.seconds, 2))
    run.progress.message(f"[wsadmin] {script} done ({result.seconds:.1f}s){_summary(script, result.result)}")


def _record_stop(run: BackupRun, result: Dict[str, Any]) -> None:
    """Each stop's time goes into the set. When a stop in a resumed run found servers running
    (someone started them after the interrupted run stopped them), every step done after the
    first stop (databases, archives) is redone: the set must hold one moment, not two."""
    stops = run.journal.data.setdefault("stops", [])
    stops.append(now())
    restarted = result.get("stopped") or []
    if len(stops) < 2 or not restarted:
        return
    redo = [sid for sid in run.journal.data["order"]
            if sid.startswith(("db:", "item:")) and run.journal.is_finished(sid)]
    for sid in redo:
        run.journal.set(sid, PENDING, error="redone: the servers ran again after the first stop")
    message = (f"the servers {', '.join(restarted)} were running again: the {len(redo)} database and file steps "
               "done after the first stop are redone, so that the set holds one moment")
    run.warnings.append(message)
    run.log.warning("%s", message)
    run.progress.message(f"[wsadmin] {message}")


def _journal_record(script: str, result: Dict[str, Any]) -> Dict[str, Any]:
    """What the journal keeps: the role export stays in its own file, the journal gets a summary."""
    if script == "export_role_mappings":
        return {"cell": result.get("cell"), "applications": sorted((result.get("applications") or {}).keys()),
                "file": RESULT_FILES[script]}
    return result


def _summary(script: str, result: Dict[str, Any]) -> str:
    if script == "list_auth_aliases":
        return f": {len(result.get('aliases') or [])} J2C aliases"
    if script == "check_filenet_admin":
        if result.get("alias") is None:
            return ": no filenetAdmin alias (CCM not configured)"
        return f": {result.get('userId')} -> {result.get('uniqueName')} (file-based: {bool(result.get('fileBased'))})"
    if script == "export_role_mappings":
        return f": {len(result.get('applications') or {})} applications"
    if script == "stop_servers":
        return (f": stopped {len(result.get('stopped') or [])}, already stopped "
                f"{len(result.get('alreadyStopped') or [])}, failed {len(result.get('failed') or [])}")
    return ""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def file_registry_item(run: BackupRun) -> Optional[Item]:
    """fileRegistry.xml of the Dmgr profile, when the filenetAdmin user is in the file-based realm."""
    result = run.journal.result("wsadmin:check_filenet_admin") or {}
    if not result.get("fileBased") or not result.get("fileRegistry"):
        return None
    source = os.path.join(run.env.paths["dmgr_profile"], result["fileRegistry"])
    return Item("fileRegistry", "copy", source, "fileRegistry.xml: the filenetAdmin user is file-based (HCL step 3)")
