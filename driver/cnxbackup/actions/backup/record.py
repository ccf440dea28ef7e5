"""What a finished run leaves beside its archives: manifest data, REPORT.md, RESTORE.md, DB scripts."""
from __future__ import annotations

import os
import re
import socket
import stat
import time
from typing import Any, Dict, List, Optional

from ...archive import hash_file
from ...atomic import write_file_atomic
from ...config import Environment
from ...hosts import is_multi_host
from ...invocation import command_line
from ...journal import DONE, FINISHED, Journal
from ...manifest import (
    MUTABLE_FILES,
    SUMS,
    ArchiveRecord,
    DatabaseRecord,
    FileRecord,
    HostRecord,
    Manifest,
    RoleMappingsRecord,
    SigningRecord,
    WsadminRecord,
)
from ...manifest.coverage import recorded_digests, sums_text, unaccounted, walk_set
from ...plan import Item
from ...progress import human_seconds
from ...render import render_template
from ...signing import fingerprint, public_key_of
from ...wsadmin_session import start_servers_command
from ..restore.plan import runbook_steps  # the one import of the restore wing: RESTORE.md is its plan
from ..sets.identity import journal_cell
from . import component_pack_phase, database_phase, tools
from .runbook import program_lines, rewrite_steps
from .state import BackupRun


def _hosts(run: BackupRun) -> List[HostRecord]:
    if not is_multi_host(run.env):
        return [HostRecord(name="local", address=socket.gethostname(), roles=["dmgr", "node", "db", "nfs"])]
    return [HostRecord(name=h.name, address=h.address or "local", roles=list(h.roles)) for h in run.hosts.values()]


def _archive_record(run: BackupRun, item: Item) -> ArchiveRecord:
    """An item's record: its archive (level 0 of a two-phase folder, with its level 1 inside)."""
    entry = run.journal.step(f"item:{item.name}")
    record = dict(entry.get("result") or item.to_dict())
    record.pop("tarOptions", None)  # the journal's own: level 1 reads the same options
    record["status"] = entry["status"]
    if entry.get("error"):
        record["error"] = entry["error"]
    level1 = run.journal.step(f"level1:{item.name}") if f"level1:{item.name}" in run.journal.data["steps"] else None
    if record.get("level") == 0:
        # the item is in the set only with both levels: its level 0 alone is not the moment of the stop
        if level1 is not None and level1.get("status") in FINISHED and level1.get("result"):
            record["level1"] = level1["result"]
            if level1["status"] != DONE:
                record["status"] = level1["status"]
        else:
            record["status"] = (level1 or {}).get("status") or "pending"
            record["error"] = (level1 or {}).get("error") or "its level-1 archive was not taken"
    return ArchiveRecord.from_json(record, f"journal item:{item.name}")


def downtime_seconds(journal: Journal) -> Optional[float]:
    """Seconds from the stop whose moment the set holds to the end of the backup steps."""
    stopped, finished = journal.data.get("stoppedEpoch"), journal.data.get("finishedEpoch")
    if not isinstance(stopped, (int, float)) or not isinstance(finished, (int, float)):
        return None
    return round(max(0.0, finished - stopped), 1)


def _database_record(run: BackupRun, name: str) -> DatabaseRecord:
    step = f"db:{name}"
    entry = run.journal.step(step)
    record = dict(run.journal.result(step) or {"name": name, "vendor": run.plan.db_vendor, "error": entry.get("error")})
    record["status"] = run.journal.status(step)
    return DatabaseRecord.from_json(record, f"journal {step}")


def _wsadmin_record(run: BackupRun) -> WsadminRecord:
    journal = run.journal
    record = WsadminRecord(auth_aliases=journal.result("wsadmin:list_auth_aliases"),
                           filenet_admin=journal.result("wsadmin:check_filenet_admin"),
                           stop_servers=journal.result("wsadmin:stop_servers"),
                           launches=int(journal.data.get("wsadminLaunches", 0)))
    roles = journal.result("wsadmin:export_role_mappings")
    if roles is not None:
        record.role_mappings = RoleMappingsRecord(cell=roles.get("cell"), applications=list(roles.get("applications") or []))
    return record


def _set_files(run: BackupRun) -> List[FileRecord]:
    """The wsadmin results, generated scripts, copied DB images and the Component Pack inventory,
    with their digests (the MongoDB dump has its own record)."""
    files = []
    for folder in (run.layout.wsadmin, run.layout.scripts, run.layout.databases):
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                digest, size = hash_file(path)
                files.append(FileRecord(path=os.path.relpath(path, run.layout.root), sha256=digest, size=size))
    inventory = os.path.join(run.layout.root, component_pack_phase.FOLDER)
    for folder, dirs, names in os.walk(inventory):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, run.layout.root)
            if rel != component_pack_phase.MONGO_ARCHIVE and os.path.isfile(path) and not os.path.islink(path):
                digest, size = hash_file(path)
                files.append(FileRecord(path=rel, sha256=digest, size=size))
    return files


def _component_pack_record(run: BackupRun) -> Optional[Dict[str, Any]]:
    steps = component_pack_phase.planned_steps(run)
    if not steps:
        return None
    cp = run.env.section("component_pack")
    record: Dict[str, Any] = {"namespace": cp["namespace"], "host": cp["host"], "nfsHost": cp["nfs_host"],
                              "pvRoot": cp["pv_root"],
                              "folders": [item.name for item in run.plan.items if item.key == "component_pack.folders"]}
    for step in steps:
        entry = run.journal.step(step)
        part: Dict[str, Any] = {"status": entry.get("status", "pending")}
        if entry.get("error"):
            part["error"] = entry["error"]
        if entry.get("status") in FINISHED:
            part.update(entry.get("result") or {})
        record[step[3:]] = part
    return record


def build_manifest(run: BackupRun) -> Manifest:
    return mark_encrypted(_build_manifest(run))


def mark_encrypted(manifest: Manifest) -> Manifest:
    """Under ``archive.encrypt`` every archive, copied file, Component Pack file and image copy of the
    set was written through the cipher (the journal fixes the recipients for the whole set)."""
    if not manifest.encryption:
        return manifest
    for record in manifest.archives:
        record.encrypted = True
    for file in manifest.files:
        if file.path.startswith(component_pack_phase.FOLDER + "/"):
            file.encrypted = True
    for db in manifest.databases:
        for image in db.images:
            if image.copy:
                image.encrypted = True
    dump = (manifest.component_pack or {}).get("mongodb")
    if isinstance(dump, dict) and dump.get("path"):
        dump["encrypted"] = True
    return manifest


def _build_manifest(run: BackupRun) -> Manifest:
    journal = run.journal
    steps = {sid: {k: v for k, v in entry.items() if k != "result"} for sid, entry in journal.data["steps"].items()}
    unfinished = [sid for sid in journal.data["order"] if journal.status(sid) not in FINISHED]
    status = "partial" if unfinished or run.failures else ("complete-with-warnings" if run.warnings else "complete")
    return Manifest(
        tool=tools.tool_record(run.layout.root),
        environment=run.env.name,
        run_id=os.path.basename(run.layout.root),
        hosts=_hosts(run),
        connections=run.plan.version.to_dict(),
        was={"version": run.plan.was_version},
        ccm=bool(run.env.section("connections")["ccm"]),
        paths={k: v for k, v in run.env.paths.items() if isinstance(v, (str, list))},
        started=journal.data.get("started"),
        ended=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        status=status,
        warnings=list(run.warnings),
        failures=list(run.failures),
        steps=steps,
        archives=[_archive_record(run, item) for item in run.plan.items],
        databases=[_database_record(run, name) for name in run.plan.databases],
        database_vendor=run.plan.db_vendor,
        wsadmin=_wsadmin_record(run),
        files=_set_files(run),
        cell=journal_cell(run.journal),
        overrides=list(journal.data.get("overrides") or []) or None,
        stops=list(journal.data.get("stops") or []) or None,
        component_pack=_component_pack_record(run),
        archive_mode=run.env.section("archive")["mode"],
        stopped_at=journal.data.get("stoppedAt"),
        finished_at=(time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(journal.data["finishedEpoch"]))
                     if isinstance(journal.data.get("finishedEpoch"), (int, float)) else None),
        downtime_seconds=downtime_seconds(journal),
        signing=SigningRecord(key_fingerprint=fingerprint(public_key_of(run.env.section("signing")["key"]))),
        encryption=journal.data.get("encryption") or None,
    )


def write_generated_files(run: BackupRun) -> None:
    """Native DB backup and restore scripts for this set (no secrets: they read env vars), and the
    set's own tools (``tools/``: the wsadmin scripts and the program, for RESTORE.md)."""
    tools.write_tools(run)
    for name, text in database_phase.set_scripts(run).items():
        path = os.path.join(run.layout.scripts, name)
        write_file_atomic(path, text.encode("utf-8"), mode=0o700)


def write_report(run: BackupRun, manifest: Manifest) -> None:
    """REPORT.md and RESTORE.md, rendered from the manifest as it is written (its JSON keys)."""
    data = manifest.to_json()
    outside = sorted({os.path.dirname(image.path) for db in manifest.databases for image in db.images
                      if not image.copy})
    downtime = human_seconds(manifest.downtime_seconds) if manifest.downtime_seconds is not None else ""
    report = render_template("report/REPORT.md.j2", m=data, set_dir=run.layout.root, images_outside=outside,
                             start_command=start_servers_command(run.env, os.path.join(run.layout.root, tools.WSADMIN)),
                             downtime=downtime,  # --env: its trusted keys and its database tools' verifiers
                             verify_command=command_line("verify", run.layout.root, "--env", run.env.argument),
                             resume_command=command_line("backup", "--env", run.env.argument, "--resume", run.layout.root))
    write_file_atomic(os.path.join(run.layout.root, "REPORT.md"), report.encode("utf-8"))
    write_file_atomic(os.path.join(run.layout.root, "RESTORE.md"), render_runbook(manifest, run.layout.root, run.env).encode("utf-8"))


def render_runbook(manifest: Manifest, set_dir: str, env: Environment) -> str:
    """RESTORE.md: the restore's own steps, every command relative to the set (``"$SET"/...``) and
    run with the set's own tools (``tools/``), for a rebuilt host."""
    # the hand-run steps name the moved-aside copies with the set's own timestamp (a real stamp, so
    # that backups leave them out and cleanup finds them; pasted twice, the steps do nothing more)
    stamp = manifest.run_id.rsplit("-", 1)[-1] if re.fullmatch(r".*-\d{8}T\d{6}", manifest.run_id) else "19700101T000000"
    steps, cp_steps = runbook_steps(manifest, set_dir, env, stamp)
    rewrite_steps(steps + cp_steps, set_dir)  # "$SET"/..., the set's own wsadmin scripts
    return render_template("report/RESTORE.md.j2", m=manifest.to_json(), set_dir=set_dir, steps=steps,
                           env_name=env.argument, cp_steps=cp_steps, tool=program_lines(manifest, set_dir, env.argument))


def _regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def account_for_files(run: BackupRun, manifest: Manifest) -> Manifest:
    """Format 5, just before the manifest is signed: every file of the set that no record names yet
    (RESTORE.md, REPORT.md, ``tools/``, whatever a phase left) goes into ``files`` with its digest,
    except the mutable ones (``MUTABLE_FILES``, named in the manifest); then ``SHA256SUMS`` (every
    digest of the manifest, for ``sha256sum -c``), itself listed. Nothing is followed: a link or a
    FIFO in the set is not listed, it is a warning now and a BAD line of ``verify``."""
    root = run.layout.root
    manifest.mutable_files = list(MUTABLE_FILES)
    found, odd = walk_set(root)
    for rel, kind in odd:
        message = f"{rel} in the set is {kind}: not listed in the manifest (verify will name it)"
        run.progress.warning(message)
        manifest.warnings.append(message)
    for rel in unaccounted(manifest, [path for path in found if path != SUMS]):
        digest, size = hash_file(os.path.join(root, rel))
        manifest.files.append(FileRecord(path=rel, sha256=digest, size=size))
    digests = {path: value for path, value in recorded_digests(manifest).items()
               if path != SUMS and _regular(os.path.join(root, path))}
    write_file_atomic(os.path.join(root, SUMS), sums_text(digests), mode=0o600)
    digest, size = hash_file(os.path.join(root, SUMS))
    manifest.files = [record for record in manifest.files if record.path != SUMS]
    manifest.files.append(FileRecord(path=SUMS, sha256=digest, size=size))
    return manifest
