"""What the backup's outage will cost, from the last complete set of this environment.

The outage runs from the stop of the application servers to the end of the backup: the stop
itself, then the database backups and the file archives, which run at the same time. The last
set's journal times (one-second resolution) give each part's wall time. A whole-tree figure (the
archives of ``full`` mode, the level 0 of two-phase) is scaled by the bytes the plan estimates
now against the bytes the last set archived; a level-1 figure (what changed between the phases)
is taken as it was. The manifest is read as data (an estimate, not trusted).
"""
from __future__ import annotations

import datetime
import os
from typing import Callable, Dict, List, Optional

from ...config import Environment
from ...manifest import COMPLETE
from ...progress import human_bytes, human_seconds
from ..sets.naming import recent_manifests


def _when(text: object) -> Optional[datetime.datetime]:
    try:
        return datetime.datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


def _wall(steps: Dict[str, Dict[str, object]], wanted: Callable[[str, Dict[str, object]], bool]) -> Optional[float]:
    """Seconds from the first start to the last end of the steps ``wanted`` picks."""
    starts: List[datetime.datetime] = []
    ends: List[datetime.datetime] = []
    for name, step in steps.items():
        if not isinstance(step, dict) or not wanted(name, step):
            continue
        start, end = _when(step.get("started")), _when(step.get("ended"))
        if start is not None and end is not None:
            starts.append(start)
            ends.append(end)
    return (max(ends) - min(starts)).total_seconds() if starts else None


def _prefix(prefix: str) -> Callable[[str, Dict[str, object]], bool]:
    return lambda name, _step: name.startswith(prefix)


def _level0(name: str, step: Dict[str, object]) -> bool:
    return name.startswith("item:") and step.get("level") == 0


def _after_the_stop(name: str, step: Dict[str, object]) -> bool:
    """The file steps of the outage: level 1 and single files (two-phase), or every item (full)."""
    return name.startswith("level1:") or (name.startswith("item:") and step.get("level") != 0)


def expected_downtime(env: Environment, estimated_bytes: int) -> str:
    """One line for the plan: the expected outage, or why it cannot be told."""
    found = next(((path, data) for path, data in recent_manifests(env.section("target")["dir"], env.name)
                  if data.get("status") in COMPLETE and isinstance(data.get("steps"), dict)), None)
    if found is None:
        return "expected downtime: not known yet (no complete set of this environment to take the rates from)"
    set_dir, data = found
    steps = data["steps"]
    assert isinstance(steps, dict)
    stop = _wall(steps, _prefix("wsadmin:stop_servers")) or 0.0
    databases = _wall(steps, _prefix("db:")) or 0.0
    last_bytes = 0
    archives = data.get("archives")
    for archive in archives if isinstance(archives, list) else []:
        if isinstance(archive, dict):
            value = archive.get("tarBytes") or archive.get("size") or 0
            last_bytes += value if isinstance(value, int) else 0
    whole = _wall(steps, _level0) if any(_level0(n, s) for n, s in steps.items() if isinstance(s, dict)) else None
    if whole is None:
        whole = _wall(steps, _after_the_stop) or 0.0  # the last set took every folder whole, after the stop
        changes = None
    else:
        changes = _wall(steps, _after_the_stop) or 0.0
    scaled = whole * estimated_bytes / last_bytes if last_bytes and estimated_bytes else whole
    rate = f", {human_bytes(last_bytes / whole)}/s last time" if whole and last_bytes else ""
    source = f"rates of {os.path.basename(set_dir)}"
    if env.section("archive")["mode"] != "two-phase":
        files, what = scaled, f"files {human_seconds(scaled)} for {human_bytes(estimated_bytes)}{rate}"
    elif changes is not None:
        files, what = changes, (f"level-1 archives {human_seconds(changes)} as last time; the level-0 archives, "
                                f"about {human_seconds(scaled)} for {human_bytes(estimated_bytes)}{rate}, run before "
                                "the stop")
    else:
        files, what = scaled, (f"files at most {human_seconds(scaled)} for {human_bytes(estimated_bytes)}{rate}: the "
                               "last set was taken whole after the stop, a two-phase level 1 takes only what changed")
    total = stop + max(databases, files)
    return (f"expected downtime of the backup: about {human_seconds(total)} from the stop (stop "
            f"{human_seconds(stop)}, then databases {human_seconds(databases)} beside {what}; {source})")
