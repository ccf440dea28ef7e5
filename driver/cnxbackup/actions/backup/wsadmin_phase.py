"""The wsadmin phase: one session; aliases, filenetAdmin and role export before any server stops."""
from __future__ import annotations

import os
import time
from typing import Any, Dict, List, Optional

from ...errors import StepFailed
from ...journal import DONE, FAILED, PENDING, RUNNING, WARNING, Journal, now
from ...plan import Item
from ...progress import counted
from ...stopped import LeftStopped, note_stop
from ...wsadmin_session import WsadminError, WsadminSession, new_session, step_arguments
from .state import BackupRun

STOPPED_SERVERS = "stoppedServers"  # journal: every application server the set's stops stopped
RESULT_FILES = {
    "list_auth_aliases": "auth_aliases.json",
    "check_filenet_admin": "filenet_admin.json",
    "export_role_mappings": "role_mappings.json",
    "stop_servers": "stop_servers.json",
}


def open_session(run: BackupRun) -> WsadminSession:
    return new_session(run.env, run.layout.private, os.path.basename(run.layout.root))


class WsadminPhase:
    """The planned wsadmin steps in one session, in two halves: the steps before the stop (aliases,
    filenetAdmin, role export), then the stop. A two-phase backup takes its level-0 archives in
    between, the session kept open (it is reopened if wsadmin went away meanwhile).

    A resumed run stops the servers again even when the interrupted run had (stopping is
    idempotent): what comes after the stop expects them stopped, whatever happened since."""

    def __init__(self, run: BackupRun) -> None:
        self.run = run
        self.ws = run.env.section("wsadmin")
        self.session: Optional[WsadminSession] = None

    def before_stop(self) -> None:
        pending = [s for s in self.run.plan.wsadmin_steps
                   if s != "stop_servers" and not self.run.journal.is_finished(f"wsadmin:{s}")]
        if not pending:
            self.run.progress.message("[wsadmin] the steps before the stop are already done in this set")
        self._run(pending)

    def stop(self) -> None:
        if "stop_servers" not in self.run.plan.wsadmin_steps:
            return
        if self.run.journal.is_finished("wsadmin:stop_servers"):
            if not self.run.journal.data.get("resumed"):
                return
            self.run.progress.message("[wsadmin] resuming: the servers are stopped again before more work")
        self._run(["stop_servers"])

    def _run(self, steps: List[str]) -> None:
        if not steps:
            return
        try:
            session = self._session(steps)
            for script in steps:
                _run_step(self.run, session, script, self.ws)
        except KeyboardInterrupt:
            self.kill()  # do not wait for a step that is still running
            raise

    def _session(self, steps: List[str]) -> WsadminSession:
        if self.session is not None and self.session.child is not None and self.session.child.isalive():
            return self.session
        self.close()
        taken = self.run.dmgr.take(self.run.layout.private, os.path.basename(self.run.layout.root)) if self.run.dmgr else None
        if taken is not None:  # the session the gate started: connected before the set folder existed
            self.session = taken
            self.run.progress.message(f"[wsadmin] connected to {self.ws['host']}:{self.ws['port']} (by the gate)")
            return taken
        self.session = open_session(self.run)
        self.run.progress.message(f"[wsadmin] connecting to {self.ws['host']}:{self.ws['port']} ...")
        try:
            self.session.start()
        except WsadminError as error:
            for script in steps:
                self.run.journal.set(f"wsadmin:{script}", FAILED, error=str(error))
            raise StepFailed(f"wsadmin: {error}") from None
        return self.session

    def kill(self) -> None:
        if self.session is not None:
            self.session.kill()
        self.close()

    def close(self) -> None:
        if self.session is None:
            return
        self.session.close()
        journal = self.run.journal
        journal.data["wsadminLaunches"] = journal.data.get("wsadminLaunches", 0) + self.session.launches
        journal.save()
        self.session = None


def run(run: BackupRun) -> None:
    """Every planned wsadmin step in order, the stop last (``archive.mode: full``)."""
    phase = WsadminPhase(run)
    try:
        phase.before_stop()
        phase.stop()
    finally:
        phase.close()


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
            _remember_stopped(run, result.result)  # the ones that did stop are stopped all the same
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
    _remember_stopped(run, result)
    if len(stops) == 1 or restarted:  # the outage of this set starts at the stop whose moment it holds
        run.journal.data["stoppedEpoch"] = time.time()
        run.journal.data["stoppedAt"] = stops[-1]
    if len(stops) < 2 or not restarted:
        return
    redo = [sid for sid in run.journal.data["order"] if _after_the_stop(run, sid) and run.journal.is_finished(sid)]
    for sid in redo:
        run.journal.set(sid, PENDING, error="redone: the servers ran again after the first stop")
    message = (f"the servers {', '.join(restarted)} were running again: the {len(redo)} database and file steps "
               "done after the first stop are redone, so that the set holds one moment (level-0 archives are kept: "
               "their level 1 takes what changed)")
    run.warnings.append(message)
    run.progress.message(f"[wsadmin] {message}")  # the end of the run repeats it as a warning


def _remember_stopped(run: BackupRun, result: Dict[str, Any]) -> None:
    """What a stop stopped: in the journal (the lines an interrupted run ends with) and in the record
    ``start`` reads (the servers it found stopped stay stopped)."""
    stopped = [str(name) for name in result.get("stopped") or []]
    run.journal.data[STOPPED_SERVERS] = sorted(set(run.journal.data.get(STOPPED_SERVERS) or []) | set(stopped))
    run.journal.save()
    problem = note_stop(run.env, stopped, [str(name) for name in result.get("alreadyStopped") or []],
                        f"the backup {run.layout.root}")
    if problem is not None:
        run.warnings.append(f"the record of the stopped servers (for cnxbackup start) was not written: {problem}")


def left_stopped(journal: Journal) -> LeftStopped:
    """The application servers the set's stops stopped (the Dmgr and the node agents keep running),
    or the stop that was under way when the run was interrupted."""
    step = journal.step("wsadmin:stop_servers")
    servers = journal.data.get(STOPPED_SERVERS) or (step.get("result") or {}).get("stopped") or []
    return LeftStopped(servers=[str(server) for server in servers],
                       cut=["the application servers' stop"] if step.get("status") == RUNNING else [])


def _after_the_stop(run: BackupRun, step_id: str) -> bool:
    """Steps that hold the moment of the stop: databases, level-1 archives, single files and the
    one archives of ``full`` mode; a level 0 (taken while the servers ran) is not one of them."""
    if step_id.startswith(("db:", "level1:")):
        return True
    return step_id.startswith("item:") and run.journal.step(step_id).get("level") != 0


def _journal_record(script: str, result: Dict[str, Any]) -> Dict[str, Any]:
    """What the journal keeps: the role export stays in its own file, the journal gets a summary."""
    if script == "export_role_mappings":
        return {"cell": result.get("cell"), "applications": sorted((result.get("applications") or {}).keys()),
                "file": RESULT_FILES[script]}
    return result


def _summary(script: str, result: Dict[str, Any]) -> str:
    if script == "list_auth_aliases":
        return f": {counted(len(result.get('aliases') or []), 'J2C alias')}"
    if script == "check_filenet_admin":
        if result.get("alias") is None:
            return ": no filenetAdmin alias (CCM not configured)"
        realm = ("in the file-based realm: fileRegistry.xml is saved" if result.get("fileBased")
                 else "not in the file-based realm (LDAP): fileRegistry.xml is not needed")
        return f": {result.get('userId')} -> {result.get('uniqueName')}, {realm}"
    if script == "export_role_mappings":
        return f": {counted(len(result.get('applications') or {}), 'application')}"
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
