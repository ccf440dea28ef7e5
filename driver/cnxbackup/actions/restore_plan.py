"""The ordered restore steps of a backup set.

One function serves both ``RESTORE.md`` (written at backup time) and ``restore --dry-run``,
so the runbook and what the tool would do cannot drift apart. Every step carries the exact
shell commands an administrator could run by hand.
"""
from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..config import Environment
from ..databases import restore_commands
from ..paths import wsadmin_dir
from ..versions import ConnectionsVersion, restore_decision

REPLACED_SUFFIX = ".cnxbackup-replaced"
STAGING_SUFFIX = ".cnxrestore-new"


@dataclass
class RestoreStep:
    step_id: str
    title: str
    kind: str  # guard | check | stop | file | db | roles | next
    commands: List[str] = field(default_factory=list)
    item: Optional[Dict[str, Any]] = None
    skip_reason: Optional[str] = None
    note: Optional[str] = None  # the decision behind the step (shown by --dry-run, not a command)
    destination: Optional[str] = None
    operations: List[Tuple[str, ...]] = field(default_factory=list)


def destination_for(source: str, target_root: Optional[str]) -> str:
    if not target_root:
        return source
    return os.path.join(target_root, source.lstrip("/"))


def _wsadmin(env: Optional[Environment], script: str, args: Sequence[str]) -> str:
    command = env.section("wsadmin")["command"] if env is not None else "<dmgr_profile>/bin/wsadmin.sh"
    return " ".join([shlex.quote(command), "-lang", "jython", "-f",
                     shlex.quote(os.path.join(wsadmin_dir(), f"{script}.py"))] + [shlex.quote(a) for a in args])


def _timeout(env: Optional[Environment], default: int) -> int:
    return int(env.section("wsadmin")["stop_timeout"]) if env is not None else default


Op = Tuple[str, ...]


def file_operations(item: Dict[str, Any], set_dir: str, dest: str, stamp: str) -> List[Op]:
    """The operations that put one item back; rendered as shell for humans, executed by restore.

    What is replaced is moved aside, never deleted. A destination that is a mount point (NFS
    shared data) cannot be renamed, so its contents are moved instead, inside it.
    """
    archive = os.path.join(set_dir, item["path"])
    if item["kind"] == "copy":
        copy_ops: List[Op] = [("aside", dest, dest + REPLACED_SUFFIX + "-" + stamp), ("mkdir", os.path.dirname(dest)),
                              ("copy", archive, dest)]
        if item.get("mode"):
            copy_ops.append(("chmod", item["mode"], dest))
        if item.get("uid") is not None:
            copy_ops.append(("chown", f"{item['uid']}:{item['gid']}", dest))
        return copy_ops
    mounted = os.path.ismount(dest)
    staging = os.path.join(dest, STAGING_SUFFIX.lstrip(".")) if mounted else dest + STAGING_SUFFIX
    replaced = (os.path.join(dest, REPLACED_SUFFIX.lstrip(".") + "-" + stamp) if mounted
                else dest + REPLACED_SUFFIX + "-" + stamp)
    ops: List[Op] = [("mkdir", staging), ("extract", archive, staging)]
    # Items nested inside this one (e.g. data/shared under connections_root) are not in this
    # archive: carry the live ones over so that restoring this item alone does not hide them.
    for rel in item.get("excluded") or []:
        rel = rel[2:] if rel.startswith("./") else rel
        ops.append(("carry", os.path.join(dest, rel), os.path.join(staging, rel)))
    if mounted:
        ops += [("aside_contents", dest, replaced, staging), ("move_contents", staging, dest)]
    else:
        ops += [("aside", dest, replaced), ("move", staging, dest)]
    return ops


def render_operation(op: Op) -> str:
    q = shlex.quote
    kind = op[0]
    if kind == "mkdir":
        return f"mkdir -p {q(op[1])}"
    if kind == "extract":
        return f"zstd -dc {q(op[1])} | tar -xpf - --same-owner -C {q(op[2])}"
    if kind == "carry":
        return f"test ! -e {q(op[1])} || {{ mkdir -p {q(os.path.dirname(op[2]))} && mv {q(op[1])} {q(op[2])}; }}"
    if kind == "aside":
        return f"test ! -e {q(op[1])} || mv {q(op[1])} {q(op[2])}"
    if kind == "move":
        return f"mv {q(op[1])} {q(op[2])}"
    if kind == "copy":
        return f"cp -p {q(op[1])} {q(op[2])}"
    if kind in ("chmod", "chown"):
        return f"{kind} {op[1]} {q(op[2])}"
    if kind == "aside_contents":
        return (f"mkdir -p {q(op[2])} && find {q(op[1])} -mindepth 1 -maxdepth 1 ! -name {q(os.path.basename(op[3]))} "
                f"! -name {q(os.path.basename(op[2]))} -exec mv -t {q(op[2])} {{}} +")
    if kind == "move_contents":
        return f"find {q(op[1])} -mindepth 1 -maxdepth 1 -exec mv -t {q(op[2])} {{}} + && rmdir {q(op[1])}"
    raise ValueError(f"unknown restore operation {kind}")


def _ssh_prefix(env: Optional[Environment], host_name: Optional[str]) -> Optional[str]:
    """``ssh -p PORT USER@ADDRESS`` for an item on another host, None for this machine."""
    if env is None or not host_name or host_name == "local":
        return None
    for host in env.data.get("hosts") or []:
        if host["name"] == host_name and host["address"] != "local":
            user = f"{host['user']}@" if host.get("user") else ""
            key = f" -i {shlex.quote(host['key'])}" if host.get("key") else ""
            return f"ssh -p {host.get('port', 22)}{key} {user}{host['address']}"
    return None


def render_remote_operation(op: Op, ssh: str) -> str:
    """An operation as run on another host: the archive is streamed from here over ssh."""
    q = shlex.quote
    if op[0] == "extract":
        return f"{ssh} {q(f'zstd -dc | tar -xpf - --same-owner -C {q(op[2])}')} < {q(op[1])}"
    if op[0] == "copy":
        return f"{ssh} {q(f'cat > {q(op[2])}')} < {q(op[1])}"
    return f"{ssh} {q(render_operation(op))}"


def file_commands(item: Dict[str, Any], set_dir: str, dest: str, stamp: str) -> List[str]:
    return [render_operation(op) for op in file_operations(item, set_dir, dest, stamp)]


PROVISION_SKIPPED = "provision/ SKIPPED (not restored)"


def restore_steps(manifest: Dict[str, Any], set_dir: str, env: Optional[Environment] = None, *, only: Optional[Sequence[str]] = None,
                  target_root: Optional[str] = None, current: Optional[ConnectionsVersion] = None,
                  force_provision: bool = False, stamp: str = "<timestamp>") -> List[RestoreStep]:
    """Every step of a restore, in order. ``current`` (the deployment's version) decides the
    guard and provision/; without it (RESTORE.md) the guard is left to the reader."""
    backup_version = ConnectionsVersion.from_dict(manifest["connections"])
    steps: List[RestoreStep] = []
    im_data = env.paths["im_data"] if env is not None else "/var/ibm/InstallationManager"
    guard = RestoreStep("guard", f"Check the deployment is Connections release {backup_version.release_line} "
                                 f"(backup taken on {backup_version.exact})", "guard",
                        [f"grep -E \"id='com.ibm.connections'|<fix \" "
                         f"{shlex.quote(os.path.join(im_data, 'installed.xml'))}"])
    provision_ok = True
    provision_reason = ""
    if current is not None:
        allowed, provision_ok, reason = restore_decision(backup_version, current)
        guard.note = reason
        provision_reason = reason
        if not allowed:
            guard.skip_reason = reason
    steps.append(guard)

    wanted = set(only or [])
    selected = [item for item in manifest.get("archives", []) if not wanted or item["name"] in wanted]
    check = RestoreStep("check", "Check the archives (size, SHA-256, no entry escaping its folder) before "
                                 "changing anything", "check")
    for item in selected:
        if item.get("status") in ("done", "warning"):
            line = f"{item['sha256']}  {item['path']}"
            check.commands.append(f"(cd {shlex.quote(set_dir)} && echo {shlex.quote(line)} | sha256sum -c -)")
    steps.append(check)
    steps.append(RestoreStep("stop", "Stop the application servers", "stop",
                             [_wsadmin(env, "stop_servers", ["--timeout", str(_timeout(env, 600))])]))
    for item in selected:
        dest = destination_for(item["source"], target_root)
        step = RestoreStep(f"file:{item['name']}", f"Restore {item['name']} to {dest}", "file", item=item, destination=dest)
        if item.get("status") not in ("done", "warning"):
            step.skip_reason = f"not in this set (status {item.get('status')})"
        elif item.get("restoreRule") == "exact-version" and not provision_ok:
            if force_provision:
                step.note = f"FORCED by --force-provision although {provision_reason}"
            else:
                step.skip_reason = f"{PROVISION_SKIPPED}: {provision_reason}; use --force-provision to override"
        step.operations = file_operations(item, set_dir, dest, stamp)
        ssh = _ssh_prefix(env, item.get("host"))
        if ssh:
            step.title += f" on host {item['host']}"
            step.commands = [render_remote_operation(op, ssh) for op in step.operations]
        else:
            step.commands = [render_operation(op) for op in step.operations]
        steps.append(step)
    if not wanted or "databases" in wanted:
        for db in manifest.get("databases", []):
            step = RestoreStep(f"db:{db.get('name')}", f"Restore database {db.get('name')}", "db", item=db)
            if db.get("status") not in ("done", "warning"):
                step.skip_reason = f"no backup of this database in the set (status {db.get('status')})"
            else:
                step.commands = restore_commands(manifest.get("databaseVendor", "db2"), db, env)
            steps.append(step)
    roles_file = os.path.join(set_dir, "wsadmin", "role_mappings.json")
    if (not wanted or "roles" in wanted) and manifest.get("wsadmin", {}).get("roleMappings"):
        steps.append(RestoreStep("roles", "Re-import the security role mappings", "roles",
                                 [_wsadmin(env, "import_role_mappings", ["--in", roles_file])]))
    steps.append(RestoreStep("next", "Synchronize the nodes and start the servers", "next", [
        "# synchronize the nodes first: <profile_root>/bin/syncNode.sh <dmgr_host> <dmgr_soap_port> (on each node, "
        "node agent stopped), or AdminNodeManagement.syncActiveNodes() in wsadmin",
        _wsadmin(env, "start_servers", ["--timeout", str(_timeout(env, 900))]),
    ]))
    return steps
