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
import secrets
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ...config import Environment
from ...errors import CnxBackupError
from ...journal import JOURNAL, Journal
from ...manifest import MANIFEST, ManifestError, read_manifest_bytes

STAMP_FORMAT = "%Y%m%dT%H%M%S"
RESTORE_DIR_PREFIX = "restore-"
"""A restore's folder in the state root: ``<set>/restore-<stamp>`` (its journal and log)."""


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


def restore_state_root(env: Environment) -> str:
    """Where restores keep their journals (``target.restore_state``): never inside a set, which
    others may write; only the restoring user can change it (checked when a restore starts)."""
    configured = str(env.section("target").get("restore_state") or "")
    if configured:
        return os.path.abspath(configured)
    demo_root = env.section("demo").get("root")
    if demo_root:
        return os.path.join(os.path.abspath(str(demo_root)), "restore-state")
    if os.geteuid() == 0:
        return "/var/lib/cnxbackup/restores"
    state = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(state, "cnxbackup", "restores")


SET_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")


def restores_folder(env: Environment, set_dir: str) -> str:
    """The folder of a set's restores in the state root (named as the set's folder)."""
    key = os.path.basename(os.path.normpath(set_dir))
    if not SET_KEY.fullmatch(key) or key in (".", ".."):
        raise CnxBackupError(f"{set_dir}: not a set folder's name; its restores cannot be kept apart")
    return os.path.join(restore_state_root(env), key)


def unfinished_restores(env: Environment, set_dir: str) -> List[Tuple[str, Optional[Journal]]]:
    """The set's restore folders whose journal does not say complete, newest first, each with its
    journal (None: unreadable, which counts as unfinished)."""
    try:
        folder = restores_folder(env, set_dir)
        names = sorted((n for n in os.listdir(folder) if n.startswith(RESTORE_DIR_PREFIX)), reverse=True)
    except (OSError, CnxBackupError):
        return []
    found: List[Tuple[str, Optional[Journal]]] = []
    for name in names:
        path = os.path.join(folder, name)
        try:
            journal: Optional[Journal] = Journal.load(path)
        except (OSError, ValueError):
            journal = None
        if journal is None or journal.data.get("status") not in FINISHED_RESTORE:
            found.append((path, journal))
    return found


def unfinished_restores_of(env: Environment) -> List[Tuple[str, Optional[Journal]]]:
    """Every unfinished restore in the state root of this environment's (or an unreadable journal)."""
    root = restore_state_root(env)
    try:
        keys = sorted(os.listdir(root))
    except OSError:
        return []
    found = []
    for key in keys:
        for path, journal in unfinished_restores(env, os.path.join(root, key)):
            if journal is None or journal.data.get("environment") in (env.name, None):
                found.append((path, journal))
    return found


FINISHED_RESTORE = ("complete", "refused", "discarding")
"""A restore that completed, or was refused before anything stopped (``discarding``: its staging
was being removed: never resumed; what is left of it are leftovers for ``cleanup``)."""


def new_restore_stamp() -> str:
    """A timestamp with a random part: it names the restore's folder and its containers, which
    nobody can then guess and plant beforehand."""
    return time.strftime(STAMP_FORMAT) + "-" + secrets.token_hex(3)
