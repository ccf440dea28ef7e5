"""The run journal: every step's status, rewritten atomically on each change.

It is what ``--resume`` reads. A step is ``done`` only after its output is fsynced and
published; archives are re-hashed before a resumed run trusts them.
"""
from __future__ import annotations

import json
import os
import threading
import time
from typing import Any, Dict, Optional

from .atomic import write_json_atomic
from .setbox import OutsideTheSet, read_regular

JOURNAL = "journal.json"
MAX_JOURNAL_BYTES = 64 << 20
PENDING, RUNNING, DONE, WARNING, FAILED, SKIPPED = "pending", "running", "done", "warning", "failed", "skipped"
FINISHED = (DONE, WARNING, SKIPPED)


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class Journal:
    """Thread-safe step journal stored as ``<set>/journal.json``."""

    def __init__(self, set_dir: str, data: Dict[str, Any]) -> None:
        self.set_dir = set_dir
        self.path = os.path.join(set_dir, JOURNAL)
        self.data = data
        self._lock = threading.Lock()

    @classmethod
    def create(cls, set_dir: str, **header: Any) -> "Journal":
        journal = cls(set_dir, {**header, "started": now(), "steps": {}, "order": []})
        journal.save()
        return journal

    @classmethod
    def load(cls, set_dir: str) -> "Journal":
        """The journal as written (a regular file, never a link nor a FIFO: a backup's lives in the set,
        which others may write); OSError when it is missing, ValueError when it is not one cnxbackup wrote."""
        try:
            raw = read_regular(os.path.join(set_dir, JOURNAL), MAX_JOURNAL_BYTES)
        except OutsideTheSet as error:
            raise ValueError(str(error)) from None
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{os.path.join(set_dir, JOURNAL)}: not a journal cnxbackup wrote")
        return cls(set_dir, data)

    def save(self) -> None:
        write_json_atomic(self.path, self.data)

    def step(self, step_id: str) -> Dict[str, Any]:
        return self.data["steps"].get(step_id) or {"status": PENDING}

    def status(self, step_id: str) -> str:
        return self.step(step_id)["status"]

    def is_finished(self, step_id: str) -> bool:
        return self.status(step_id) in FINISHED

    def set(self, step_id: str, status: str, result: Optional[Dict[str, Any]] = None,
            error: Optional[str] = None, **extra: Any) -> None:
        with self._lock:
            entry = dict(self.data["steps"].get(step_id) or {})
            if step_id not in self.data["order"]:
                self.data["order"].append(step_id)
            entry["status"] = status
            if status == RUNNING:
                entry["started"] = now()
                entry.pop("error", None)
            else:
                entry["ended"] = now()
            if result is not None:
                entry["result"] = result
            if error is not None:
                entry["error"] = error
            entry.update(extra)
            self.data["steps"][step_id] = entry
            self.save()

    def put(self, key: str, value: Any) -> None:
        """A top-level record (None removes it), written at once: atomic and fsynced, under the steps' lock."""
        with self._lock:
            if value is None:
                self.data.pop(key, None)
            else:
                self.data[key] = value
            self.save()

    def result(self, step_id: str) -> Optional[Dict[str, Any]]:
        return self.step(step_id).get("result")
