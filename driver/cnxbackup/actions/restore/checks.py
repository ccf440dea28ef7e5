"""What a restore checks before it changes anything: one line per problem, all at once.

Archives and copied files (present as regular files inside the set, of their recorded
size; their SHA-256 and members are checked as they are staged, in the same single read),
database images (present, size, SHA-256, inside the environment's ``database.backup_dir``
or copied into the set), the role mappings file (its SHA-256), and room on each destination
filesystem for the staged copies (the old tree stays until the swap, so both must fit).
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from typing import Dict, List, Optional, Tuple

from ...archive import hash_file
from ...config import Environment
from ...databases import backup_targets, db_host, image_header_problem, image_state_on_host
from ...hosts import hosts_of
from ...manifest import DatabaseRecord, ImageRecord, Manifest
from ...paths import is_at_or_within, nearest_existing
from ...progress import human_bytes
from ...remote_archive import remote_free_space
from ...setbox import OutsideTheSet, path_in_set
from ...transport import HostUnreachable, Transport
from ...versions import ConnectionsVersion
from .plan import RestoreStep

STAMP = re.compile(r"\d{14}")  # every vendor's backup timestamp: YYYYMMDDhhmmss


def archive_problems(set_dir: str, steps: List[RestoreStep]) -> List[str]:
    problems = []
    for step in steps:
        item = step.archive
        if step.kind != "stage" or step.skip_reason or item is None:
            continue
        broken = item.levels_problem()
        if broken:
            problems.append(f"{item.name}: {broken}")
            continue
        for level in item.levels():
            if not os.path.lexists(os.path.join(set_dir, level.path)):
                problems.append(f"{item.name}: {os.path.join(set_dir, level.path)} is missing")
                continue
            try:
                path = path_in_set(set_dir, level.path)
            except OutsideTheSet as error:
                problems.append(f"{item.name}: {error}")
                continue
            size = os.path.getsize(path)
            if size != level.size:
                problems.append(f"{item.name}: {path} is {size:,} bytes, the manifest says {level.size}")
    return problems


def _remote_image_problem(db: DatabaseRecord, image: ImageRecord, host_name: str, env: Environment,
                          transport: Transport) -> Optional[str]:
    """Size and SHA-256 of an image left on the DB host, read there (``stat``, ``sha256sum``)."""
    host = hosts_of(env).get(host_name)
    if host is None:
        return f"database {db.name}: host {host_name} is not in the environment"
    try:
        state = image_state_on_host(transport, host, image)
    except HostUnreachable as error:
        return f"database {db.name}: {error}"
    return None if state.problem is None else f"database {db.name}: image {host_name}:{image.path} {state.problem}"


def _image_problems(db: DatabaseRecord, set_dir: str, backup_dir: Optional[str], remote: bool,
                    transport: Optional[Transport], env: Environment, spec_dir: str) -> List[str]:
    problems = []
    if not db.images:
        return [f"database {db.name}: the set records no backup image"]
    for image in db.images:
        on_db_host = False
        if remote or image.host:
            # the native restore reads the image where the backup left it, on the DB host
            if backup_dir is not None and not is_at_or_within(image.path, backup_dir):
                problems.append(f"database {db.name}: image {image.path} is not inside database.backup_dir {backup_dir}")
                continue
            host_name = image.host or db_host(env)
            if transport is None or host_name is None:
                continue
            problem = _remote_image_problem(db, image, host_name, env, transport)
            if problem is not None:
                held = os.path.join(set_dir, image.copy) if image.copy else ""
                hint = ((f" (the set holds an encrypted copy: gpg --decrypt --output IMAGE {held}, then copy it back)"
                         if image.encrypted else f" (the set holds a copy: {held}; copy it back)") if image.copy else "")
                problems.append(problem + hint)
                continue
            path, on_db_host = image.path, True
        elif image.copy:
            try:
                path = path_in_set(set_dir, image.copy)
            except OutsideTheSet as error:
                problems.append(f"database {db.name}: {error}")
                continue
        else:
            path = image.path
            if backup_dir is not None and not is_at_or_within(path, backup_dir, resolve_links=True):
                problems.append(f"database {db.name}: image {path} is not inside database.backup_dir {backup_dir}")
                continue
            if not os.path.isfile(path) or os.path.islink(path):
                problems.append(f"database {db.name}: image {path} is missing")
                continue
        wanted_sha, wanted_size = image.copy_digest if image.copy and not on_db_host else (image.sha256, image.size)
        if wanted_sha and not on_db_host:
            digest, size = hash_file(path)
            if (digest, size) != (wanted_sha, wanted_size if wanted_size is not None else size):
                problems.append(f"database {db.name}: image {path} does not match its SHA-256 and size in the "
                                "manifest (changed, truncated or replaced)")
                continue
        header = image_header_problem(db.vendor, db.name, path, env, transport if on_db_host else None, spec_dir)
        if header is not None:
            problems.append(f"database {db.name}: image {path}: {header}")
    return problems


def database_problems(manifest: Manifest, set_dir: str, steps: List[RestoreStep], env: Environment,
                      transport: Optional[Transport]) -> List[str]:
    """Every database the restore runs: the environment's, of its vendor, its images checked."""
    spec_dir = tempfile.mkdtemp(prefix="cnxcheck-")  # the remote-tool shim's spec, for header checks
    try:
        return _database_problems(manifest, set_dir, steps, env, transport, spec_dir)
    finally:
        shutil.rmtree(spec_dir, ignore_errors=True)


def _database_problems(manifest: Manifest, set_dir: str, steps: List[RestoreStep], env: Environment,
                       transport: Optional[Transport], spec_dir: str) -> List[str]:
    section = env.section("database")
    backup_dir = section.get("backup_dir")
    remote = db_host(env) is not None
    version = ConnectionsVersion.from_dict(manifest.connections)
    known = {target.name.upper() for target in backup_targets(env, version.raw)}
    problems = []
    for step in steps:
        db = step.database
        if step.kind != "db" or step.skip_reason or db is None:
            continue
        if db.name.upper() not in known:
            problems.append(f"database {db.name}: not one the environment {env.name} backs up ({', '.join(sorted(known))})")
            continue
        if db.timestamp is not None and not STAMP.fullmatch(db.timestamp):
            problems.append(f"database {db.name}: timestamp {db.timestamp[:30]!r} is not a backup timestamp (14 digits)")
            continue
        if manifest.database_vendor != section["vendor"]:
            problems.append(f"database {db.name}: the set is of vendor {manifest.database_vendor}, the environment "
                            f"of {section['vendor']}")
            continue
        if db.location and backup_dir and not remote and not is_at_or_within(db.location, backup_dir, resolve_links=True):
            problems.append(f"database {db.name}: its location {db.location} is not database.backup_dir {backup_dir}")
            continue
        problems += _image_problems(db, set_dir, backup_dir, remote, transport, env, spec_dir)
    return problems


def roles_problems(manifest: Manifest, set_dir: str, steps: List[RestoreStep]) -> List[str]:
    if not any(step.kind == "roles" and not step.skip_reason for step in steps):
        return []
    roles = manifest.wsadmin.role_mappings
    name = roles.file if roles is not None else "wsadmin/role_mappings.json"
    record = next((f for f in manifest.files if f.path == name), None)
    if record is None:
        return [f"roles: {name} is not among the set's recorded files"]
    try:
        digest, size = hash_file(path_in_set(set_dir, name))
    except OutsideTheSet as error:
        return [f"roles: {error}"]
    if (digest, size) != (record.sha256, record.size):
        return [f"roles: {os.path.join(set_dir, name)} does not match its SHA-256 in the manifest"]
    return []


def _filesystem_of(path: str) -> Tuple[int, str]:
    probe = nearest_existing(path)
    return os.stat(probe).st_dev, probe


def space_problems(steps: List[RestoreStep], margin: float, env: Optional[Environment] = None,
                   transport: Optional[Transport] = None) -> Tuple[List[str], List[str]]:
    """(problems, notes): each destination filesystem, here or on its host (``df`` there), must
    hold the staged copies beside the live trees they will replace."""
    need: Dict[Tuple[str, object], int] = {}
    free_at: Dict[Tuple[str, object], Tuple[str, int]] = {}
    unknown, notes = [], []
    for step in steps:
        item = step.archive
        if step.kind != "stage" or step.skip_reason or item is None or step.destination is None:
            continue
        size = item.unpacked_bytes
        if size is None:
            unknown.append(item.name)
            continue
        remote = item.host != "local" and bool(step.commands) and step.commands[0].startswith("ssh ")
        if remote:
            host = hosts_of(env).get(item.host) if env is not None else None
            if host is None or transport is None:
                notes.append(f"room for staging {item.name} on {item.host} not checked (no transport)")
                continue
            try:
                mount, free = remote_free_space(transport, host, step.destination)
            except (HostUnreachable, ValueError) as error:
                notes.append(f"room for staging {item.name} on {item.host} not checked: {error}")
                continue
            key: Tuple[str, object] = (item.host, mount)
            free_at.setdefault(key, (f"{item.host}:{mount}", free))
        else:
            device, probe = _filesystem_of(step.destination)
            key = ("local", device)
            if key not in free_at:
                info = os.statvfs(probe)
                free_at[key] = (probe, info.f_bavail * info.f_frsize)
        need[key] = need.get(key, 0) + size
    problems = []
    for key, bytes_needed in need.items():
        where, free = free_at[key]
        wanted = int(bytes_needed * (1 + margin))
        if wanted > free:
            problems.append(f"the filesystem of {where} has {human_bytes(free)} free; staging the restored "
                            f"copies there needs {human_bytes(wanted)} (with a {margin:.0%} margin)")
    if unknown:
        notes.append(f"room for staging not checked for {', '.join(unknown)} (the set does not record their size "
                     "unpacked)")
    return problems, notes
