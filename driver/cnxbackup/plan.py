"""From an environment to a plan: which items, which databases, which wsadmin steps.

Each item is one archive (or one copied file). Sources nested inside another item's source
are excluded from the outer archive, so nothing is archived twice (shared data usually
lives under connections_root). ``provision/`` gets its own archive because HCL restores it
only onto the exact same version.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import componentpack
from .archive import TarExcludes
from .config import Environment
from .databases import backup_targets
from .errors import ConfigError, PreflightError
from .hosts import first_with_role, host_paths, hosts_of, is_multi_host
from .paths import is_within, leftover_patterns, nearest_existing
from .versions import ConnectionsVersion, detect_interim_fixes, read_installed_xml, read_was_product

RESTORE_RELEASE = "release"       # same major.minor release
RESTORE_EXACT = "exact-version"   # same version, CR and interim fixes (provision/)


@dataclass
class Item:
    """One thing to archive (a directory -> .tar.zst) or copy (a single file)."""

    name: str
    kind: str  # "archive" | "copy"
    source: str
    description: str
    host: str = "local"
    restore_rule: str = RESTORE_RELEASE
    nested_excludes: List[str] = field(default_factory=list)
    est_bytes: int = 0
    est_files: int = 0
    optional: bool = False  # skipped with a note when its source does not exist
    key: str = ""  # the configuration key its source comes from (for error messages)
    # a restore's moved-aside copies and staging folders of this item and of the items inside
    # it: anchored tar excludes in their fixed forms, computed from the environment
    leftover_excludes: List[str] = field(default_factory=list)
    # restored with numeric owners (the Component Pack's PV folders: UIDs 1000/1001 of the pods,
    # which the NFS master's user names need not match)
    numeric_owner: bool = False

    def excludes(self, user_excludes: Sequence[str]) -> TarExcludes:
        """What tar leaves out of this item's archive (``archive.excludes``, the nested items, a
        restore's leftovers): the one rule the archiver's options and the size estimate share."""
        return TarExcludes(tuple(user_excludes), tuple(self.nested_excludes + self.leftover_excludes))

    @property
    def relpath(self) -> str:
        if self.kind == "archive":
            return f"archives/{self.name}.tar.zst"
        return f"files/{self.name}/{os.path.basename(self.source)}"

    def to_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "source": self.source, "host": self.host,
                "description": self.description, "restoreRule": self.restore_rule, "path": self.relpath,
                "excluded": self.nested_excludes}


@dataclass
class Plan:
    env: Environment
    version: ConnectionsVersion
    was_version: Optional[str]
    items: List[Item]
    databases: List[str]
    db_vendor: str
    wsadmin_steps: List[str]
    notes: List[str] = field(default_factory=list)

    @property
    def estimated_bytes(self) -> int:
        return sum(item.est_bytes for item in self.items)

    @property
    def estimated_files(self) -> int:
        return sum(item.est_files for item in self.items)


def engine_ws_ear_dir(connections_root: str, version: ConnectionsVersion) -> str:
    """HCL's default Engine-ws.ear folder: addons/ccm on 6.0 before CR6, FileNet/ from 6.0 CR6 on."""
    major, minor = version.numbers
    if (major, minor) < (6, 0) or ((major, minor) == (6, 0) and version.cr < 6):
        return os.path.join(connections_root, "addons", "ccm", "ContentEngine", "tools", "configure", "profiles", "CCM", "ear")
    return os.path.join(connections_root, "FileNet", "ContentEngine", "tools", "configure", "profiles", "CCM", "ear")


def detect_versions(env: Environment) -> Tuple[ConnectionsVersion, Optional[str]]:
    conn = env.section("connections")
    paths = env.paths
    was_version = read_was_product(paths["was_root"])
    if conn["version"] == "auto":
        raw, was_from_im = read_installed_xml(os.path.join(paths["im_data"], "installed.xml"))
        was_version = was_version or was_from_im
    else:
        raw = conn["version"]
    fixes = conn["interim_fixes"] if conn["interim_fixes"] is not None else detect_interim_fixes(
        paths["connections_root"], os.path.join(paths["im_data"], "installed.xml"))
    version = ConnectionsVersion(raw=raw, interim_fixes=list(fixes))
    try:
        _ = version.numbers  # parses the text: a bad version fails here, before anything runs
    except ValueError:
        raise PreflightError(f"{env.where('connections.version')}: '{raw}' is not a Connections version (e.g. 8.0.0.0_CR14)") from None
    return version, was_version


def _base_items(env: Environment, version: ConnectionsVersion) -> List[Item]:
    """Items per host, following the roles (one implicit local host with every role otherwise)."""
    conn = env.section("connections")
    multi = is_multi_host(env)
    hosts = hosts_of(env)
    dmgr_host = first_with_role(env, "dmgr")
    nfs_host = first_with_role(env, "nfs", "dmgr")
    items: List[Item] = []
    used: set = set()

    def add(host: str, name: str, kind: str, source: str, description: str, key: str, **extra: Any) -> None:
        full = _unique(f"{host}-{name}" if multi else name, used)
        items.append(Item(full, kind, source, description, host=host, key=path_key(env, host, key), **extra))

    for host_name, host in hosts.items():
        paths = host_paths(env, host_name)
        roles = set(host.roles)
        if host_name == dmgr_host:
            add(host_name, "dmgr-profile", "archive", paths["dmgr_profile"], "Deployment Manager profile (HCL step 5)", "dmgr_profile")
        if "node" in roles:
            for profile in paths["profiles"]:
                add(host_name, f"profile-{os.path.basename(profile.rstrip('/'))}", "archive", profile,
                    "WAS profile (HCL step 6.2)", "profiles")
        if host_name == dmgr_host or "node" in roles:
            add(host_name, "profileRegistry", "copy", paths["profile_registry"], "profileRegistry.xml (HCL step 6.3)", "profile_registry")
        if host_name == dmgr_host:
            add(host_name, "connections-root", "archive", paths["connections_root"], "connections_root (HCL step 6.1)", "connections_root")
        if host_name == nfs_host:
            shared = paths["shared_data"]
            add(host_name, "shared-data", "archive", shared, "shared data, without provision/ (HCL step 6.4)", "shared_data")
            add(host_name, "shared-provision", "archive", os.path.join(shared, "provision"),
                "shared data provision/ (restores only onto the exact same version)", "shared_data", restore_rule=RESTORE_EXACT,
                optional=True)
            if conn["ccm"] and not is_within(paths["ccm_storage"], shared):
                add(host_name, "ccm-storage", "archive", paths["ccm_storage"], "FileNet storage area (HCL step 2)", "ccm_storage")
        if "node" in roles:
            add(host_name, "local-data", "archive", paths["local_data"], "local data (HCL step 6.4)", "local_data")
        if host_name == dmgr_host and conn["ccm"]:
            ear_dir = paths["engine_ws_ear"]
            if ear_dir == "auto":
                ear_dir = engine_ws_ear_dir(paths["connections_root"], version)
            add(host_name, "engine-ws-ear", "copy", os.path.join(ear_dir, "Engine-ws.ear"), "Engine-ws.ear (HCL step 2)", "engine_ws_ear")
        if conn["in_place_upgrade"] and (host_name == dmgr_host or "node" in roles):
            add(host_name, "im-data", "archive", paths["im_data"], "Installation Manager agent data (HCL step 7)", "im_data")
            add(host_name, "im-install", "archive", paths["im_install"], "Installation Manager install directory (HCL step 7)",
                "im_install")
            add(host_name, "im-shared", "archive", paths["im_shared"],
                "Installation Manager shared resources, IMShared (HCL step 7)", "im_shared")
        if host_name == dmgr_host:
            for custom in paths["customizations"]:
                kind = "copy" if not multi and os.path.isfile(custom) else "archive"
                add(host_name, f"custom-{os.path.basename(custom.rstrip('/')) or 'root'}", kind, custom,
                    "customization (HCL step 8)", "customizations")
    for index, extra in enumerate(env.paths["extra"]):
        host_name = extra.get("host") or dmgr_host
        kind = "copy" if host_name == "local" and os.path.isfile(extra["path"]) else "archive"
        items.append(Item(_unique(extra["name"], used), kind, extra["path"], "extra item", host=host_name,
                          key=f"paths.extra[{index}].path"))
    items += component_pack_items(env, used)
    return items


def component_pack_items(env: Environment, used: set) -> List[Item]:
    """The Component Pack's persistent-volume folders on the NFS master, one directory item each
    (skipped with a note when missing); never a live database folder."""
    if not componentpack.enabled(env):
        return []
    settings = componentpack.settings(env)
    host = settings["nfs_host"]
    if host != "local" and host not in hosts_of(env):
        raise ConfigError(f"{env.where('component_pack.nfs_host')}: key 'component_pack.nfs_host': host {host!r} is "
                          f"not among the hosts ({', '.join(hosts_of(env))})")
    items = []
    for name, error in componentpack.pv_folders(env):
        if error:
            raise ConfigError(f"{env.where('component_pack.folders')}: key 'component_pack.folders': {error}")
        items.append(Item(_unique(f"cp-{name}", used), "archive", os.path.join(settings["pv_root"], name),
                          f"Component Pack persistent volume {name}", host=host, optional=True,
                          key="component_pack.folders", numeric_owner=True))
    return items


def path_key(env: Environment, host_name: str, name: str) -> str:
    """The key a host's path comes from: the host's own ``paths`` when it sets it, else ``paths``."""
    for index, entry in enumerate(env.data.get("hosts") or []):
        if entry["name"] == host_name and name in (entry.get("paths") or {}):
            return f"hosts[{index}].paths.{name}"
    return f"paths.{name}"


def source_problem(env: Environment, item: Item, what: str) -> str:
    """A problem with an item's source, naming the file, line and key it comes from."""
    key = item.key or "paths"
    return f"{env.where(key)}: key '{key}': item {item.name}: {what}"


def _unique(name: str, used: set) -> str:
    candidate, index = name, 2
    while candidate in used:
        candidate, index = f"{name}-{index}", index + 1
    used.add(candidate)
    return candidate


def add_nested_excludes(items: List[Item]) -> None:
    """Exclude from each archive the other items' sources that live inside it, and every item's
    restore leftovers (``<source>.cnxbackup-replaced-<stamp>`` and the staging forms) that
    would sit inside it: a backup after a restore is the size it was before."""
    archives = [i for i in items if i.kind == "archive"]
    for outer in archives:
        inners = [i.source for i in archives
                  if i is not outer and i.host == outer.host and is_within(i.source, outer.source)]
        for inner in inners:
            if not any(is_within(inner, other) for other in inners):  # the outermost suffices
                outer.nested_excludes.append("./" + os.path.relpath(inner, outer.source))
        outer.leftover_excludes = leftover_patterns(".")
        for other in items:
            if other is not outer and other.host == outer.host and is_within(other.source, outer.source):
                outer.leftover_excludes += leftover_patterns(os.path.relpath(other.source, outer.source))


def scan_tree(path: str, excludes: TarExcludes) -> Tuple[int, int]:
    """(tar bytes, entries) under path without following symlinks, leaving out what tar does
    (``excludes``, matched on tar's member names ``./a/b``); iterative.

    The byte figure is what GNU tar will stream: a 512-byte header per entry plus each file's
    data rounded up to 512 bytes, so progress reaches 100 % rather than overshooting.
    """
    total_bytes, total_entries = 0, 0
    stack = [(path, ".")]
    while stack:
        current, member = stack.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    name = f"{member}/{entry.name}"
                    if excludes.leaves_out(name):
                        continue
                    total_entries += 1
                    total_bytes += 512
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append((entry.path, name))
                        elif entry.is_file(follow_symlinks=False):
                            total_bytes += (entry.stat(follow_symlinks=False).st_size + 511) // 512 * 512
                    except OSError:
                        continue
        except OSError:
            continue
    return total_bytes, total_entries + 1


def default_database_list(env: Environment, version: ConnectionsVersion) -> List[str]:
    """Names of the backup units (databases; for Oracle RMAN the SID, for Data Pump the schemas)."""
    return [target.name for target in backup_targets(env, version.raw)]


def restore_sources(env: Environment, version: ConnectionsVersion, cell: Optional[str]) -> Dict[str, Item]:
    """The items the environment has, by name, with their sources: where a restore puts them.

    Computed from the environment file, the set's Connections version (``engine_ws_ear``)
    and cell name (fileRegistry.xml), never from the live tree, so that a rebuilt host gets
    the same answer. fileRegistry.xml is included when the cell is known.
    """
    items = _base_items(env, version)
    add_nested_excludes(items)
    if cell and "/" not in cell and cell not in (".", ".."):
        items.append(Item("fileRegistry", "copy", os.path.join(env.paths["dmgr_profile"], "config", "cells", cell,
                                                               "fileRegistry.xml"), "fileRegistry.xml"))
    return {item.name: item for item in items}


def build_plan(env: Environment) -> Plan:
    version, was_version = detect_versions(env)
    items = _base_items(env, version)
    add_nested_excludes(items)
    steps = ["list_auth_aliases", "check_filenet_admin", "export_role_mappings"]
    if env.section("wsadmin")["stop_servers"]:
        steps.append("stop_servers")
    plan = Plan(env=env, version=version, was_version=was_version, items=items,
                databases=default_database_list(env, version), db_vendor=env.section("database")["vendor"],
                wsadmin_steps=steps)
    plan.notes.append("fileRegistry.xml is added after the filenetAdmin check, when that user is file-based")
    if env.section("connections")["ccm"] and is_within(env.paths["ccm_storage"], env.paths["shared_data"]):
        plan.notes.append("the FileNet storage area lies inside shared data and is archived with it")
    return plan


def estimate_sizes(plan: Plan) -> None:
    for item in plan.items:
        if item.host != "local":
            continue
        if item.kind == "copy":
            try:
                item.est_bytes, item.est_files = os.path.getsize(item.source), 1
            except OSError:
                pass
        else:
            item.est_bytes, item.est_files = scan_tree(item.source, item.excludes(plan.env.section("archive")["excludes"]))


def check_sources(plan: Plan) -> List[str]:
    """Problems with local sources: missing or unreadable paths (each names the path and item)."""
    problems = []
    for item in list(plan.items):
        if item.host != "local":
            continue
        if item.optional and not os.path.exists(item.source):
            plan.items.remove(item)
            plan.notes.append(f"{item.source} does not exist; item {item.name} is skipped")
            continue
        if not os.path.exists(item.source):
            problems.append(source_problem(plan.env, item, f"{item.source} does not exist"))
        elif item.kind == "archive" and not os.path.isdir(item.source):
            problems.append(source_problem(plan.env, item, f"{item.source} is not a directory"))
        elif not os.access(item.source, os.R_OK | (os.X_OK if item.kind == "archive" else 0)):
            problems.append(source_problem(plan.env, item, f"{item.source} is not readable"))
    return problems


def check_space(target_dir: str, needed: int) -> Tuple[bool, int]:
    free = shutil.disk_usage(nearest_existing(target_dir)).free
    return free >= needed, free
