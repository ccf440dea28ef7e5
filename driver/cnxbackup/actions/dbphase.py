"""The database phase: native tools through the per-vendor hooks, several databases at once."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from ..journal import DONE, FAILED, RUNNING, WARNING
from ..secrets import REDACT, read_password

if TYPE_CHECKING:
    from ..config import Environment
    from ..plan import Plan
    from .backup import BackupRun


def db_settings(env: "Environment") -> Dict[str, Any]:
    """The hooks' settings dict, built from the ``database`` section."""
    db = dict(env.section("database"))
    settings: Dict[str, Any] = {
        "vendor": db.get("vendor"),
        "command": dict(db.get("command") or {}),
        "backup_dir": db.get("backup_dir"),
        "databases": db.get("databases"),
        "concurrency": db.get("concurrency", 1),
        "online": db.get("online", False),
        "force_applications": db.get("force_applications", False),
        "server": db.get("server"),
        "auth": db.get("auth", "os"),
        "user": db.get("user"),
        "password_env": db.get("password_env"),
        "oracle": dict(db.get("oracle") or {}),
        "timeout": db.get("timeout", 14400),
        "env": {k: str(v) for k, v in (db.get("env") or {}).items()},
    }
    return settings


def _secrets(env: "Environment") -> Dict[str, str]:
    db = env.section("database")
    if db.get("auth") != "password":
        return {}
    password = read_password(db, "database", env.where("database"))
    REDACT.add(password)
    return {"db_password": password} if password else {}


def run(run: "BackupRun") -> None:
    from ..databases import base

    env = run.env
    settings = db_settings(env)
    pending = [name for name in run.plan.databases if not run.journal.is_finished(f"db:{name}")]
    if not pending:
        run.progress.message("[databases] all already backed up in this set")
        return
    backup_dir = settings["backup_dir"]
    os.makedirs(backup_dir, exist_ok=True)
    secrets = _secrets(env)
    targets = [base.DbTarget(vendor=settings["vendor"], name=name) for name in pending]
    for target in targets:
        run.journal.set(f"db:{target.name}", RUNNING)
    task = run.progress.task(f"databases ({settings['vendor']})", None, len(targets))
    done = {"n": 0}

    def on_progress(finished: int, total: int, name: str) -> None:
        done["n"] = finished
        task.update(finished, 0)
        run.progress.message(f"[databases] {name} finished ({finished}/{total})")

    results = base.backup_all(targets, settings, backup_dir, concurrency=settings["concurrency"], dry_run=False,
                              secrets=secrets, log=run.log, progress=on_progress)
    failed: List[str] = []
    for result in results:
        record = result.to_dict()
        record["images"] = [_image_record(path) for path in result.images]
        if result.ok:
            status = WARNING if result.warnings else DONE
            for warning in result.warnings:
                run.warnings.append(f"database {result.name}: {warning}")
            run.journal.set(f"db:{result.name}", status, result=record)
        else:
            failed.append(f"{result.name}: {result.error}")
            run.journal.set(f"db:{result.name}", FAILED, result=record, error=result.error)
    task.finish(f"{len(results) - len(failed)} ok, {len(failed)} failed")
    # A failed database does not stop the file archives: the run ends as partial and
    # --resume redoes only what failed.
    run.failures.extend(f"database {f}" for f in failed)


def _image_record(path: str) -> Dict[str, Any]:
    from ..archive import hash_file

    record: Dict[str, Any] = {"path": path}
    if os.path.isfile(path):
        record["sha256"], record["size"] = hash_file(path)
    return record


def restore_commands(vendor: str, db: Dict[str, Any], env: Optional["Environment"]) -> List[str]:
    """Exact native restore command lines for one database record of a manifest."""
    from ..databases import base

    if vendor in (None, "none"):
        return []
    module = base.vendor_module(vendor)
    settings = db_settings(env) if env is not None else {"vendor": vendor, "command": {}, "env": {}, "oracle": {}}
    return list(module.restore_commands(db, settings))


def generated_scripts(run: "BackupRun") -> Dict[str, str]:
    """``scripts/db-backup.sh`` and ``scripts/db-restore.sh`` for this set (no secrets inside)."""
    from ..databases import base

    vendor = run.plan.db_vendor
    if vendor == "none" or not run.plan.databases:
        return {}
    module = base.vendor_module(vendor)
    settings = db_settings(run.env)
    records = [run.journal.result(f"db:{name}") or {"name": name, "vendor": vendor} for name in run.plan.databases]
    return {
        f"db-backup-{vendor}.sh": module.render_backup_script(run.plan.databases, settings),
        f"db-restore-{vendor}.sh": module.render_restore_script(records, settings),
    }


def dry_run_commands(plan: "Plan") -> List[str]:
    from ..databases import base

    settings = db_settings(plan.env)
    targets = [base.DbTarget(vendor=settings["vendor"], name=name) for name in plan.databases]
    results = base.backup_all(targets, settings, settings["backup_dir"], concurrency=1, dry_run=True,
                              secrets={}, log=None, progress=None)
    return [f"database {r.name}: {r.command}" for r in results]
