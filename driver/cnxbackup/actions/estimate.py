"""What the backup's outage will cost, from the last complete set of this environment.

The outage runs from the stop of the application servers to the end of the backup: the stop
itself, then the database backups and the file archives, which run at the same time. The last
set's journal times (one-second resolution) give each part's wall time; the file part is scaled
by the bytes the plan estimates now against the bytes the last set archived. The manifest is
read as data (an estimate, not trusted).
"""
from __future__ import annotations

import datetime
import os
from typing import Dict, List, Optional

from ..config import Environment
from ..progress import human_bytes, human_seconds
from .common import recent_manifests

COMPLETE = ("complete", "complete-with-warnings")


def _when(text: object) -> Optional[datetime.datetime]:
    try:
        return datetime.datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


def _wall(steps: Dict[str, Dict[str, object]], prefix: str) -> Optional[float]:
    """Seconds from the first start to the last end of the steps named ``prefix...``."""
    starts: List[datetime.datetime] = []
    ends: List[datetime.datetime] = []
    for name, step in steps.items():
        if not name.startswith(prefix) or not isinstance(step, dict):
            continue
        start, end = _when(step.get("started")), _when(step.get("ended"))
        if start is not None and end is not None:
            starts.append(start)
            ends.append(end)
    return (max(ends) - min(starts)).total_seconds() if starts else None


def expected_downtime(env: Environment, estimated_bytes: int) -> str:
    """One line for the plan: the expected outage, or why it cannot be told."""
    found = next(((path, data) for path, data in recent_manifests(env.section("target")["dir"], env.name)
                  if data.get("status") in COMPLETE and isinstance(data.get("steps"), dict)), None)
    if found is None:
        return "expected downtime: not known yet (no complete set of this environment to take the rates from)"
    set_dir, data = found
    steps = data["steps"]
    assert isinstance(steps, dict)
    stop = _wall(steps, "wsadmin:stop_servers") or 0.0
    databases = _wall(steps, "db:") or 0.0
    files = _wall(steps, "item:") or 0.0
    archives = data.get("archives")
    last_bytes = 0
    for archive in archives if isinstance(archives, list) else []:
        if isinstance(archive, dict):
            value = archive.get("tarBytes") or archive.get("size") or 0
            last_bytes += value if isinstance(value, int) else 0
    scaled = files * estimated_bytes / last_bytes if last_bytes and estimated_bytes else files
    total = stop + max(databases, scaled)
    rate = f", {human_bytes(last_bytes / files)}/s last time" if files and last_bytes else ""
    return (f"expected downtime of the backup: about {human_seconds(total)} from the stop (stop "
            f"{human_seconds(stop)}, then databases {human_seconds(databases)} beside files {human_seconds(scaled)} "
            f"for {human_bytes(estimated_bytes)}{rate}; rates of {os.path.basename(set_dir)})")
