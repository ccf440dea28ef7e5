"""What a finished run leaves beside its archives: manifest data, REPORT.md, RESTORE.md, DB scripts."""
from __future__ import annotations

import os
import socket
import time
from typing import Any, Dict, List

from .. import __version__
from ..archive import hash_file
from ..atomic import write_file_atomic
from ..journal import FINISHED
from ..render import render_template
from . import dbphase, restore_plan
from .state import BackupRun


def _hosts(run: BackupRun) -> List[Dict[str, Any]]:
    hosts = run.env.data.get("hosts") or []
    if not hosts:
        return [{"name": "local", "address": socket.gethostname(), "roles": ["dmgr", "node", "db", "nfs"]}]
    return [{"name": h["name"], "address": h["address"], "roles": h["roles"]} for h in hosts]


def build_manifest(run: BackupRun) -> Dict[str, Any]:
    journal = run.journal
    steps = {sid: {k: v for k, v in entry.items() if k != "result"} for sid, entry in journal.data["steps"].items()}
    archives = []
    for item in run.plan.items:
        entry = journal.step(f"item:{item.name}")
        record = dict(entry.get("result") or item.to_dict())
        record["status"] = entry["status"]
        if entry.get("error"):
            record["error"] = entry["error"]
        archives.append(record)
    databases = [dict(journal.result(f"db:{name}") or {"name": name, "vendor": run.plan.db_vendor},
                      status=journal.status(f"db:{name}")) for name in run.plan.databases]
    wsadmin = {
        "authAliases": journal.result("wsadmin:list_auth_aliases"),
        "filenetAdmin": journal.result("wsadmin:check_filenet_admin"),
        "stopServers": journal.result("wsadmin:stop_servers"),
        "launches": journal.data.get("wsadminLaunches", 0),
    }
    roles = journal.result("wsadmin:export_role_mappings")
    if roles is not None:
        wsadmin["roleMappings"] = {"cell": roles.get("cell"), "applications": list(roles.get("applications") or []),
                                   "file": "wsadmin/role_mappings.json"}
    unfinished = [sid for sid in journal.data["order"] if journal.status(sid) not in FINISHED]
    has_warnings = bool(run.warnings)
    status = "partial" if unfinished or run.failures else ("complete-with-warnings" if has_warnings else "complete")
    files = []
    for name in sorted(os.listdir(run.layout.wsadmin)):
        path = os.path.join(run.layout.wsadmin, name)
        digest, size = hash_file(path)
        files.append({"path": f"wsadmin/{name}", "sha256": digest, "size": size})
    for folder in (run.layout.scripts, run.layout.databases):
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                digest, size = hash_file(path)
                files.append({"path": os.path.relpath(path, run.layout.root), "sha256": digest, "size": size})
    return {
        "tool": {"name": "cnxbackup", "version": __version__},
        "environment": run.env.name,
        "runId": os.path.basename(run.layout.root),
        "hosts": _hosts(run),
        "connections": run.plan.version.to_dict(),
        "was": {"version": run.plan.was_version},
        "ccm": bool(run.env.section("connections")["ccm"]),
        "paths": {k: v for k, v in run.env.paths.items() if isinstance(v, (str, list))},
        "started": journal.data.get("started"),
        "ended": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "status": status,
        "warnings": list(run.warnings),
        "failures": list(run.failures),
        "steps": steps,
        "archives": archives,
        "databases": databases,
        "databaseVendor": run.plan.db_vendor,
        "wsadmin": wsadmin,
        "files": files,
    }


def write_generated_files(run: BackupRun) -> None:
    """Native DB backup and restore scripts for this set (no secrets: they read env vars)."""
    for name, text in dbphase.set_scripts(run).items():
        path = os.path.join(run.layout.scripts, name)
        write_file_atomic(path, text.encode("utf-8"), mode=0o700)


def write_report(run: BackupRun, manifest: Dict[str, Any]) -> None:
    steps = restore_plan.restore_steps(manifest, run.layout.root, run.env)
    report = render_template("report/REPORT.md.j2", m=manifest, set_dir=run.layout.root)
    runbook = render_template("report/RESTORE.md.j2", m=manifest, set_dir=run.layout.root, steps=steps,
                              env_name=run.env.name)
    write_file_atomic(os.path.join(run.layout.root, "REPORT.md"), report.encode("utf-8"))
    write_file_atomic(os.path.join(run.layout.root, "RESTORE.md"), runbook.encode("utf-8"))
