"""Where each item of a set goes on restore: from the environment, never from the set.

The set's manifest records where each item was read (``source``); the set may have been
edited by anyone who can write the backup disk, so restore computes each destination from
the environment file (``plan.restore_sources``: the same code that planned the backup) and
refuses an item whose recorded source differs, unless the administrator names its
destination (``--only NAME=DEST``). ``--target-root`` is a containment: every destination,
resolved, must lie inside it.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from ...config import Environment
from ...errors import ConfigError
from ...hosts import hosts_of
from ...manifest import ArchiveRecord, Manifest
from ...paths import is_within, nearest_existing
from ...plan import restore_sources
from ...versions import ConnectionsVersion

MODE = re.compile(r"^0?[0-7]{3,4}$")


@dataclass
class Destinations:
    by_item: Dict[str, str] = field(default_factory=dict)  # item name -> path (before --target-root)
    problems: List[str] = field(default_factory=list)


def parse_only(only: Optional[Sequence[str]]) -> Tuple[List[str], Dict[str, str]]:
    """``--only`` values: names, and ``NAME=DEST`` (an absolute destination given by hand)."""
    names: List[str] = []
    overrides: Dict[str, str] = {}
    for value in only or []:
        name, sep, dest = value.partition("=")
        if sep:
            if not dest.startswith("/") or "\0" in dest:
                raise ConfigError(f"--only {value}: the destination must be an absolute path")
            overrides[name] = os.path.normpath(dest)
        names.append(name)
    return names, overrides


def contained(dest: str, target_root: Optional[str]) -> Optional[str]:
    """None when ``dest`` (resolved through any existing links) lies inside ``target_root``; else why not."""
    if not target_root:
        return None
    root = os.path.realpath(target_root)
    probe = nearest_existing(dest, links_count=True)
    resolved = os.path.normpath(os.path.join(os.path.realpath(probe), os.path.relpath(dest, probe)))
    if resolved != root and not is_within(resolved, root):
        return f"{dest} resolves to {resolved}, outside --target-root {target_root}"
    return None


def record_problems(item: ArchiveRecord, unsealed: bool) -> List[str]:
    """What in an item's record cannot be used as it is (mode, owner, nested excludes)."""
    problems = []
    if item.mode is not None:
        if not MODE.match(item.mode) or int(item.mode, 8) > 0o7777:
            problems.append(f"item {item.name}: mode {item.mode!r} is not a file mode")
        elif unsealed and int(item.mode, 8) & 0o6000:
            problems.append(f"item {item.name}: mode {item.mode} is setuid/setgid, refused from a set that is not signed")
    for value, what in ((item.uid, "uid"), (item.gid, "gid")):
        if value is not None and value < 0:
            problems.append(f"item {item.name}: {what} {value} is not an owner")
    for rel in item.excluded:
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        if rel.startswith("/") or ".." in parts or not parts:
            problems.append(f"item {item.name}: nested exclude {rel!r} is not a path inside the item")
    return problems


def resolve(manifest: Manifest, env: Environment, names: Sequence[str], overrides: Dict[str, str],
            target_root: Optional[str], unsealed: bool, exclude: Sequence[str] = ()) -> Destinations:
    """Every selected item's destination, and a line per item that cannot be restored as asked
    (``exclude``: items held back, the Component Pack's in a full restore)."""
    version = ConnectionsVersion.from_dict(manifest.connections)
    expected = restore_sources(env, version, manifest.cell)
    hosts = hosts_of(env)
    result = Destinations()
    wanted = set(names)
    for item in manifest.archives:
        if (wanted and item.name not in wanted) or item.name in exclude:
            continue
        if not item.in_set:
            continue
        result.problems += record_problems(item, unsealed)
        if item.name in overrides:
            if item.host not in hosts:
                result.problems.append(f"item {item.name}: host {item.host!r} is not one of the environment's")
                continue
            source = overrides[item.name]
        else:
            planned = expected.get(item.name)
            if planned is None:
                result.problems.append(f"item {item.name}: the environment {env.name} has no such item; name its "
                                       f"destination with --only {item.name}=DEST")
                continue
            if (planned.kind, planned.restore_rule) != (item.kind, item.restore_rule):
                result.problems.append(f"item {item.name}: the set records it as a {item.kind} restored by rule "
                                       f"{item.restore_rule}, the environment as a {planned.kind} by rule "
                                       f"{planned.restore_rule}; refused")
                continue
            if os.path.normpath(planned.source) != os.path.normpath(item.source) or planned.host != item.host:
                result.problems.append(f"item {item.name}: the set says it came from {item.host}:{item.source}, the "
                                       f"environment puts it at {planned.host}:{planned.source}; refused (name the "
                                       f"destination with --only {item.name}=DEST)")
                continue
            source = planned.source
        dest = os.path.join(target_root, source.lstrip("/")) if target_root else source
        escape = contained(dest, target_root)
        if escape is not None:
            result.problems.append(f"item {item.name}: {escape}")
            continue
        result.by_item[item.name] = source
    return result
