"""What a command did, for ``--json``: one document on stdout at the end of the run.

The actions fill an :class:`CommandOutcome` as they go (the set, per-item and per-database results,
command details); warnings, notes and failures are the messages shown to the user at those
levels (:class:`Level`), so the document says what the console said. ``document()`` gives the shape that
``docs/result.schema.json`` describes (``schemaVersion`` changes only when a key changes
meaning or goes away; new keys may be added).
"""
from __future__ import annotations

import enum
import threading
import time
from typing import Any, Dict, List, Optional

SCHEMA_VERSION = 1

# exit code -> status (cli's EXIT_* values; errors.py sits beside this module, not below it)
STATUSES = {0: "ok", 1: "failed", 2: "usage-error", 3: "warnings", 130: "interrupted"}


class Level(enum.Enum):
    """How much a message matters; its value is the prefix of its console line."""

    INFO = ""
    NOTE = "note: "
    WARNING = "WARNING: "
    ERROR = "FAILED: "

    def line(self, text: str) -> str:
        """The console line of ``text``: the prefix goes after the text's indent, before its first line."""
        body = text.lstrip(" ")
        return text[:len(text) - len(body)] + self.value + body


def iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(timestamp))


class CommandOutcome:
    """The results of one command; thread-safe (parallel backup steps report into it)."""

    def __init__(self, command: str = "", environment: Optional[str] = None) -> None:
        self.command = command
        self.environment = environment
        self.started = time.time()
        self.set_dir: Optional[str] = None
        self.items: List[Dict[str, Any]] = []
        self.databases: List[Dict[str, Any]] = []
        self.warnings: List[str] = []
        self.notes: List[str] = []
        self.errors: List[str] = []
        self.bytes: Optional[int] = None
        self.downtime_seconds: Optional[float] = None
        self.details: Dict[str, Any] = {}
        self._lock = threading.Lock()

    def heard(self, text: str, level: Level) -> None:
        """A message shown to the user: a note, a warning or a failure is kept (without its prefix)."""
        into = {Level.NOTE: self.notes, Level.WARNING: self.warnings, Level.ERROR: self.errors}.get(level)
        if into is not None:
            with self._lock:
                into.append(text.strip())

    def error(self, text: str) -> None:
        with self._lock:
            if text not in self.errors:  # the same error reported on its way up is one error
                self.errors.append(text)

    def document(self, exit_code: int, version: str) -> Dict[str, Any]:
        ended = time.time()
        return {
            "schemaVersion": SCHEMA_VERSION,
            "tool": "cnxbackup",
            "version": version,
            "command": self.command,
            "environment": self.environment,
            "exitCode": exit_code,
            "status": STATUSES.get(exit_code, "failed"),
            "set": self.set_dir,
            "started": iso(self.started),
            "ended": iso(ended),
            "durationSeconds": round(ended - self.started, 3),
            "bytes": self.bytes,
            "downtimeSeconds": self.downtime_seconds,
            "items": list(self.items),
            "databases": list(self.databases),
            "warnings": list(self.warnings),
            "notes": list(self.notes),
            "errors": list(self.errors),
            "details": dict(self.details),
        }
