"""The front door of the database hooks for every command: targets, restore, verify, dry runs.

Callers (backup, verify, restore, RESTORE.md) never pick a vendor module or build settings
themselves: they give the environment and a manifest record, and this module routes the
call to the vendor's hooks, on the DB host when there is one (through a local shim that
reuses the ssh master, :mod:`cnxbackup.transport.remote_tool`).
"""
from __future__ import annotations

import contextlib
import logging
import re
import shutil
import tempfile
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from ..config import Environment
from ..errors import ConfigError, StepFailed
from ..hosts import hosts_of, is_multi_host, with_role
from ..manifest import DatabaseRecord
from ..secrets import REDACT, read_password
from ..transport import SshTransport, Transport, make_transport
from ..transport.remote_tool import remote_tool_argv
from .base import DbBackupResult, DbError, DbTarget, database_log
from .defaults import default_databases
from .hooks import HOOKS, vendor_module
from .parallel import backup_all
from .runas import current_user, needs_switch, switch_prefix, switch_problem
from .settings import SECRET_ENV, TOOL_KEYS, db_settings, settings_for


def db_host(env: Environment) -> Optional[str]:
    """Name of the host the DB tools run on, or None for this machine."""
    if not is_multi_host(env):
        return None
    db_hosts = with_role(env, "db")
    name = env.section("database").get("host") or (db_hosts[0] if db_hosts else None)
    if name is None or hosts_of(env)[name].is_local:
        return None
    return str(name)


def remote_settings(env: Environment, settings: Dict[str, Any], transport: Transport,
                    spec_dir: str) -> Dict[str, Any]:
    """The same settings, with every tool wrapped to run on the DB host over the shared ssh master."""
    name = db_host(env)
    if name is None:
        return settings
    if not isinstance(transport, SshTransport):
        raise DbError(f"database host {name} is another machine but the transport is not ssh")
    host = hosts_of(env)[name]
    wrapped = dict(settings)
    commands = dict(settings["command"])
    prefix = remote_switch(settings, host.user)
    for key in TOOL_KEYS:
        tool = commands[key]
        tool = tool if isinstance(tool, str) else " ".join(tool)
        commands[key] = remote_tool_argv(transport, host, tool, dict(settings["env"]), SECRET_ENV, spec_dir,
                                         prefix=prefix)
    wrapped["command"] = commands
    wrapped["switch"] = []  # the shim's remote command carries it
    return wrapped


def remote_switch(settings: Mapping[str, Any], ssh_user: Optional[str]) -> List[str]:
    """The words that run a tool as its owner on a DB host reached as ``ssh_user``: ``runuser`` when
    that is root and the owner another user, the vendor's environment shell when it names its folders."""
    user = vendor_module(settings["vendor"]).tool_user(settings)
    return switch_prefix(user, as_user=ssh_user or current_user())


def tool_user_check(env: Environment, databases: Sequence[str]) -> Tuple[List[str], List[str]]:
    """(problems, notes) of the user the database tools run as, before the outage: the note names it
    (and what chose it); the problems say what it lacks (it cannot be switched to, no authority, a
    backup_dir it cannot write), each with the fix. On a DB host, through the ssh shim."""
    settings = db_settings(env)
    if settings["vendor"] == "none" or not databases:
        return [], []
    hooks = vendor_module(settings["vendor"])
    user = hooks.tool_user(settings)
    name = db_host(env)
    ssh_user = hosts_of(env)[name].user if name is not None else None
    runs_as = user.name or ssh_user or current_user()
    how = "through runuser" if needs_switch(user, ssh_user) else "directly"
    notes = [f"database tools ({', '.join(hooks.backup_tools(settings))}) run as {runs_as} ({user.source}), {how}"]
    if name is None:
        problem = switch_problem(user)
        if problem is not None:
            return [problem], notes
    elif user.name is not None and ssh_user not in (None, "root", user.name):
        return [f"database host {name}: its ssh user {ssh_user} is neither {user.name} ({user.source}) nor root, "
                f"so the tools cannot run as {user.name}: set the host's user to {user.name} or root"], notes
    section = env.section("database")
    if section["auth"] == "password" and not (section.get("password_env") or section.get("password_file")):
        return [], notes + ["the database tools' authority is not checked before the outage: the password is "
                            "asked for when the backup starts (database.password_prompt)"]
    try:
        secrets = db_secrets(env)
    except ConfigError as error:
        return [], notes + [f"the database tools' authority is not checked: {error}"]
    with _on_db_host(env, settings, "cnxgate-") as where:
        try:
            problems = hooks.authority_problems(where, settings["backup_dir"], databases, secrets=secrets)
        except StepFailed as error:
            problems = [f"database: the check of {runs_as}'s authority failed: {error}"]
    return problems, notes


@contextlib.contextmanager
def _on_db_host(env: Optional[Environment], settings: Dict[str, Any], prefix: str) -> Iterator[Dict[str, Any]]:
    """The settings with every tool run on the DB host over a transport of its own (closed
    afterwards), or as they are when there is no DB host."""
    if env is None or db_host(env) is None:
        yield settings
        return
    transport = make_transport(env)
    spec_dir = tempfile.mkdtemp(prefix=prefix)
    try:
        yield remote_settings(env, settings, transport, spec_dir)
    finally:
        transport.close()
        shutil.rmtree(spec_dir, ignore_errors=True)


def run_settings(settings: Dict[str, Any], secrets: Mapping[str, str], log: Optional[logging.Logger]) -> Dict[str, Any]:
    """The settings for all the backups of one run, with what the vendor reads once from the
    server first (SQL Server: its edition, so that COMPRESSION is asked only where it exists)."""
    return vendor_module(settings["vendor"]).prepare_settings(settings, secrets, log)


def backup_tools(env: Environment) -> List[str]:
    """The commands the environment's database backups run, as configured (none for vendor none)."""
    settings = db_settings(env)
    if settings["vendor"] == "none":
        return []
    return vendor_module(settings["vendor"]).backup_tools(settings)


def tools_on_callers_path(env: Environment) -> bool:
    """Whether the database tools are found on this process's PATH as they are (no user switch and no
    profile to source first), so that ``command -v`` here says whether they are there."""
    settings = db_settings(env)
    if settings["vendor"] == "none":
        return False
    return not switch_prefix(vendor_module(settings["vendor"]).tool_user(settings))


def images_written_by_tool_user(vendor: str) -> bool:
    """Whether the user that runs the vendor's tool writes the images into backup_dir (so this
    side can check the folder), rather than the database server's own account."""
    return vendor_module(vendor).IMAGES_WRITTEN_BY_TOOL_USER


def restore_runs_as(vendor: str) -> Optional[str]:
    """Who runs the vendor's native restore commands, and where (None for vendor none)."""
    return None if vendor in (None, "none") else vendor_module(vendor).RESTORE_USER


def db_secrets(env: Environment) -> Dict[str, str]:
    """``{'db_password': ...}`` when the database section authenticates by password (masked in logs)."""
    db = env.section("database")
    if db.get("auth") != "password":
        return {}
    password = read_password(db, "database", env.where("database"))
    REDACT.add(password)
    return {"db_password": password} if password else {}


def targets_from_settings(settings: Mapping[str, Any], connections_version: str, ccm: bool) -> List[DbTarget]:
    """The backup units for these settings; database names from config or the release defaults."""
    vendor = str(settings.get("vendor"))
    names = settings.get("databases") or default_databases(vendor, connections_version, ccm)
    return vendor_module(vendor).targets(names, settings)


def backup_targets(env: Environment, version: str) -> List[DbTarget]:
    """The environment's backup units for a Connections version (none for vendor none)."""
    settings = db_settings(env)
    if settings.get("vendor") in (None, "none"):
        return []
    return targets_from_settings(settings, version, bool(env.section("connections")["ccm"]))


def result_from_record(db: DatabaseRecord, vendor: str) -> DbBackupResult:
    """A DbBackupResult rebuilt from a manifest record (images as plain paths)."""
    return DbBackupResult(vendor=db.vendor or vendor, name=db.name, images=[i.path for i in db.images],
                          timestamp=db.timestamp, location=db.location, command=db.command, output_tail="",
                          status="ok", error=None, seconds=0.0, online=db.online)


def restore_commands(vendor: str, db: DatabaseRecord, env: Optional[Environment]) -> List[str]:
    """Exact native restore command lines for one database record of a manifest."""
    if vendor in (None, "none"):
        return []
    hooks = vendor_module(vendor)
    return list(hooks.restore_commands(DbTarget(vendor=vendor, name=db.name), settings_for(vendor, env),
                                       result_from_record(db, vendor), backup_dir=db.location or None))


def restore_database(vendor: str, db: DatabaseRecord, env: Environment, log: logging.Logger,
                     transport: Optional[Transport] = None, spec_dir: Optional[str] = None,
                     dry_run: bool = False) -> None:
    """Native restore of one database, on the DB host when there is one; StepFailed when it fails."""
    hooks = vendor_module(vendor)
    settings = settings_for(vendor, env)
    if transport is not None and spec_dir and db_host(env) is not None:
        settings = remote_settings(env, settings, transport, spec_dir)
    result = hooks.restore(DbTarget(vendor=vendor, name=db.name), settings, result_from_record(db, vendor),
                           backup_dir=db.location or None, dry_run=dry_run, secrets=db_secrets(env),
                           log=database_log(log, db.name))
    if log is not None:
        log.info("database %s: restore %s in %.1f s: %s", db.name, "ok" if result.ok else f"FAILED ({result.error})",
                 result.seconds, result.command)
    if not result.ok:
        raise StepFailed(f"database {db.name}: restore failed: {result.error}")


def image_header_problem(vendor: str, database: str, image: str, env: Environment,
                         transport: Optional[Transport] = None, spec_dir: Optional[str] = None) -> Optional[str]:
    """A quick vendor check of an image's header before a restore stops anything, where the
    vendor has one (``HEADER_CHECK``): DB2 ``db2ckbkp -H`` (the 4 KiB media header, no
    validation), SQL Server ``RESTORE HEADERONLY`` (the set's header: database name, backup
    type); RMAN has none that is quick. With a transport and a DB host, the tool runs there,
    where the image is."""
    hooks = vendor_module(vendor)
    if not hooks.HEADER_CHECK:
        return None
    settings = settings_for(vendor, env)
    if transport is not None and spec_dir and db_host(env) is not None:
        settings = remote_settings(env, settings, transport, spec_dir)
    return hooks.header_problem(image, database, settings, secrets=db_secrets(env))


def verify_database(vendor: str, db: DatabaseRecord, env: Optional[Environment],
                    dry_run: bool = False) -> Tuple[bool, str]:
    """The vendor's own verifier on one recorded database, where its images are."""
    hooks = vendor_module(vendor)
    settings = settings_for(vendor, env)
    result = result_from_record(db, vendor)
    secrets = db_secrets(env) if env is not None and not dry_run else {}
    with _on_db_host(env, settings, "cnxverify-") as where:
        ok, message = hooks.verify(result, where, dry_run=dry_run, secrets=secrets)
    if ok is None:
        return True, f"{message} (no native verifier for this method; SHA-256 checked)"
    return bool(ok), message


def image_name_pattern(env: Environment, names: Sequence[str]) -> Optional["re.Pattern[str]"]:
    """One pattern for the file names of the images that backups of the databases ``names`` write
    into ``backup_dir`` (as the vendor names them), or None when there are none to look for (no
    vendor, no names, or a vendor whose backups are not plain files there)."""
    settings = db_settings(env)
    vendor = settings.get("vendor")
    if vendor in (None, "none") or not names:
        return None
    hooks = vendor_module(str(vendor))
    patterns = [hooks.image_pattern(name, settings) for name in sorted(set(names))]
    if any(pattern is None for pattern in patterns):
        return None
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns))


def forget_database_backup(vendor: str, db: DatabaseRecord, env: Environment, *, dry_run: bool = False) -> Optional[str]:
    """Remove one recorded backup through the vendor's own catalogue (prune; an Oracle RMAN
    backup by its tag), on the DB host when there is one: what was done, or None when its
    images are plain files the caller removes. DbError when it may not be removed that way;
    ``dry_run``: nothing runs (the check only)."""
    if vendor in (None, "none"):
        return None
    hooks = vendor_module(vendor)
    settings = settings_for(vendor, env)
    result = result_from_record(db, vendor)
    planned = hooks.forget_backup(result, settings, dry_run=True)
    if dry_run or planned is None:
        return planned
    with _on_db_host(env, settings, "cnxprune-") as where:
        return hooks.forget_backup(result, where)


def jdbc_vendor(implementation_class: str) -> Optional[str]:
    """The vendor whose JDBC driver a WebSphere data source's implementationClassName names (``init``)."""
    return next((vendor for vendor, hooks in HOOKS.items() if implementation_class.startswith(hooks.JDBC_DRIVER_PREFIX)),
                None)


def data_source_settings(vendor: str, host: str, port: Optional[int]) -> Tuple[int, Dict[str, str]]:
    """(port, ``database`` keys) that the data sources' server ``host`` and ``port`` give (``init``):
    the port, or the vendor's default when they name none; SQL Server's ``server``."""
    hooks = vendor_module(vendor)
    return port or hooks.DEFAULT_PORT, hooks.data_source_settings(host)


def generated_scripts(env: Environment, version: str, results: List[DbBackupResult]) -> Dict[str, str]:
    """``db-backup-<vendor>.sh`` and ``db-restore-<vendor>.sh`` for a set (no secrets inside)."""
    settings = db_settings(env)
    vendor = str(settings.get("vendor"))
    hooks = vendor_module(vendor)
    return {
        f"db-backup-{vendor}.sh": hooks.render_backup_script(backup_targets(env, version), settings,
                                                             settings["backup_dir"]),
        f"db-restore-{vendor}.sh": hooks.render_restore_script(results, settings),
    }


def dry_run_commands(env: Environment, version: str) -> List[str]:
    """One line per database: the command a backup would run."""
    settings = db_settings(env)
    results = backup_all(backup_targets(env, version), settings, settings["backup_dir"], concurrency=1,
                         dry_run=True, secrets={}, log=None, progress=None)
    return [f"database {r.name}: {r.command}" for r in results]
