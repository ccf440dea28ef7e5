"""The database phase: native tools through the per-vendor hooks, several databases at once."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from ..errors import StepFailed
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
        "verify_after_backup": db.get("verify_after_backup", True),
        "env": {k: str(v) for k, v in (db.get("env") or {}).items()},
    }
    return settings


TOOL_KEYS = ("db2", "db2ckbkp", "sqlcmd", "rman", "expdp", "impdp")
SECRET_ENV = ["SQLCMDPASSWORD"]


def db_host(env: "Environment") -> Optional[str]:
    """Name of the host the DB tools run on, or None for this machine."""
    from ..hosts import hosts_of, is_multi_host, with_role

    if not is_multi_host(env):
        return None
    name = env.section("database").get("host") or (with_role(env, "db") or [None])[0]
    if name is None or hosts_of(env)[name].is_local:
        return None
    return name


def remote_settings(env: "Environment", settings: Dict[str, Any], transport: Any, spec_dir: str) -> Dict[str, Any]:
    """The same settings, with every tool wrapped to run on the DB host over the shared ssh master."""
    from ..hosts import hosts_of, remote_tool_argv

    name = db_host(env)
    if name is None:
        return settings
    host = hosts_of(env)[name]
    wrapped = dict(settings)
    commands = dict(settings.get("command") or {})
    for key in TOOL_KEYS:
        tool = commands.get(key, key)
        tool = tool if isinstance(tool, str) else " ".join(tool)
        commands[key] = remote_tool_argv(transport, host, tool, dict(settings.get("env") or {}), SECRET_ENV, spec_dir)
    wrapped["command"] = commands
    return wrapped


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
    remote_host = db_host(env)
    if remote_host is None:
        os.makedirs(backup_dir, exist_ok=True)
    else:
        from ..remote import HostUnreachable

        settings = remote_settings(env, settings, run.transport, run.layout.private)
        try:
            run.transport.check(run.hosts[remote_host])
            run.transport.run(run.hosts[remote_host], f"mkdir -p {_quote(backup_dir)}")
        except HostUnreachable as error:  # the DB host's items fail; the file archives go on
            for name in pending:
                run.journal.set(f"db:{name}", FAILED, error=str(error))
            run.failures.append(f"databases: {error}")
            return
    secrets = _secrets(env)
    targets = [t for t in backup_targets(env, run.plan.version.raw) if t.name in pending]
    for target in targets:
        run.journal.set(f"db:{target.name}", RUNNING)
    run.progress.message(f"[databases] {len(targets)} {settings['vendor']} backups, {settings['concurrency']} at a time ...")

    def on_progress(finished: int, total: int, name: str) -> None:
        run.progress.message(f"[databases] {name} finished ({finished}/{total})")

    results = base.backup_all(targets, settings, backup_dir, concurrency=settings["concurrency"], dry_run=False,
                              secrets=secrets, log=run.log, progress=on_progress)
    failed: List[str] = []
    copy_back = remote_host is not None and env.section("database").get("copy_back", True)
    for result in results:
        record = result.to_dict()
        if remote_host is None:
            record["images"] = [_image_record(path) for path in result.images]
        else:
            record["host"] = remote_host
            record["images"] = [_remote_image_record(run, remote_host, result.name, path, copy_back)
                                for path in result.images] if result.ok else []
        if result.ok:
            status = WARNING if result.warnings else DONE
            for warning in result.warnings:
                run.warnings.append(f"database {result.name}: {warning}")
            run.journal.set(f"db:{result.name}", status, result=record)
        else:
            failed.append(f"{result.name}: {result.error}")
            run.journal.set(f"db:{result.name}", FAILED, result=record, error=result.error)
    run.progress.message(f"[databases] done: {len(results) - len(failed)} ok, {len(failed)} failed")
    # A failed database does not stop the file archives: the run ends as partial and
    # --resume redoes only what failed.
    run.failures.extend(f"database {f}" for f in failed)


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _remote_image_record(run: "BackupRun", host_name: str, name: str, path: str, copy_back: bool) -> Dict[str, Any]:
    """An image on the DB host; with copy_back it is also fetched into the set (hashed as it lands)."""
    record: Dict[str, Any] = {"path": path, "host": host_name}
    if copy_back:
        local = os.path.join(run.layout.databases, name, os.path.basename(path))
        os.makedirs(os.path.dirname(local), mode=0o700, exist_ok=True)
        copied = run.transport.get(run.hosts[host_name], path, local)
        os.chmod(local, 0o600)
        record.update({"copy": os.path.relpath(local, run.layout.root), "sha256": copied.sha256, "size": copied.size})
    return record


def _image_record(path: str) -> Dict[str, Any]:
    from ..archive import hash_file

    record: Dict[str, Any] = {"path": path}
    if os.path.isfile(path):
        record["sha256"], record["size"] = hash_file(path)
    return record


def _result_from_record(db: Dict[str, Any], vendor: str) -> Any:
    """A DbBackupResult rebuilt from a manifest/journal record (images as plain paths)."""
    from ..databases import base

    images = [i["path"] if isinstance(i, dict) else i for i in (db.get("images") or [])]
    return base.DbBackupResult(vendor=db.get("vendor") or vendor, name=db["name"], images=images,
                               timestamp=db.get("timestamp"), location=db.get("location") or "",
                               command=db.get("command") or "", output_tail="", status="ok", error=None,
                               seconds=0.0, online=bool(db.get("online")))


def _restore_source(db: Dict[str, Any], vendor: str) -> Any:
    result = _result_from_record(db, vendor)
    if vendor == "oracle":
        return result
    return result.images[0] if result.images else (db.get("timestamp") or "")


def _settings_for(vendor: str, env: Optional["Environment"]) -> Dict[str, Any]:
    if env is not None and env.section("database").get("vendor") == vendor:
        return db_settings(env)
    return {"vendor": vendor, "command": {}, "env": {}, "oracle": {}}


def restore_commands(vendor: str, db: Dict[str, Any], env: Optional["Environment"]) -> List[str]:
    """Exact native restore command lines for one database record of a manifest."""
    from ..databases import base

    if vendor in (None, "none"):
        return []
    module = base.vendor_module(vendor)
    target = base.DbTarget(vendor=vendor, name=db["name"])
    return list(module.restore_commands(target, _settings_for(vendor, env), _restore_source(db, vendor),
                                        backup_dir=db.get("location") or None))


def restore_database(manifest: Dict[str, Any], db: Dict[str, Any], env: "Environment", log: Any,
                     transport: Any = None, spec_dir: Optional[str] = None) -> None:
    """Native restore of one database, on the DB host when there is one."""
    from ..databases import base

    vendor = manifest.get("databaseVendor", "db2")
    module = base.vendor_module(vendor)
    target = base.DbTarget(vendor=vendor, name=db["name"])
    settings = _settings_for(vendor, env)
    if transport is not None and spec_dir and db_host(env) is not None:
        settings = remote_settings(env, settings, transport, spec_dir)
    result = module.restore(target, settings, _restore_source(db, vendor),
                            backup_dir=db.get("location") or None, secrets=_secrets(env), log=log)
    if not result.ok:
        raise StepFailed(f"database {db['name']}: restore failed: {result.error}")


def verify_database(vendor: str, db: Dict[str, Any], env: Optional["Environment"]) -> tuple:
    from ..databases import base

    module = base.vendor_module(vendor)
    settings = _settings_for(vendor, env)
    if env is not None and db_host(env) is not None:  # the verifier runs where the images are
        import tempfile

        from ..hosts import make_transport

        transport = make_transport(env)
        spec_dir = tempfile.mkdtemp(prefix="cnxverify-")
        try:
            ok, message = module.verify(_result_from_record(db, vendor), remote_settings(env, settings, transport, spec_dir))
        finally:
            transport.close()
            import shutil

            shutil.rmtree(spec_dir, ignore_errors=True)
    else:
        ok, message = module.verify(_result_from_record(db, vendor), settings)
    if ok is None:
        return True, f"{message} (no native verifier for this method; SHA-256 checked)"
    return bool(ok), message


def backup_targets(env: "Environment", version: str) -> List[Any]:
    from ..databases import targets_from_settings

    settings = db_settings(env)
    if settings.get("vendor") in (None, "none"):
        return []
    return targets_from_settings(settings, version, bool(env.section("connections")["ccm"]))


def generated_scripts(run: "BackupRun") -> Dict[str, str]:
    """``scripts/db-backup-<vendor>.sh`` and ``scripts/db-restore-<vendor>.sh`` (no secrets inside)."""
    from ..databases import base

    vendor = run.plan.db_vendor
    if vendor == "none" or not run.plan.databases:
        return {}
    module = base.vendor_module(vendor)
    settings = db_settings(run.env)
    targets = backup_targets(run.env, run.plan.version.raw)
    results = [_result_from_record(run.journal.result(f"db:{t.name}"), vendor) for t in targets
               if run.journal.status(f"db:{t.name}") in (DONE, WARNING)]
    return {
        f"db-backup-{vendor}.sh": module.render_backup_script(targets, settings, settings["backup_dir"]),
        f"db-restore-{vendor}.sh": module.render_restore_script(results, settings),
    }


def dry_run_commands(plan: "Plan") -> List[str]:
    from ..databases import base

    settings = db_settings(plan.env)
    targets = backup_targets(plan.env, plan.version.raw)
    results = base.backup_all(targets, settings, settings["backup_dir"], concurrency=1, dry_run=True,
                              secrets={}, log=None, progress=None)
    return [f"database {r.name}: {r.command}" for r in results]
