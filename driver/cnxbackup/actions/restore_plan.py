"""The ordered restore steps of a backup set.

One function serves both ``RESTORE.md`` (written at backup time) and ``restore --dry-run``,
so the runbook and what the tool would do cannot drift apart. Every step carries the exact
shell commands an administrator could run by hand.
"""
from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

from ..config import Environment
from ..databases import restore_commands
from ..hosts import LOCAL, hosts_of
from ..manifest import ArchiveRecord, DatabaseRecord, Manifest
from ..paths import wsadmin_dir
from ..versions import ConnectionsVersion, restore_decision
from .restore_ops import (
    REPLACED_SUFFIX,
    STAGING_SUFFIX,
    Carry,
    CopyFile,
    Extract,
    MakeDir,
    MoveAside,
    MoveContentsAside,
    MoveContentsIn,
    MoveIntoPlace,
    Operation,
    SetMode,
    SetOwner,
)

EXACT_VERSION = "exact-version"

@dataclass
class RestoreStep:
    step_id: str
    title: str
    kind: str  # guard | check | stop | file | db | roles | next
    commands: List[str] = field(default_factory=list)
    archive: Optional[ArchiveRecord] = None  # kind file
    database: Optional[DatabaseRecord] = None  # kind db
    skip_reason: Optional[str] = None
    note: Optional[str] = None  # the decision behind the step (shown by --dry-run, not a command)
    destination: Optional[str] = None
    operations: List[Operation] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The name of what the step restores (an item or a database), else its id."""
        record = self.archive or self.database
        return record.name if record is not None else self.step_id


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


def file_operations(item: ArchiveRecord, set_dir: str, dest: str, stamp: str) -> List[Operation]:
    """The operations that put one item back; rendered as shell for humans, executed by restore.

    What is replaced is moved aside, never deleted. A destination that is a mount point (NFS
    shared data) cannot be renamed, so its contents are moved instead, inside it.
    """
    archive = os.path.join(set_dir, item.path)
    if not item.is_archive:
        copy_ops: List[Operation] = [MoveAside(dest, dest + REPLACED_SUFFIX + "-" + stamp),
                                     MakeDir(os.path.dirname(dest)), CopyFile(archive, dest)]
        if item.mode:
            copy_ops.append(SetMode(item.mode, dest))
        if item.uid is not None and item.gid is not None:
            copy_ops.append(SetOwner(item.uid, item.gid, dest))
        return copy_ops
    mounted = os.path.ismount(dest)
    staging = os.path.join(dest, STAGING_SUFFIX.lstrip(".")) if mounted else dest + STAGING_SUFFIX
    replaced = (os.path.join(dest, REPLACED_SUFFIX.lstrip(".") + "-" + stamp) if mounted
                else dest + REPLACED_SUFFIX + "-" + stamp)
    ops: List[Operation] = [MakeDir(staging), Extract(archive, staging)]
    # Items nested inside this one (e.g. data/shared under connections_root) are not in this
    # archive: carry the live ones over so that restoring this item alone does not hide them.
    for rel in item.excluded:
        rel = rel[2:] if rel.startswith("./") else rel
        ops.append(Carry(os.path.join(dest, rel), os.path.join(staging, rel)))
    if mounted:
        ops += [MoveContentsAside(dest, replaced, staging), MoveContentsIn(staging, dest)]
    else:
        ops += [MoveAside(dest, replaced), MoveIntoPlace(staging, dest)]
    return ops


def _ssh_prefix(env: Optional[Environment], host_name: Optional[str]) -> Optional[str]:
    """``ssh -p PORT USER@ADDRESS`` for an item on another host, None for this machine."""
    if env is None or not host_name or host_name == LOCAL:
        return None
    host = hosts_of(env).get(host_name)
    if host is None or host.is_local:
        return None
    user = f"{host.user}@" if host.user else ""
    key = f" -i {shlex.quote(host.key)}" if host.key else ""
    return f"ssh -p {host.port}{key} {user}{host.address}"


PROVISION_SKIPPED = "provision/ SKIPPED (not restored)"


def restore_steps(manifest: Manifest, set_dir: str, env: Optional[Environment] = None, *, only: Optional[Sequence[str]] = None,
                  target_root: Optional[str] = None, current: Optional[ConnectionsVersion] = None,
                  force_provision: bool = False, stamp: str = "<timestamp>") -> List[RestoreStep]:
    """Every step of a restore, in order. ``current`` (the deployment's version) decides the
    guard and provision/; without it (RESTORE.md) the guard is left to the reader."""
    backup_version = ConnectionsVersion.from_dict(manifest.connections)
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
    selected = [item for item in manifest.archives if not wanted or item.name in wanted]
    check = RestoreStep("check", "Check the archives (size, SHA-256, no entry escaping its folder) before "
                                 "changing anything", "check")
    for item in selected:
        if item.in_set:
            line = f"{item.sha256}  {item.path}"
            check.commands.append(f"(cd {shlex.quote(set_dir)} && echo {shlex.quote(line)} | sha256sum -c -)")
    steps.append(check)
    steps.append(RestoreStep("stop", "Stop the application servers", "stop",
                             [_wsadmin(env, "stop_servers", ["--timeout", str(_timeout(env, 600))])]))
    for item in selected:
        dest = destination_for(item.source, target_root)
        step = RestoreStep(f"file:{item.name}", f"Restore {item.name} to {dest}", "file", archive=item, destination=dest)
        if not item.in_set:
            step.skip_reason = f"not in this set (status {item.status})"
        elif item.restore_rule == EXACT_VERSION and not provision_ok:
            if force_provision:
                step.note = f"FORCED by --force-provision although {provision_reason}"
            else:
                step.skip_reason = f"{PROVISION_SKIPPED}: {provision_reason}; use --force-provision to override"
        step.operations = file_operations(item, set_dir, dest, stamp)
        ssh = _ssh_prefix(env, item.host)
        if ssh:
            step.title += f" on host {item.host}"
            step.commands = [op.remote_shell(ssh) for op in step.operations]
        else:
            step.commands = [op.shell() for op in step.operations]
        steps.append(step)
    if not wanted or "databases" in wanted:
        for db in manifest.databases:
            step = RestoreStep(f"db:{db.name}", f"Restore database {db.name}", "db", database=db)
            if not db.in_set:
                step.skip_reason = f"no backup of this database in the set (status {db.status})"
            else:
                step.commands = restore_commands(manifest.database_vendor, db, env)
            steps.append(step)
    roles_file = os.path.join(set_dir, "wsadmin", "role_mappings.json")
    if (not wanted or "roles" in wanted) and manifest.wsadmin.role_mappings is not None:
        steps.append(RestoreStep("roles", "Re-import the security role mappings", "roles",
                                 [_wsadmin(env, "import_role_mappings", ["--in", roles_file])]))
    steps.append(RestoreStep("next", "Synchronize the nodes and start the servers", "next", [
        "# synchronize the nodes first: <profile_root>/bin/syncNode.sh <dmgr_host> <dmgr_soap_port> (on each node, "
        "node agent stopped), or AdminNodeManagement.syncActiveNodes() in wsadmin",
        _wsadmin(env, "start_servers", ["--timeout", str(_timeout(env, 900))]),
    ]))
    return steps
