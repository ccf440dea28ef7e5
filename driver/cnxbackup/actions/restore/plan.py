"""The ordered restore steps of a backup set.

One function serves both ``RESTORE.md`` (written at backup time) and ``restore --dry-run``,
so the runbook and what the tool would do cannot drift apart. Every step carries the exact
shell commands an administrator could run by hand.
"""
from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from ...config import Environment
from ...databases import restore_commands, restore_runs_as
from ...hosts import LOCAL, hosts_of
from ...manifest import ArchiveRecord, DatabaseRecord, Manifest
from ...paths import container_path, is_within
from ...plan import RESTORE_EXACT
from ...versions import ConnectionsVersion, restore_decision
from ...was_processes import WasProcess, deployment_processes, local_owner, script_line
from ...wsadmin_session import start_servers_command, wsadmin_command, wsadmin_timeout
from . import component_pack as cp_restore
from .operations import (
    Carry,
    Container,
    CopyFile,
    Extract,
    MakeContainer,
    MoveAside,
    MoveContentsAside,
    MoveContentsIn,
    MoveIntoPlace,
    Operation,
    SetMode,
    SetOwner,
)


@dataclass
class RestoreStep:
    step_id: str
    title: str
    kind: str  # guard | check | stage | stop | file | db | roles | next
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


def image_checks(db: DatabaseRecord) -> List[str]:
    """``sha256sum -c`` lines for the images, against the manifest, before they are restored."""
    return [f"echo {shlex.quote(f'{image.sha256}  {image.path}')} | sha256sum -c -"
            for image in db.images if image.sha256]


def _on_host(process: WasProcess, env: Optional[Environment], line: str) -> str:
    ssh = _ssh_prefix(env, process.host.name) if not process.host.is_local else None
    return f"{ssh} {shlex.quote(line)}" if ssh else line


def _process_steps(verb: str, agents: Sequence[WasProcess], dmgr: Optional[WasProcess],
                   env: Optional[Environment]) -> List[RestoreStep]:
    """Stop the node agents then the Dmgr, or start the Dmgr / the node agents (profile scripts)."""
    steps = []
    script = {("stop", "nodeagent"): "stopNode", ("stop", "dmgr"): "stopManager",
              ("start", "nodeagent"): "startNode", ("start", "dmgr"): "startManager"}
    groups = [("nodeagent", list(agents)), ("dmgr", [dmgr] if dmgr else [])]
    for kind, processes in (groups if verb == "stop" else groups[::-1]):
        if not processes:
            continue
        what = "the Deployment Manager" if kind == "dmgr" else "the node agents"
        title = f"{'Stop' if verb == 'stop' else 'Start'} {what}: {', '.join(p.label for p in processes)}"
        commands = [_on_host(p, env, script_line(p, script[(verb, kind)], (), local_owner(p))) for p in processes]
        steps.append(RestoreStep(f"{verb}-{'dmgr' if kind == 'dmgr' else 'agents'}", title,
                                 f"{verb}-{'dmgr' if kind == 'dmgr' else 'agents'}", commands))
    return steps


def _sync_steps(agents: Sequence[WasProcess], dmgr: Optional[WasProcess], restored: set,
                env: Optional[Environment]) -> List[RestoreStep]:
    """syncNode for each node whose profile was restored, only when the Dmgr profile was too; else
    one skipped step that says why (a sync would overwrite the restored node profile with the
    Dmgr's current, maybe upgraded, configuration)."""
    nodes = [p for p in agents if (p.host.name, p.profile) in restored]
    if not nodes:
        return []
    if dmgr is None or (dmgr.host.name, dmgr.profile) not in restored:
        step = RestoreStep("sync", "Synchronize the restored node profiles with the Dmgr", "sync")
        step.skip_reason = ("node profiles were restored without the Dmgr profile: not synchronized, since a sync "
                            "would overwrite them with the Dmgr's current (maybe upgraded) configuration; decide "
                            "by hand (README: What stays manual)")
        return [step]
    ws = env.section("wsadmin") if env is not None else {"host": "<dmgr_host>", "port": "<dmgr_soap_port>"}
    return [RestoreStep(f"sync:{p.host.name}:{os.path.basename(p.profile)}",
                        f"Synchronize {p.label} with the Dmgr (its node agent stopped)", "sync",
                        [_on_host(p, env, script_line(p, "syncNode", [str(ws["host"]), str(ws["port"])],
                                                      local_owner(p)))])
            for p in nodes]


def destination_for(source: str, target_root: Optional[str]) -> str:
    if not target_root:
        return source
    return os.path.join(target_root, source.lstrip("/"))


@dataclass
class ItemOperations:
    """One item's operations: ``stage`` runs before the servers stop (nothing live changes),
    ``swap`` after (what is there is moved aside, the staged copy moved in)."""

    stage: List[Operation]
    swap: List[Operation]


def container_of(dest: str, stamp: str, is_archive: bool = True) -> Container:
    """The item's container: beside its destination, or inside it when that is a mount point."""
    return Container(container_path(dest, stamp, is_archive and os.path.ismount(dest)), dest)


def file_operations(item: ArchiveRecord, set_dir: str, dest: str, stamp: str,
                    inner_containers: Sequence[str] = ()) -> ItemOperations:
    """The operations that put one item back; rendered as shell for humans, executed by restore.

    Everything happens in the item's container (``<dest>.cnxrestore-<stamp>``, only root can enter
    it): the item is staged in ``staged``, and the swap moves what is live to ``replaced`` and the
    staged copy to its place; what is replaced is kept, never deleted. A destination that is a
    mount point (NFS shared data) cannot be renamed, so its entries are moved instead, into the
    container inside it. A copied file gets its owner, then its mode, inside the container
    (chown clears setuid/setgid bits). ``inner_containers``: the containers of other items inside
    this one (made in the live tree before the stop), carried into the new tree with the live
    nested data so that their own swaps, which come after this one, find them.
    """
    archive = os.path.join(set_dir, item.path)
    box = container_of(dest, stamp, item.is_archive)
    if not item.is_archive:
        stage: List[Operation] = [MakeContainer(box, for_archive=False), CopyFile(archive, box, bool(item.encrypted))]
        if item.uid is not None and item.gid is not None:
            stage.append(SetOwner(item.uid, item.gid, box))
        if item.mode:
            stage.append(SetMode(item.mode, box))
        return ItemOperations(stage, [MoveAside(dest, box), MoveIntoPlace(box, dest)])
    ops: List[Operation] = []
    # Items nested inside this one (e.g. data/shared under connections_root) are not in this
    # archive: carry the live ones over so that restoring this item alone does not hide them.
    carried = [rel[2:] if rel.startswith("./") else rel for rel in item.excluded]
    for rel in carried:
        ops.append(Carry(dest, rel, box))
    for inner in inner_containers:
        rel = os.path.relpath(inner, dest)
        if not any(is_within(rel, outer) for outer in carried):  # else it moves with the nested item holding it
            ops.append(Carry(dest, rel, box))
    if box.path.startswith(dest + "/"):  # a mount point
        ops += [MoveContentsAside(dest, box), MoveContentsIn(box, dest)]
    else:
        ops += [MoveAside(dest, box), MoveIntoPlace(box, dest)]
    extracts: List[Operation] = [Extract(os.path.join(set_dir, level.path), box, bool(item.attributes), level.level,
                                         level.sha256, level.files, level.size, bool(item.numeric_owner),
                                         bool(item.encrypted))
                                 for level in item.levels()]
    return ItemOperations([MakeContainer(box)] + extracts, ops)


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

PROCESS_STEPS = ("stop-agents", "stop-dmgr", "start-dmgr", "start-agents", "sync")
"""Steps the profile scripts run (stopNode, stopManager, startManager, startNode, syncNode)."""
PRINTED_ONLY = "printed only (--print-db-commands)"
WEBSPHERE_STEPS = ("stop", "roles", "next", "db") + PROCESS_STEPS
"""What a restore under ``--target-root`` (files only, beside the live deployment) leaves out."""


def skipped_in_run(step: RestoreStep, *, side_restore: bool, start: bool, print_db_commands: bool) -> Optional[str]:
    """Why a planned step does not run in this run (its own skip reason, or an option's), else None."""
    if step.skip_reason:
        return step.skip_reason
    if side_restore and step.kind in WEBSPHERE_STEPS:
        return "restore under --target-root: files only"
    if step.kind == "next" and not start:
        return "servers not started (use --start)"
    if step.kind == "db" and print_db_commands:
        return PRINTED_ONLY
    return None


def restore_steps(manifest: Manifest, set_dir: str, env: Optional[Environment] = None, *, only: Optional[Sequence[str]] = None,
                  target_root: Optional[str] = None, current: Optional[ConnectionsVersion] = None,
                  force_provision: bool = False, stamp: str = "<timestamp>",
                  destinations: Optional[Dict[str, str]] = None, version_guard: bool = True,
                  component_pack: bool = False, exclude: Sequence[str] = ()) -> List[RestoreStep]:
    """Every step of a restore, in order. ``current`` (the deployment's version) decides the
    guard and provision/; without it (RESTORE.md) the guard is left to the reader.
    ``version_guard`` False: only Installation Manager's folders are restored (rolling back a
    failed upgrade), which the release rule does not stop.
    ``destinations``: where each item goes (from the environment, see ``destinations.py``);
    an item not in it goes to its recorded source (the runbook of a set read on its own)."""
    guard, provision_ok, provision_reason = _guard_step(manifest, env, current, version_guard)
    steps: List[RestoreStep] = [guard]

    wanted = set(only or [])
    selected = [item for item in manifest.archives if (not wanted or item.name in wanted) and item.name not in exclude]
    cp_folders = set(cp_restore.folder_items(manifest)) if component_pack else set()
    cp_only = component_pack and wanted <= cp_folders
    steps.append(_check_step(selected, set_dir))
    dests = {item.name: destination_for((destinations or {}).get(item.name, item.source), target_root)
             for item in selected}
    stages, swaps = _item_steps(selected, dests, set_dir, env, stamp, provision_ok=provision_ok,
                                provision_reason=provision_reason, force_provision=force_provision)
    steps += stages
    dmgr, agents = deployment_processes(env) if env is not None else (None, [])
    specs = cp_restore.steps(manifest, set_dir) if component_pack else ([], [])
    cp_before, cp_after = ([RestoreStep(kind, title, kind, commands, note=note) for kind, title, commands, note in part]
                           for part in specs)
    websphere_start = len(steps)
    steps.append(RestoreStep("stop", "Stop the application servers", "stop",
                             [wsadmin_command(env, "stop_servers", ["--timeout", str(wsadmin_timeout(env, 600))])]))
    steps += _process_steps("stop", agents, dmgr, env)
    steps += cp_before
    # Outermost first: a nested item (provision/ in shared data in connections_root) is staged
    # inside its parent's live tree; the parent's swap carries the staging over with the live
    # nested data, then the nested item's own swap puts it in place inside the new tree.
    steps.extend(sorted(swaps, key=lambda s: len(os.path.normpath(s.destination or "/").split(os.sep))))
    if not wanted or "databases" in wanted:
        for db in manifest.databases:
            step = RestoreStep(f"db:{db.name}", f"Restore database {db.name}", "db", database=db)
            if not db.in_set:
                step.skip_reason = f"no backup of this database in the set (status {db.status})"
            else:
                step.commands = image_checks(db) + restore_commands(manifest.database_vendor, db, env)
                step.note = restore_runs_as(manifest.database_vendor)  # RESTORE.md and --dry-run say who
            steps.append(step)
    steps += _process_steps("start", [], dmgr, env)
    roles_file = os.path.join(set_dir, "wsadmin", "role_mappings.json")
    if (not wanted or "roles" in wanted) and manifest.wsadmin.role_mappings is not None:
        steps.append(RestoreStep("roles", "Re-import the security role mappings (the Dmgr running again)", "roles",
                                 [wsadmin_command(env, "import_role_mappings", ["--in", roles_file])]))
    restored = {(item.host, dests[item.name]) for item in selected if item.in_set}
    steps += _sync_steps(agents, dmgr, restored, env)
    steps += _process_steps("start", agents, None, env)
    steps.append(RestoreStep("next", "Start the application servers", "next",
                             [start_servers_command(env)]))
    if cp_only:  # the Kubernetes half alone: WebSphere keeps running, nothing of it is stopped
        for step in steps[websphere_start:]:
            if step.kind in ("stop", "next", "roles", "stop-agents", "stop-dmgr", "start-dmgr", "start-agents", "sync"):
                step.skip_reason = "the Component Pack alone: WebSphere is not stopped"
    index = max((i for i, s in enumerate(steps) if s.kind == "file" and s.archive and s.archive.name in cp_folders),
                default=len(steps) - 1)
    steps[index + 1:index + 1] = cp_after
    return steps


def _guard_step(manifest: Manifest, env: Optional[Environment], current: Optional[ConnectionsVersion],
                version_guard: bool) -> Tuple[RestoreStep, bool, str]:
    """The release guard step, whether provision/ may be restored, and why not: (guard, ok, reason).

    Without ``current`` (RESTORE.md) the guard is a command for the reader and provision/ is not
    ruled out here.
    """
    backup_version = ConnectionsVersion.from_dict(manifest.connections)
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
        if not allowed and version_guard:
            guard.skip_reason = reason
        elif not allowed:
            guard.note = f"not applied to Installation Manager's own folders (rolling back a failed upgrade): {reason}"
    return guard, provision_ok, provision_reason


def _check_step(selected: Sequence[ArchiveRecord], set_dir: str) -> RestoreStep:
    """The check before anything changes: a ``sha256sum -c`` line per archive level in the set."""
    check = RestoreStep("check", "Check the archives, copied files and database images (present, size, SHA-256) "
                                 "and the room for the staged copies, before changing anything", "check")
    for item in selected:
        if item.in_set:
            for level in item.levels():
                line = f"{level.sha256}  {level.path}"
                check.commands.append(f"(cd {shlex.quote(set_dir)} && echo {shlex.quote(line)} | sha256sum -c -)")
    return check


def _item_steps(selected: Sequence[ArchiveRecord], dests: Dict[str, str], set_dir: str, env: Optional[Environment],
                stamp: str, *, provision_ok: bool, provision_reason: str,
                force_provision: bool) -> Tuple[List[RestoreStep], List[RestoreStep]]:
    """Each item's stage step (servers running) and swap step (servers stopped): (stages, swaps).

    An item staged inside another item's destination on the same host is that one's
    ``inner_staging``: the outer swap carries it into the new tree (see ``file_operations``).
    """
    stages: List[RestoreStep] = []
    swaps: List[RestoreStep] = []
    host_of = {item.name: item.host for item in selected}
    staged_at = {item.name: container_of(dests[item.name], stamp, item.is_archive).path
                 for item in selected if item.in_set}
    for item in selected:
        dest = dests[item.name]
        inner = sorted(path for name, path in staged_at.items()
                       if name != item.name and is_within(dests[name], dest) and host_of[name] == item.host)
        stage = RestoreStep(f"stage:{item.name}", f"Stage {item.name} beside {dest} (servers still running)", "stage",
                            archive=item, destination=dest)
        step = RestoreStep(f"file:{item.name}", f"Put {item.name} in place at {dest}", "file", archive=item,
                           destination=dest)
        if not item.in_set:
            step.skip_reason = stage.skip_reason = f"not in this set (status {item.status})"
        elif item.restore_rule == RESTORE_EXACT and not provision_ok:
            if force_provision:
                step.note = f"FORCED by --force-provision although {provision_reason}"
            else:
                step.skip_reason = stage.skip_reason = (f"{PROVISION_SKIPPED}: {provision_reason}; "
                                                        "use --force-provision to override")
        operations = file_operations(item, set_dir, dest, stamp, inner if item.is_archive else ())
        stage.operations, step.operations = operations.stage, operations.swap
        _render_commands(item, env, stage, step)
        stages.append(stage)
        swaps.append(step)
    return stages, swaps


def _render_commands(item: ArchiveRecord, env: Optional[Environment], *steps: RestoreStep) -> None:
    """The shell commands of an item's steps from their operations, over ssh when on another host."""
    ssh = _ssh_prefix(env, item.host)
    for each in steps:
        if ssh:
            each.title += f" on host {item.host}"
            each.commands = [op.remote_shell(ssh) for op in each.operations]
        else:
            each.commands = [op.shell() for op in each.operations]


def runbook_steps(manifest: Manifest, set_dir: str, env: Environment, stamp: str) -> Tuple[List[RestoreStep], List[RestoreStep]]:
    """RESTORE.md's steps, written at backup time: the deployment's, then the Component Pack's own
    (its folders are restored on their own, after the cluster's steps), empty without one."""
    if not manifest.component_pack:
        return restore_steps(manifest, set_dir, env, stamp=stamp), []
    folders = cp_restore.folder_items(manifest)
    cp_steps = restore_steps(manifest, set_dir, env, only=folders or ["component-pack"], stamp=stamp, component_pack=True)
    return restore_steps(manifest, set_dir, env, stamp=stamp, exclude=folders), cp_steps
