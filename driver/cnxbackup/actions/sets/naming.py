"""Backup sets as folders: their names, finding them, and the restores and unfinished runs inside them.

Every command that looks for a set or a restore inside one asks here, so that there is one rule
for what a set folder is (``<env>-<YYYYmmddTHHMMSS>[-N]``, a real folder, not a link) and one
for what counts as an unfinished restore (a journal that does not say complete, or cannot be
read: a restore that may still need its moved-aside copies is never taken for finished).
"""
from __future__ import annotations

import json
import os
import re
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ...errors import CnxBackupError
from ...journal import JOURNAL, Journal
from ...manifest import MANIFEST, ManifestError, read_manifest_bytes

STAMP_FORMAT = "%Y%m%dT%H%M%S"
RESTORE_DIR_PREFIX = "restore-"
"""A restore's folder inside the set: ``restore-<stamp>`` (its journal and log)."""


def set_name_pattern(env_name: str) -> "re.Pattern[str]":
    """A set folder's name; group 1 is the stamp of the backup's start."""
    return re.compile(re.escape(env_name) + r"-(\d{8}T\d{6})(?:-\d+)?")


def set_stamp(env_name: str, name: str) -> Optional[float]:
    """The start time a set folder's name gives (local time), or None when it is not a set's name."""
    match = set_name_pattern(env_name).fullmatch(name)
    return time.mktime(time.strptime(match.group(1), STAMP_FORMAT)) if match else None


def new_set_dir(target: str, env_name: str) -> str:
    stamp = time.strftime(STAMP_FORMAT)
    path = os.path.join(target, f"{env_name}-{stamp}")
    suffix = 1
    while os.path.lexists(path):
        suffix += 1
        path = os.path.join(target, f"{env_name}-{stamp}-{suffix}")
    return path


def list_sets(target: str, env_name: str) -> List[str]:
    """The environment's set folders under ``target``, oldest first by name (links are not sets)."""
    try:
        names = sorted(os.listdir(target))
    except FileNotFoundError:
        return []
    pattern = set_name_pattern(env_name)
    paths = [os.path.join(target, n) for n in names if pattern.fullmatch(n)]
    return [p for p in paths if not os.path.islink(p) and os.path.isdir(p)]


def _manifest_data(set_dir: str) -> Any:
    """The manifest as plain JSON (not checked nor trusted), read as a regular file of the set."""
    return json.loads(read_manifest_bytes(set_dir).decode("utf-8"))


def recent_manifests(target: str, env_name: str) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """(set folder, manifest as plain data) of this environment's sets, newest first; for estimates
    only (the data is not checked nor trusted); sets without a readable manifest are skipped."""
    for path in reversed(list_sets(target, env_name)):
        try:
            data = _manifest_data(path)
        except (ManifestError, OSError, ValueError):
            continue
        if isinstance(data, dict):
            yield path, data


def find_resumable_set(target: str, env_name: str) -> str:
    """The newest set of this environment that has a journal but no complete manifest."""
    for path in reversed(list_sets(target, env_name)):
        if not os.path.exists(os.path.join(path, JOURNAL)):
            continue
        manifest = os.path.join(path, MANIFEST)
        if os.path.exists(manifest):
            try:
                data = _manifest_data(path)
                if isinstance(data, dict) and data.get("status") != "partial":
                    continue
            except (ManifestError, OSError, ValueError):
                pass
        return path
    raise CnxBackupError(f"no unfinished backup set of environment {env_name} under {target} to resume")


def unfinished_restores(set_dir: str) -> List[Tuple[str, Optional[Journal]]]:
    """The set's restore folders whose journal does not say complete, newest first, each with its
    journal (None: unreadable, which counts as unfinished)."""
    try:
        names = sorted((n for n in os.listdir(set_dir) if n.startswith(RESTORE_DIR_PREFIX)), reverse=True)
    except OSError:
        return []
    found: List[Tuple[str, Optional[Journal]]] = []
    for name in names:
        path = os.path.join(set_dir, name)
        try:
            journal: Optional[Journal] = Journal.load(path)
        except (OSError, ValueError):
            journal = None
        if journal is None or journal.data.get("status") != "complete":
            found.append((path, journal))
    return found


def new_restore_stamp(set_dir: str) -> str:
    """A timestamp no earlier restore of this set used (it names the moved-aside copies)."""
    stamp = base = time.strftime(STAMP_FORMAT)
    serial = 1
    while os.path.lexists(os.path.join(set_dir, RESTORE_DIR_PREFIX + stamp)):
        serial += 1
        stamp = f"{base}-{serial}"
    return stamp
