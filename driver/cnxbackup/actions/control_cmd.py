"""``cnxbackup stop`` and ``cnxbackup start``: the whole deployment down or up, in WebSphere's order.

Stop: the application servers (``stop_servers.py`` through the Dmgr), the node agents
(``stopNode.sh``), the Dmgr (``stopManager.sh``). Start: the Dmgr (``startManager.sh``), the
node agents (``startNode.sh``), the application servers (``start_servers.py``). Each waits for
its process, prints one line per process, and is idempotent: what already is in the wanted
state is reported as such. The restore uses the same pieces in its own order. Every stop of
the application servers is recorded (``stopped``), and ``start`` starts only the ones cnxbackup
stopped: a server that was stopped before the backup stays stopped, and is named.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from typing import Any, Dict, List, Optional, Sequence

from ..config import Environment
from ..errors import EXIT_FAILED, EXIT_OK
from ..log import get_logger
from ..progress import Progress
from ..stopped import note_started, note_stop, start_selection
from ..transport import make_transport
from ..was_processes import STOPPED, Outcome, ProfileScripts, WasProcess, deployment_processes
from ..wsadmin_session import WsadminError, new_session, step_arguments


def app_servers(env: Environment, script: str, progress: Progress, servers: Sequence[str] = ()) -> Dict[str, Any]:
    """stop_servers.py or start_servers.py through one wsadmin session; its result. ``servers``:
    ``--server NODE/SERVER`` words that replace the configured clusters and servers."""
    ws = env.section("wsadmin")
    workdir = tempfile.mkdtemp(prefix="cnxcontrol-")
    session = new_session(env, workdir)
    try:
        session.start()
        out = f"{workdir}/{script}.json"
        argv = step_arguments("stop_servers", ws, out)  # the same --cluster/--server/--timeout for both
        if servers:
            argv = ["--out", out, *servers, "--timeout", str(ws["stop_timeout"])]
        result = session.run_step(script, argv, timeout=ws["step_timeout"] + ws["stop_timeout"], result_file=out)
    finally:
        session.close()
        shutil.rmtree(workdir, ignore_errors=True)
    found: Dict[str, Any] = result.result or {}
    if result.rc != 0 and not found.get("failed"):
        found["failed"] = [f"{script} exit {result.rc}"]
    return found


def _print_servers(progress: Progress, verb: str, result: Dict[str, Any]) -> None:
    past = "stopped" if verb == "stop" else "started"
    for name in result.get(past) or []:
        progress.message(f"[{verb}] server {name}: {past}")
    for name in result.get(f"already{past.capitalize()}") or []:
        progress.message(f"[{verb}] server {name}: already {past}")
    for name in result.get("failed") or []:
        progress.message(f"[{verb}] server {name}: FAILED")


def stop_deployment(env: Environment, scripts: ProfileScripts, dmgr: Optional[WasProcess],
                    agents: List[WasProcess], progress: Progress) -> Dict[str, Any]:
    result: Dict[str, Any] = {}
    if dmgr is not None and scripts.status(dmgr) == STOPPED:
        progress.message("[stop] the Dmgr is stopped: the application servers cannot be reached through it; "
                         "their node agents are stopped next")
        result["servers"] = {}
    else:
        try:
            result["servers"] = app_servers(env, "stop_servers", progress)
        except WsadminError as error:
            result["servers"] = {"failed": [f"wsadmin: {error}"]}
        _print_servers(progress, "stop", result["servers"])
        problem = note_stop(env, result["servers"].get("stopped") or [], result["servers"].get("alreadyStopped") or [],
                            "cnxbackup stop")
        if problem is not None:
            progress.warning(f"the record of the stopped servers (for cnxbackup start) was not written: {problem}")
    result["nodeagents"] = scripts.each(agents, "stop", progress.message).as_result("stop")
    result["dmgr"] = scripts.each([dmgr] if dmgr else [], "stop", progress.message).as_result("stop")
    return result


def start_deployment(env: Environment, scripts: ProfileScripts, dmgr: Optional[WasProcess],
                     agents: List[WasProcess], progress: Progress, servers: bool = True) -> Dict[str, Any]:
    result: Dict[str, Any] = {"dmgr": scripts.each([dmgr] if dmgr else [], "start", progress.message).as_result("start")}
    result["nodeagents"] = scripts.each(agents, "start", progress.message).as_result("start")
    if servers:
        result["servers"] = _start_servers(env, progress)
    return result


def _start_servers(env: Environment, progress: Progress) -> Dict[str, Any]:
    """The application servers cnxbackup stopped (``stopped``: a server stopped before stays stopped,
    said so), or every one when nothing is recorded; those started are forgotten by the record."""
    selection = start_selection(env)
    for note in selection.notes:
        progress.note(note)
    try:
        found = app_servers(env, "start_servers", progress, selection.arguments)
    except WsadminError as error:
        found = {"failed": [f"wsadmin: {error}"]}
    _print_servers(progress, "start", found)
    if found.get("failed") and selection.record:
        progress.note(f"the servers started come from {selection.record}; remove it to start every application server")
    problem = note_started(env, list(found.get("started") or []) + list(found.get("alreadyStarted") or []))
    if problem is not None:
        progress.warning(f"the record of the stopped servers could not be updated: {problem}")
    return found


def failures(result: Dict[str, Any]) -> List[str]:
    return [name for part in result.values() for name in (part.get("failed") or [])]


def run_control(args: argparse.Namespace, env: Environment, progress: Progress) -> int:
    """``cnxbackup stop|start --env ENV``."""
    transport = make_transport(env)
    try:
        scripts = ProfileScripts(env, transport)
        dmgr, agents = deployment_processes(env)
        if args.command == "stop":
            result = stop_deployment(env, scripts, dmgr, agents, progress)
        else:
            result = start_deployment(env, scripts, dmgr, agents, progress)
    finally:
        transport.close()
    failed = failures(result)
    progress.outcome.details["processes"] = result
    get_logger().info("%s of %s: %s", args.command, env.name, json.dumps(result, sort_keys=True))
    progress.message(f"{args.command}: " + ("done" if not failed else f"FAILED for {', '.join(failed)}"))
    return EXIT_FAILED if failed else EXIT_OK


__all__ = ["Outcome", "run_control", "start_deployment", "stop_deployment"]
