"""What cnxbackup stopped and has not started again: the record ``start`` reads, and the words
an interrupted run ends with.

Every stop of the application servers by cnxbackup (a backup's, a restore's, ``cnxbackup stop``)
adds the servers it stopped -- the ones that were running -- to ``<target.dir>/.cnxbackup-<env>-
stopped.json``; the servers it found already stopped are remembered as left stopped. ``cnxbackup
start`` (and a restore's ``--start``) then starts only the recorded ones, says which it leaves
stopped and why, and forgets the ones it started: a server stopped before the backup stays
stopped. Without a record, ``start`` starts every application server.

The record says only which servers to start: a wrong or planted one can at worst leave a server
stopped (``start`` names it, and the record file), never start one that is not in the cell or
touch anything else; an unreadable one is reported and ignored.
"""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from .atomic import write_json_atomic
from .config import Environment

SERVER = re.compile(r"[^/\s]{1,200}/[^/\s]{1,200}")  # NODE/SERVER, as stop_servers.py names one
MAX_RECORD_BYTES = 1 << 20


def record_path(env: Environment) -> str:
    return os.path.join(env.section("target")["dir"], f".cnxbackup-{env.name}-stopped.json")


@dataclass
class StopRecord:
    """The application servers cnxbackup stopped and did not start again (``start``), those its stops
    found already stopped (``left_stopped``), and which runs stopped them (``by``)."""

    start: List[str] = field(default_factory=list)
    left_stopped: List[str] = field(default_factory=list)
    by: List[str] = field(default_factory=list)

    def data(self) -> Dict[str, Any]:
        return {"start": self.start, "leftStopped": self.left_stopped, "by": self.by}


class RecordUnreadable(Exception):
    """The record is there but is not one cnxbackup wrote (the message names the file)."""


def _servers(value: Any) -> List[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and SERVER.fullmatch(v) for v in value):
        raise ValueError("not a list of NODE/SERVER names")
    return sorted(set(value))


def read_record(env: Environment) -> Optional[StopRecord]:
    """The record, None when there is none; RecordUnreadable when it is not one cnxbackup wrote."""
    path = record_path(env)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_RECORD_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise RecordUnreadable(f"{path}: {error.strerror}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
        by = data.get("by") if isinstance(data, dict) else None
        if len(raw) > MAX_RECORD_BYTES or not isinstance(by, list) or not all(isinstance(b, str) for b in by):
            raise ValueError("not a record of stopped servers")
        return StopRecord(_servers(data.get("start")), _servers(data.get("leftStopped")), [b[:300] for b in by[-20:]])
    except (ValueError, UnicodeDecodeError) as error:
        raise RecordUnreadable(f"{path}: not a record cnxbackup wrote ({error})") from None


def _write(env: Environment, record: StopRecord) -> Optional[str]:
    """The record written (removed when nothing is left to start); why it could not be, or None."""
    path = record_path(env)
    try:
        if not record.start:
            if os.path.lexists(path):
                os.unlink(path)
            return None
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        write_json_atomic(path, record.data())
    except OSError as error:
        return f"{path}: {error.strerror or error}"
    return None


def note_stop(env: Environment, stopped: Sequence[str], already: Sequence[str], by: str) -> Optional[str]:
    """After a stop of the application servers: those it stopped are to be started again, those it
    found stopped (and no earlier stop of the record stopped) stay stopped. ``by``: which run.
    Why the record could not be written, or None."""
    try:
        record = read_record(env) or StopRecord()
    except RecordUnreadable:
        record = StopRecord()  # a stop is recorded afresh rather than lost
    start = sorted(set(record.start) | {s for s in stopped if SERVER.fullmatch(s)})
    left = sorted((set(record.left_stopped) | {s for s in already if SERVER.fullmatch(s)}) - set(start))
    if not start:
        return None  # nothing of this stop to start again: no record (``start`` starts every server)
    return _write(env, StopRecord(start, left, (record.by + [f"{by} at {time.strftime('%Y-%m-%d %H:%M:%S')}"])[-20:]))


def note_started(env: Environment, started: Sequence[str]) -> Optional[str]:
    """After a start: the servers it started (or found running) are no longer to be started.
    Why the record could not be written, or None."""
    try:
        record = read_record(env)
    except RecordUnreadable:
        return None
    if record is None:
        return None
    record.start = [s for s in record.start if s not in set(started)]
    return _write(env, record)


@dataclass
class LeftStopped:
    """The WebSphere processes one run stopped and did not start again, for the lines it ends with:
    application servers as NODE/SERVER, node agents and the Dmgr by their labels (profile, host);
    ``cut``: a stop or start that was under way when the run was interrupted."""

    servers: List[str] = field(default_factory=list)
    agents: List[str] = field(default_factory=list)
    dmgr: List[str] = field(default_factory=list)
    cut: List[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.servers or self.agents or self.dmgr or self.cut)

    def lines(self) -> List[str]:
        by_node: Dict[str, List[str]] = {}
        for server in self.servers:
            node, _, name = server.partition("/")
            by_node.setdefault(node, []).append(name)
        out = [f"application servers on node {node}: {', '.join(names)}" for node, names in sorted(by_node.items())]
        out += [f"node agent {label}" for label in self.agents] + [f"Dmgr {label}" for label in self.dmgr]
        return out + [f"{what}: under way when interrupted, so some may be stopped" for what in self.cut]


def interrupted_text(run: str, head: str, left: LeftStopped, resume: str, start: str, caution: str = "") -> str:
    """The last lines of an interrupted ``run`` ("backup", "restore"): ``head`` (what the run kept
    safe), the processes it left stopped, and the commands that finish it or start them
    (``caution``: why not to start them, if any)."""
    if not left:
        return f"{head}; this {run} stopped no WebSphere process. Resume with:\n    {resume}"
    return "\n".join([f"{head}.", f"The deployment is NOT fully running: this {run} stopped these WebSphere processes "
                      "and left them stopped:", *(f"    {line}" for line in left.lines()),
                      f"Finish the {run} (what is done is kept):", f"    {resume}",
                      f"Or start them{caution}:", f"    {start}"])


@dataclass
class StartSelection:
    """Which application servers a start starts: ``arguments`` for start_servers.py (none: every
    one), and ``notes``, what it leaves stopped and why, or why the record was not used."""

    arguments: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    record: Optional[str] = None  # the record's path, when the selection comes from it


def start_selection(env: Environment) -> StartSelection:
    """The servers the record says to start (those the recorded stops found running), else every one."""
    try:
        record = read_record(env)
    except RecordUnreadable as error:
        return StartSelection(notes=[f"{error}: ignored, every application server is started"])
    if record is None:
        return StartSelection()
    arguments = [word for server in record.start for word in ("--server", server)]
    notes = [f"starting only the application servers cnxbackup stopped ({len(record.start)}, recorded in "
             f"{record_path(env)} by {'; '.join(record.by) or 'an earlier stop'})"]
    if record.left_stopped:
        notes.append(f"left stopped, as they were before cnxbackup stopped the others: {', '.join(record.left_stopped)} "
                     "(start them by hand, or with start_servers.py --server NODE/SERVER, if they should run)")
    return StartSelection(arguments, notes, record_path(env))


def note_result(env: Environment, script: str, result: Optional[Dict[str, Any]], by: str) -> Optional[str]:
    """The record after stop_servers.py or start_servers.py wrote ``result``; why it could not be
    written, or None (another script, or no result: nothing to note)."""
    if not isinstance(result, dict):
        return None
    if script == "stop_servers":
        return note_stop(env, [str(s) for s in result.get("stopped") or []],
                         [str(s) for s in result.get("alreadyStopped") or []], by)
    if script == "start_servers":
        return note_started(env, [str(s) for s in list(result.get("started") or []) + list(result.get("alreadyStarted") or [])])
    return None
