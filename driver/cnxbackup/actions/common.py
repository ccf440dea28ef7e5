"""What the actions share: naming backup sets and finding the one to resume."""
from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, Iterator, List, Tuple

from ..errors import CnxBackupError
from ..manifest import MANIFEST


def new_set_dir(target: str, env_name: str) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = os.path.join(target, f"{env_name}-{stamp}")
    suffix = 1
    while os.path.exists(path):
        suffix += 1
        path = os.path.join(target, f"{env_name}-{stamp}-{suffix}")
    return path


def list_sets(target: str, env_name: str) -> List[str]:
    try:
        names = sorted(os.listdir(target))
    except FileNotFoundError:
        return []
    return [os.path.join(target, n) for n in names
            if n.startswith(env_name + "-") and os.path.isdir(os.path.join(target, n))]


def recent_manifests(target: str, env_name: str) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """(set folder, manifest as plain data) of this environment's sets, newest first; for estimates
    only (the data is not checked nor trusted); sets without a readable manifest are skipped."""
    for path in reversed(list_sets(target, env_name)):
        try:
            with open(os.path.join(path, MANIFEST), encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            yield path, data


def find_resumable_set(target: str, env_name: str) -> str:
    """The newest set of this environment that has a journal but no complete manifest."""
    for path in reversed(list_sets(target, env_name)):
        if not os.path.exists(os.path.join(path, "journal.json")):
            continue
        manifest = os.path.join(path, MANIFEST)
        if os.path.exists(manifest):
            try:
                with open(manifest, encoding="utf-8") as handle:
                    if json.load(handle).get("status") != "partial":
                        continue
            except (OSError, ValueError):
                pass
        return path
    raise CnxBackupError(f"no unfinished backup set of environment {env_name} under {target} to resume")
