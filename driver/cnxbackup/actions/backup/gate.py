"""Preflight, the gate before the outage: everything a backup will need, checked before the set
folder exists and before anything stops, every problem reported at once.

``plan`` runs it and exits non-zero when the backup would fail or end partial; ``backup``
runs it first and refuses to start (``--allow-partial`` accepts unreachable hosts). It reaches
the Dmgr with the configured credentials through the session the backup then uses (dmgr_gate).
"""
from __future__ import annotations

import os
import shlex
import shutil
from typing import Any, Dict, List, Optional, Tuple

from ... import componentpack
from ...config import Environment
from ...databases import (
    backup_tools,
    db_host,
    db_settings,
    images_written_by_tool_user,
    remote_switch,
    tool_user_check,
    tools_on_callers_path,
)
from ...errors import EXIT_USAGE, CnxBackupError, ConfigError, PreflightError
from ...hosts import hosts_of
from ...lock import RunLock
from ...paths import nearest_existing
from ...plan import Plan, check_sources, check_space, estimate_sizes
from ...progress import human_bytes
from ...remote_archive import probe_remote_items, remote_free_space
from ...secrets import read_password
from ...signing import SigningError, public_key_of
from ...transport import HostUnreachable, Transport, make_transport
from ..sets.naming import recent_manifests
from .dmgr_gate import DmgrGate


def _tool_present(command: str) -> bool:
    if os.sep in command:
        return os.path.isfile(command) and os.access(command, os.X_OK)
    return shutil.which(command) is not None


def required_tools(plan: Plan) -> List[str]:
    env = plan.env
    tools = ["tar", "zstd", "openssl"]
    if plan.wsadmin_steps:
        tools.append(env.section("wsadmin")["command"])
    if plan.db_vendor != "none" and plan.databases and db_host(env) is None and tools_on_callers_path(env):
        tools += backup_tools(env)  # else found by running them as their user (tool_user_check)
    return tools


def _password_problems(plan: Plan) -> Tuple[List[str], List[str]]:
    """Each password source the run will read: the variable set, the file present and private."""
    env = plan.env
    wanted: List[Tuple[Dict[str, Any], str, str]] = []
    ws = env.section("wsadmin")
    if plan.wsadmin_steps and ws["credentials"] == "driver" and ws.get("user"):
        wanted.append((ws, "WAS administrative", "wsadmin"))
    db = env.section("database")
    if plan.db_vendor != "none" and plan.databases and db.get("auth") == "password":
        wanted.append((db, "database", "database"))
    problems, notes = [], []
    for section, what, key in wanted:
        if section.get("password_prompt") and not section.get("password_env") and not section.get("password_file"):
            when = "by the gate, to log in to the Dmgr" if key == "wsadmin" else "when the backup starts"
            notes.append(f"the {what} password is asked for {when} ({key}.password_prompt)")
            continue
        try:
            read_password(section, what, env.where(key))
        except ConfigError as error:
            problems.append(str(error))
    return problems, notes


def last_image_bytes(env: Environment) -> Optional[int]:
    """The database images' total size in the newest set of this environment (an estimate only:
    the manifest is read, not trusted), or None when there is none."""
    for _set_dir, data in recent_manifests(env.section("target")["dir"], env.name):
        try:
            sizes = [image.get("size") for db in data.get("databases") or [] for image in db.get("images") or []]
        except (AttributeError, TypeError):
            continue
        if sizes and all(isinstance(size, int) and size >= 0 for size in sizes):
            return sum(sizes)
    return None


def _database_problems(plan: Plan, transport: Optional[Transport]) -> Tuple[List[str], List[str]]:
    """The DB host reachable with the vendor's tools there; where the user that runs the tool
    writes the images (DB2), backup_dir a folder it can write with room for the images (the
    last run's sizes). Where the server's own account writes them (SQL Server, Oracle), this
    host cannot check that: noted."""
    env = plan.env
    if plan.db_vendor == "none" or not plan.databases:
        return [], []
    backup_dir = env.section("database")["backup_dir"]
    where = f"{env.where('database.backup_dir')}: key 'database.backup_dir'"
    host_name = db_host(env)
    checked = images_written_by_tool_user(plan.db_vendor)
    problems: List[str] = []
    notes: List[str] = []
    free: Optional[int] = None
    if host_name is not None:
        host = hosts_of(env)[host_name]
        if transport is None:
            return [], [f"database host {host_name} not checked (no transport)"]
        tools = backup_tools(env)
        prefix = remote_switch(db_settings(env), host.user)  # as the tools' user, in its environment
        owner = prefix[2] if prefix[:1] == ["runuser"] else "this user"
        probe = shlex.join(prefix + ["/bin/sh", "-c", 'for t in "$@"; do command -v "$t" >/dev/null || exit 1; done', "sh",
                                     *tools])
        try:
            transport.check(host)
            if transport.run(host, probe).returncode != 0:
                problems.append(f"database host {host_name}: {', '.join(tools)} not all installed there")
            writable = shlex.join(prefix + ["test", "-d", backup_dir, "-a", "-w", backup_dir])
            if checked and transport.run(host, writable).returncode != 0:
                problems.append(f"{where}: {backup_dir} on {host_name} is not a folder {owner} can write")
            elif checked:
                free = remote_free_space(transport, host, backup_dir)[1]
        except HostUnreachable as error:
            return [f"database host: UNREACHABLE {error}: no database could be backed up"], []
        except ValueError as error:
            notes.append(f"room in {backup_dir} on {host_name} not checked: {error}")
    elif checked:
        free = _local_backup_dir_free(backup_dir, where, problems, notes)
    if not checked:
        notes.append(f"{backup_dir} is written by the database server's own account; its room is not checked here")
        return problems, notes
    return problems + _room_problems(env, backup_dir, where, free, notes), notes


def _local_backup_dir_free(backup_dir: str, where: str, problems: List[str], notes: List[str]) -> Optional[int]:
    """The room in a local backup_dir this user writes (or the folder it will be created in);
    None, with a problem, when it cannot."""
    parent = nearest_existing(backup_dir)
    if not os.path.exists(backup_dir) and os.path.isdir(parent) and os.access(parent, os.W_OK | os.X_OK):
        notes.append(f"{backup_dir} does not exist yet; the backup creates it (in {parent})")
        return shutil.disk_usage(parent).free
    if not os.path.isdir(backup_dir):
        problems.append(f"{where}: {backup_dir} does not exist and cannot be created here")
    elif not os.access(backup_dir, os.W_OK | os.X_OK):
        problems.append(f"{where}: {backup_dir} is not writable by this user (it runs the database tool, which "
                        "writes the images there)")
    else:
        return shutil.disk_usage(backup_dir).free
    return None


def _room_problems(env: Environment, backup_dir: str, where: str, free: Optional[int], notes: List[str]) -> List[str]:
    """backup_dir's room against the last run's images with the margin (a note when it cannot be told)."""
    last = last_image_bytes(env)
    if free is not None and last is None:
        notes.append(f"room in {backup_dir}: no earlier set to size the images by; {human_bytes(free)} free")
    elif free is not None and last is not None:
        margin = env.section("target")["free_space_margin"]
        needed = int(last * (1 + margin))
        if needed > free:
            return [f"{where}: {backup_dir} has {human_bytes(free)} free; the last run's images were "
                    f"{human_bytes(last)} ({human_bytes(needed)} with the {margin:.0%} margin)"]
        notes.append(f"{backup_dir}: {human_bytes(free)} free, the last run's images were {human_bytes(last)}")
    return []


def component_pack_problems(plan: Plan, transport: Transport, allow_partial: bool,
                            own_lock: Optional[str] = None) -> Tuple[List[str], List[str]]:
    """(problems, notes) of the Component Pack: the API server answers, MongoDB (5 or 7) has every
    member ready and healthy and none left fsync-locked, OpenSearch has a ready client and no red
    index, the API gateway's etcd (when found, or required) a ready member, the deployments to quiesce
    exist. A cluster that answers but is unhealthy is a note with ``--allow-partial`` (that part then
    fails alone, after the stop). ``own_lock``: the member the resumed set's own run locked (recorded
    in its journal before the lock): the resume unlocks it."""
    env = plan.env
    if not componentpack.enabled(env):
        return [], []
    cp = componentpack.settings(env)
    try:
        kube = componentpack.Kube(env, transport)
        kube.json("kubectl", ["version", "-o", "json"])
    except (CnxBackupError, OSError) as error:
        return [f"component pack: kubectl does not reach the cluster: {error}"], []
    health: List[str] = []
    try:
        if cp["mongodb"]:
            found = componentpack.mongo.detect(kube)
            health += [f"pod {pod} is not ready" for pod in componentpack.mongo.unready(kube, found)]
            health += componentpack.mongo.problems(kube, found, ours=own_lock)
        if cp["opensearch"]:
            search = componentpack.opensearch.detect(kube)
            health += componentpack.opensearch.problems(kube, search)
        if cp["etcd"] != "off":
            health += componentpack.etcd.problems(kube, [kube.namespace, *cp["namespaces"]], cp["etcd"])
        for name in cp["quiesce"]:
            kube.json("kubectl", ["get", "deployment", name, "-o", "json"])
    except componentpack.mongo.MongoError as error:
        if "MongoDB 3" in str(error):
            return [f"component pack: {error}"], []
        health.append(str(error))
    except (CnxBackupError, OSError) as error:
        health.append(str(error))
    health = [f"component pack: {problem}" for problem in health]
    notes = [f"component pack: MongoDB member {own_lock} may still be fsync-locked by the run of the set to resume: "
             "the resume unlocks it"] if own_lock else []
    if allow_partial:
        return [], notes + [f"{problem} (--allow-partial: that part fails, the rest goes on)" for problem in health]
    return health, notes


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


def preflight(plan: Plan, transport: Optional[Transport] = None, *, allow_partial: bool = False,
              own_lock: Optional[str] = None, dmgr: Optional[DmgrGate] = None) -> List[str]:
    """Raise PreflightError listing every problem; return notes for the plan display. ``dmgr``:
    the session to start with the configured credentials (left open for the backup to take)."""
    env = plan.env
    problems = check_sources(plan)
    if transport is not None and any(item.host != "local" for item in plan.items):
        problems += probe_remote_items(plan, transport, hosts_of(env), allow_partial)
    for tool in required_tools(plan):
        if not _tool_present(tool):
            problems.append(f"tool {tool} is not installed or not executable")
    problems += _signing_problems(env)
    passwords, notes = _password_problems(plan)
    problems += passwords
    if dmgr is not None and plan.wsadmin_steps and _tool_present(env.section("wsadmin")["command"]):
        reached, reached_notes = dmgr.connect()  # the backup's own session, with the configured credentials
        problems += [problem for problem in reached if problem not in problems]
        notes += reached_notes
    database, db_notes = _database_problems(plan, transport)
    problems += database
    notes += db_notes
    if not database and plan.db_vendor != "none":  # the tools' user, with the tool that will run
        users, user_notes = tool_user_check(env, plan.databases)
        problems += users
        notes += user_notes
    cluster, cp_notes = component_pack_problems(plan, transport or make_transport(env), allow_partial, own_lock)
    problems += cluster
    notes += cp_notes
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
        error = PreflightError("preflight failed:\n  - " + "\n  - ".join(problems))
        if all(": key '" in problem for problem in problems):
            error.exit_code = EXIT_USAGE  # only the configuration is at fault: fix the named keys
        raise error
    return notes + [f"target {target}: {human_bytes(free)} free, {human_bytes(needed)} needed"]
