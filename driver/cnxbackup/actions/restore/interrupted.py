"""What an interrupted restore leaves stopped, read from its journal, and the lines it ends with.

The restore stops the application servers, the node agents and the Dmgr, and starts them again
in WebSphere's order (``plan``); each of those steps records what its script stopped or started.
A process the journal shows stopped by a finished step and not started by a later one is left
stopped; a step still marked running was cut while it ran (some of its processes may be stopped).
"""
from __future__ import annotations

from typing import Any, Dict, List

from ...config import Environment
from ...invocation import command_line
from ...journal import DONE, FINISHED, RUNNING, WARNING, Journal
from ...stopped import LeftStopped, interrupted_text

STOPS = (("stop", "next", "the application servers' stop"), ("stop-agents", "start-agents", "the node agents' stop"),
         ("stop-dmgr", "start-dmgr", "the Dmgr's stop"))
"""(the step that stops them, the step that starts them again, what a cut stop is called)"""
STARTS = {"start-dmgr": "the Dmgr's start", "start-agents": "the node agents' start",
          "next": "the application servers' start"}


def _step(journal: Journal, step_id: str) -> Dict[str, Any]:
    entry = journal.data.get("steps", {}).get(step_id)
    return entry if isinstance(entry, dict) else {}


def _stopped_by(journal: Journal, step_id: str) -> List[str]:
    entry = _step(journal, step_id)
    result = entry.get("result") if entry.get("status") in FINISHED else None
    names = result.get("stopped") if isinstance(result, dict) else None
    return [str(name) for name in names] if isinstance(names, list) else []


def left_stopped(journal: Journal) -> LeftStopped:
    """The processes this restore (and the runs it resumed) stopped and has not started again."""
    left = LeftStopped()
    for (stop, start, cut), into in zip(STOPS, (left.servers, left.agents, left.dmgr)):
        if _step(journal, start).get("status") not in (DONE, WARNING):
            into.extend(_stopped_by(journal, stop))
        if _step(journal, stop).get("status") == RUNNING:
            left.cut.append(cut)
    left.cut += [what for step_id, what in STARTS.items() if _step(journal, step_id).get("status") == RUNNING]
    return left


def interrupted_message(env: Environment, journal: Journal) -> str:
    """The last lines of an interrupted restore: what it left stopped; the resume, and the start."""
    set_dir = str(journal.data.get("set"))
    return interrupted_text("restore", "interrupted; nothing moved aside was deleted", left_stopped(journal),
                            command_line("restore", set_dir, "--env", env.argument, "--resume"),
                            command_line("start", "--env", env.argument),
                            " only to give the restore up (what it already put in place stays)")
