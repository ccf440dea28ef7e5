"""Preflight: everything that can be checked before anything changes, reported all at once."""
from __future__ import annotations

import os
import shutil
from typing import List, Optional

from ..config import Environment
from ..errors import PreflightError
from ..hosts import hosts_of
from ..lock import RunLock
from ..paths import nearest_existing
from ..plan import Plan, check_sources, check_space, estimate_sizes
from ..progress import human_bytes
from ..signing import SigningError, public_key_of
from ..transport import Transport
from .remote_ops import probe_remote_items

DB_TOOLS = {"db2": ["db2"], "mssql": ["sqlcmd"], "oracle": []}


def _tool_present(command: str) -> bool:
    if os.sep in command:
        return os.path.isfile(command) and os.access(command, os.X_OK)
    return shutil.which(command) is not None


def required_tools(plan: Plan) -> List[str]:
    env = plan.env
    tools = ["tar", "zstd", "openssl"]
    if plan.wsadmin_steps:
        tools.append(env.section("wsadmin")["command"])
    db = env.section("database")
    vendor = db["vendor"]
    if vendor != "none" and plan.databases and not db["host"]:
        names = list(DB_TOOLS.get(vendor, []))
        if vendor == "oracle":
            names = ["rman"] if db["oracle"]["method"] == "rman" else ["expdp"]
        tools += [db["command"][name] for name in names]
    return tools


def _signing_problems(env: Environment) -> List[str]:
    """The signing key must be usable (or creatable) before anything stops."""
    key = env.section("signing")["key"]
    if os.path.exists(key):
        try:
            public_key_of(key)
        except SigningError as error:
            return [str(error)]
        return []
    probe = nearest_existing(os.path.dirname(os.path.abspath(key)))
    if not os.access(probe, os.W_OK | os.X_OK):
        return [f"signing.key {key} does not exist and {probe} is not writable, so it cannot be created"]
    return []


def preflight(plan: Plan, transport: Optional[Transport] = None) -> List[str]:
    """Raise PreflightError listing every problem; return notes for the plan display."""
    env = plan.env
    problems = check_sources(plan)
    if transport is not None and any(item.host != "local" for item in plan.items):
        problems += probe_remote_items(plan, transport, hosts_of(env))
    for tool in required_tools(plan):
        if not _tool_present(tool):
            problems.append(f"tool {tool} is not installed or not executable")
    problems += _signing_problems(env)
    target = env.section("target")["dir"]
    estimate_sizes(plan)
    margin = env.section("target")["free_space_margin"]
    needed = int(plan.estimated_bytes * (1 + margin))
    enough, free = check_space(target, needed)
    if not enough:
        problems.append(f"target {target} has {human_bytes(free)} free but the estimate with a "
                        f"{margin:.0%} margin is {human_bytes(needed)}")
    if os.path.exists(target) and not os.access(target, os.W_OK | os.X_OK):
        problems.append(f"target {target} is not writable")
    holder = RunLock(target, env.name, "").holder()
    if holder is not None:
        problems.append(f"another cnxbackup run ({holder}) holds the lock of {env.name}")
    if problems:
        raise PreflightError("preflight failed:\n  - " + "\n  - ".join(problems))
    return [f"target {target}: {human_bytes(free)} free, {human_bytes(needed)} needed"]
