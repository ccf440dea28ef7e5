"""The restore journal's step records, typed: one record type per kind of step, read and written
only through ``StepLog`` (the moves and containers have theirs in ``moves``).

The journal is a JSON file (``journal.Journal``) in root's state folder; what a step may record
depends on its kind: a file step its finished operations on another host, what it replaced and
whether provision/ was forced; a wsadmin or profile-script step the result the script wrote;
every other step only its status and error. Writing a field a kind does not have is a bug
(TypeError), and reading gives the typed record, never the raw dictionary.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, NewType, Optional, Tuple, Type

from ...journal import DONE, FAILED, FINISHED, PENDING, RUNNING, SKIPPED, Journal
from .plan import RestoreStep

StepId = NewType("StepId", str)
"""A step's id as the plan names it (``file:<item>``, ``db:<name>``, ``stop``, ``sync:<host>:<profile>``)."""


@dataclass(frozen=True)
class StepRecord:
    """What every step records: its status, and why it failed or was skipped."""

    status: str = PENDING
    error: Optional[str] = None
    started: Optional[str] = None
    ended: Optional[str] = None
    KEYS: ClassVar[Dict[str, str]] = {}  # field -> its key in the journal, beyond the common ones

    @classmethod
    def from_data(cls, data: Dict[str, Any]) -> "StepRecord":
        common = {name: data.get(name) for name in ("error", "started", "ended")}
        extra = {name: data[key] for name, key in cls.KEYS.items() if key in data and data[key] is not None}
        return cls(status=str(data.get("status") or PENDING), **common, **extra)

    @classmethod
    def journal_fields(cls, values: Dict[str, Any]) -> Dict[str, Any]:
        """``values`` as journal keys; TypeError for a field this kind of step does not record."""
        unknown = sorted(set(values) - set(cls.KEYS))
        if unknown:
            raise TypeError(f"a {cls.__name__} records no {', '.join(unknown)}")
        return {cls.KEYS[name]: value for name, value in values.items()}

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass(frozen=True)
class FileStepRecord(StepRecord):
    """A file step: on another host, how many of its operations are done; what it replaced."""

    ops_done: int = 0
    replaced: Tuple[str, ...] = field(default_factory=tuple)
    forced: bool = False
    KEYS: ClassVar[Dict[str, str]] = {"ops_done": "opsDone", "replaced": "replaced", "forced": "forced"}


@dataclass(frozen=True)
class ResultStepRecord(StepRecord):
    """A wsadmin or profile-script step: the result its script wrote."""

    result: Optional[Dict[str, Any]] = None
    KEYS: ClassVar[Dict[str, str]] = {"result": "result"}


RECORD_TYPES: Dict[str, Type[StepRecord]] = {
    "file": FileStepRecord,
    **{kind: ResultStepRecord for kind in ("stop", "roles", "next", "stop-agents", "stop-dmgr", "start-dmgr",
                                           "start-agents", "sync")},
}


def record_type(step: RestoreStep) -> Type[StepRecord]:
    return RECORD_TYPES.get(step.kind, StepRecord)


class StepLog:
    """The steps' part of a restore journal, each write atomic and fsynced (``Journal.set``)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def record(self, step: RestoreStep) -> StepRecord:
        return record_type(step).from_data(self.journal.step(StepId(step.step_id)))

    def is_finished(self, step: RestoreStep) -> bool:
        return self.record(step).finished

    def begin(self, step: RestoreStep, **values: Any) -> None:
        self.journal.set(step.step_id, RUNNING, **record_type(step).journal_fields(values))

    def done(self, step: RestoreStep, **values: Any) -> None:
        self.journal.set(step.step_id, DONE, **record_type(step).journal_fields(values))

    def failed(self, step: RestoreStep, error: Optional[str] = None, **values: Any) -> None:
        self.journal.set(step.step_id, FAILED, error=error, **record_type(step).journal_fields(values))

    def skipped(self, step: RestoreStep, why: str) -> None:
        self.journal.set(step.step_id, SKIPPED, error=why)

    def fail_running(self, error: str) -> None:
        """Every step still marked running (the one a failure stopped) is marked failed."""
        for step_id in list(self.journal.data["order"]):
            if self.journal.status(step_id) == RUNNING:
                self.journal.set(step_id, FAILED, error=error)

    def started_past_staging(self, steps: List[RestoreStep]) -> bool:
        """Whether the run got past staging (then nothing may be discarded any more)."""
        return any(self.record(step).status != PENDING for step in steps if step.kind not in ("guard", "check", "stage"))
