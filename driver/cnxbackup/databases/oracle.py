"""Oracle hook: RMAN whole-database backup or Data Pump schema export (connections.md §3.3).

All Connections schemas live in one database (SID), so ``method: rman`` backs up (and restores!)
everything in it; ``method: datapump`` exports the Connections schemas only.
Settings used: command.rman / command.expdp / command.impdp, oracle.{method, sid, directory,
directory_path, schemas, per_schema}, online (RMAN: needs ARCHIVELOG), auth ('os' -> "/ as sysdba";
'password' -> user + password from secrets/password_env, written only to a 0600 parfile in a
private 0700 temp dir that is removed afterwards), timeout, env, os_user (who runs the tools, with
``oraenv`` sourced: :mod:`.runas`).
"""
from __future__ import annotations

import contextlib
import logging
import os
import pwd
import re
import shlex
import shutil
import tempfile
import time
import typing
from typing import Any, Iterator, Mapping, Sequence

from cnxbackup.databases.base import (
    DbBackupResult,
    DbError,
    DbTarget,
    ToolRun,
    command_text,
    configured_tools,
    dry_run_result,
    failed_result,
    lookup_password,
    now_stamp,
    render_template,
    run_tool,
    script_password_env,
    settings_unchanged,
    tail,
    tool_command,
    tool_env,
)
from cnxbackup.databases.runas import ToolUser, needs_switch, owner_of, switch_prefix
from cnxbackup.databases.settings import hook_settings

VENDOR = "oracle"
RESTORE_USER = "run as the oracle software owner on the DB host, with ORACLE_SID set"
IMAGES_WRITTEN_BY_TOOL_USER = False  # RMAN and Data Pump write as the database's own account
HEADER_CHECK = False  # RMAN has none that is quick; Data Pump none at all
JDBC_DRIVER_PREFIX = "oracle.jdbc."
DEFAULT_PORT = 1521
RMAN_TAG = re.compile(r"CNX[0-9A-Za-z_]{1,27}")  # a tag cnxbackup writes (RMAN tags: 30 characters at most)
RC_OK, RC_WARNING_DP, RC_FAIL = 0, 5, 1
DP_SUCCESS_RE = re.compile(r'^Job "[^"]+"\."[^"]+" successfully completed at', re.MULTILINE)
DP_WARN_RE = re.compile(r'^Job "[^"]+"\."[^"]+" completed with (\d+) error\(s\) at', re.MULTILINE)
DP_FILES_RE = re.compile(r"^Dump file set for \S+ is:\n((?:[ \t]+\S.*\n?)+)", re.MULTILINE)
ERROR_LINE_RE = re.compile(r"^(?:ORA|RMAN|UDE|LRM)-\d{5}:.*$", re.MULTILINE)
RMAN_STACK_MARK = "RMAN-00569"
NO_PRIVILEGE = "ORA-01031"
# oraenv, not interactive (ORAENV_ASK=NO), its chatter ("The Oracle base has been set to ...") kept out
ORAENV_SCRIPT = ('ORACLE_SID="$1" ORAENV_ASK=NO; export ORACLE_SID ORAENV_ASK; . "$2" </dev/null >/dev/null; '
                 'shift 2; exec "$@"')


def _oracle(settings: Mapping[str, Any]) -> Mapping[str, Any]:
    return typing.cast(Mapping[str, Any], settings["oracle"])


def method(settings: Mapping[str, Any]) -> str:
    value = _oracle(settings)["method"]
    if value not in ("rman", "datapump"):
        raise DbError("oracle.method must be 'rman' or 'datapump', not %r" % value)
    return value


def sid(settings: Mapping[str, Any]) -> str:
    return str(_oracle(settings)["sid"])


def targets(names: Sequence[str], settings: Mapping[str, Any] | None = None) -> list[DbTarget]:
    """RMAN: one target (the SID). Data Pump: one job per schema, or one job for all (per_schema: false)."""
    settings = settings if settings is not None else hook_settings({"vendor": VENDOR})
    schemas = [name.upper() for name in (_oracle(settings)["schemas"] or names)]
    if method(settings) == "rman":
        return [DbTarget(VENDOR, sid(settings), schemas)]
    if _oracle(settings)["per_schema"]:
        return [DbTarget(VENDOR, schema, [schema]) for schema in schemas]
    return [DbTarget(VENDOR, sid(settings), schemas)]


def backup_tools(settings: Mapping[str, Any]) -> list[str]:
    """``rman`` or ``expdp``, by the method."""
    return configured_tools(settings, ["rman"] if method(settings) == "rman" else ["expdp"])


prepare_settings = settings_unchanged  # nothing is read from the server before a run


def header_problem(image: str, database: str, settings: Mapping[str, Any], *,
                   secrets: Mapping[str, str] | None = None, log: logging.Logger | None = None) -> str | None:
    """None: RMAN has no header check that is quick, Data Pump none at all (``HEADER_CHECK`` is False)."""
    return None


def data_source_settings(host: str) -> dict[str, str]:
    """No keys: the tools reach the database through ORACLE_SID, on the DB host."""
    return {}


def _env(settings: Mapping[str, Any]) -> dict[str, str]:
    return tool_env(settings, {"ORACLE_SID": sid(settings)})


def _oracle_home(settings: Mapping[str, Any]) -> str | None:
    return settings["env"].get("ORACLE_HOME") or os.environ.get("ORACLE_HOME")


def tool_user(settings: Mapping[str, Any]) -> ToolUser:
    """The software owner: ``os_user``, else the owner of ``ORACLE_HOME`` (``env`` or this process's);
    ``oraenv`` (ORACLE_HOME/bin's, else /usr/local/bin's) sourced for ORACLE_SID first, where there is one.
    Unknown: the user running cnxbackup, in its own environment."""
    home = _oracle_home(settings)
    name: str | None
    if settings["os_user"]:
        name, source = str(settings["os_user"]), "database.os_user"
    else:
        name, source = (owner_of(home) if home else None), "the owner of ORACLE_HOME %s" % home
    if name is None:
        return ToolUser(None, "no database.os_user and no ORACLE_HOME: the caller's own")
    for oraenv in ([os.path.join(home, "bin", "oraenv")] if home else []) + ["/usr/local/bin/oraenv"]:
        if os.path.isfile(oraenv):
            return ToolUser(name, source, ORAENV_SCRIPT, [sid(settings), oraenv])
    return ToolUser(name, source)


def _switch(settings: Mapping[str, Any]) -> list[str]:
    """The words that run a tool as the software owner (none on a DB host: the shim carries them)."""
    return list(settings["switch"]) if settings["switch"] is not None else switch_prefix(tool_user(settings))


def authority_problems(settings: Mapping[str, Any], backup_dir: str, databases: Sequence[str], *,
                       secrets: Mapping[str, str] | None = None, log: logging.Logger | None = None) -> list[str]:
    """Before the outage, with the tool that will run, as its user: Data Pump ``expdp`` of one schema
    with ESTIMATE_ONLY=YES NOLOGFILE=YES (connects and estimates, writes nothing); RMAN ``rman target /``
    (connects as SYSDBA, runs nothing). ``/ as sysdba`` needs the OSDBA group (ORA-01031 otherwise)."""
    who = tool_user(settings).name or "the user running cnxbackup"
    if method(settings) == "rman":
        run, display = _run_rman(settings, "", log)
        ok = run.rc == 0 and RMAN_STACK_MARK not in run.output
        found = _rman_error(run.output)
    else:
        schema = (targets(databases, settings)[0].schemas or [sid(settings)])[0]
        parameters = [("schemas", schema), ("estimate_only", "YES"), ("nologfile", "YES")]
        run, display = _run_datapump("expdp", settings, secrets, parameters, log)
        ok = run.rc == RC_OK and DP_SUCCESS_RE.search(run.output) is not None
        found = "; ".join(errors(run.output)) or tail(run.output, 2) or "rc %s" % run.rc
    if ok:
        return []
    if NO_PRIVILEGE in run.output and settings["auth"] == "os":
        return ["database: %s cannot connect / as sysdba (%s: ORA-01031 insufficient privileges): add it to the "
                "OSDBA group (usermod -aG dba %s) or set database.os_user to the Oracle software owner"
                % (who, display, who)]
    if NO_PRIVILEGE in run.output:
        return ["database: %s as %s: ORA-01031 insufficient privileges for database.user %s: grant it "
                "DATAPUMP_EXP_FULL_DATABASE (or use auth: os)" % (display, who, settings["user"])]
    return ["database: %s as %s failed: %s" % (display, who, found)]


def errors(output: str) -> list[str]:
    return [line.strip() for line in ERROR_LINE_RE.findall(output)
            if not line.startswith(("RMAN-00571", "RMAN-00569"))]


@contextlib.contextmanager
def private_dir() -> Iterator[str]:
    """A 0700 temp dir for cmdfiles/parfiles, always removed."""
    path = tempfile.mkdtemp(prefix="cnxbackup-ora-")
    try:
        os.chmod(path, 0o700)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _hand_over(settings: Mapping[str, Any], paths: Sequence[str]) -> None:
    """Give a private folder and its file to the user the tool switches to (it must read them)."""
    user = tool_user(settings)
    if settings["switch"] is not None or not needs_switch(user):
        return
    entry = pwd.getpwnam(str(user.name))
    for path in paths:
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _write_private(directory: str, name: str, text: str) -> str:
    path = os.path.join(directory, name)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    return path


# --------------------------------------------------------------------------- RMAN


def rman_backup_script(settings: Mapping[str, Any], backup_dir: str, tag: str) -> str:
    piece = os.path.join(backup_dir, "%d_%T_%U.bkp")
    if settings["online"]:  # needs ARCHIVELOG mode; the database stays open
        return ("BACKUP AS COMPRESSED BACKUPSET DATABASE PLUS ARCHIVELOG FORMAT '%s' TAG '%s';\n"
                "BACKUP CURRENT CONTROLFILE FORMAT '%s' TAG '%s';\n"
                % (piece, tag, os.path.join(backup_dir, "%d_%T_ctl_%U.bkp"), tag))
    # consistent (cold) backup: the database is mounted, not open, while it runs
    return ("SHUTDOWN IMMEDIATE;\nSTARTUP MOUNT;\n"
            "BACKUP AS COMPRESSED BACKUPSET DATABASE FORMAT '%s' TAG '%s';\n"
            "BACKUP CURRENT CONTROLFILE FORMAT '%s' TAG '%s';\nALTER DATABASE OPEN;\n"
            % (piece, tag, os.path.join(backup_dir, "%d_%T_ctl_%U.bkp"), tag))


def rman_restore_script(settings: Mapping[str, Any], online: bool) -> str:
    return ("SHUTDOWN IMMEDIATE;\nSTARTUP MOUNT;\nRESTORE DATABASE;\nRECOVER DATABASE%s;\nALTER DATABASE OPEN;\n"
            % ("" if online else " NOREDO"))


def _run_rman(settings: Mapping[str, Any], script: str, log: logging.Logger | None) -> tuple[ToolRun, str]:
    with private_dir() as directory:
        cmdfile = _write_private(directory, "cnxbackup.rcv", script)
        _hand_over(settings, [directory, cmdfile])
        argv = tool_command(settings, "rman") + ["target", "/", "cmdfile=%s" % cmdfile]
        run = run_tool(_switch(settings) + argv, _env(settings), settings["timeout"], log)
    return run, command_text(argv)


def _rman_error(output: str) -> str:
    found = errors(output[output.find(RMAN_STACK_MARK):] if RMAN_STACK_MARK in output else output)
    return "; ".join(found) or "rman failed"


def rman_tag(stamp: str) -> str:
    """The tag of the RMAN backup taken at ``stamp``: it names the backup when prune forgets it."""
    return "CNX%s" % stamp


def _rman_backup(target: DbTarget, settings: Mapping[str, Any], backup_dir: str, dry_run: bool,
                 log: logging.Logger | None) -> DbBackupResult:
    stamp = now_stamp()
    tag = rman_tag(stamp)
    script = rman_backup_script(settings, backup_dir, tag)
    display = shlex.join(tool_command(settings, "rman") + ["target", "/", "cmdfile=<generated>"])
    if dry_run:
        return dry_run_result(target, backup_dir, "%s with:\n%s" % (display, script), log)
    started = time.monotonic()
    run, display = _run_rman(settings, script, log)
    seconds = time.monotonic() - started
    ok = run.rc == 0 and RMAN_STACK_MARK not in run.output and "Finished backup at" in run.output
    if not ok:
        error = _rman_error(run.output)
        if not settings["online"] and "ALTER DATABASE OPEN" not in run.output.split(RMAN_STACK_MARK)[0]:
            reopen, _ = _run_rman(settings, "STARTUP;\n" if "shut down" in run.output and
                                  "database mounted" not in run.output else "ALTER DATABASE OPEN;\n", log)
            if reopen.rc != 0:
                error += "; the database could not be reopened, open it by hand: %s" % _rman_error(reopen.output)
        return failed_result(target, backup_dir, display, error, run.output, seconds)
    pieces = re.findall(r"piece handle=(\S+)", run.output)
    return DbBackupResult(VENDOR, target.name, pieces, stamp, backup_dir, display, tail(run.output), "ok", None,
                          seconds, online=bool(settings["online"]))


# --------------------------------------------------------------------------- Data Pump


def _userid(settings: Mapping[str, Any], secrets: Mapping[str, str] | None, placeholder: bool = False) -> tuple[str, list[str]]:
    if settings["auth"] == "os":
        return '"/ as sysdba"', []
    user = settings["user"]
    if not user:
        raise DbError("oracle: auth 'password' needs 'user'")
    if placeholder:
        return "%s/${%s}" % (user, script_password_env(settings)), []
    password = lookup_password(settings, secrets)
    if not password:
        raise DbError("oracle: no password: set secrets['db_password'] or the env var named by password_env (%s)"
                      % settings["password_env"])
    return "%s/%s" % (user, password), [password]


def parfile_text(userid: str, parameters: Sequence[tuple[str, str]]) -> str:
    return "userid=%s\n" % userid + "".join("%s=%s\n" % item for item in parameters)


def export_parameters(target: DbTarget, settings: Mapping[str, Any], stamp: str) -> list[tuple[str, str]]:
    label = target.name.lower()
    return [("schemas", ",".join(target.schemas or [target.name])),
            ("directory", str(_oracle(settings)["directory"])),
            ("dumpfile", "cnx_%s_%s_%%U.dmp" % (label, stamp)),
            ("logfile", "cnx_%s_%s.log" % (label, stamp))]


def import_parameters(target: DbTarget, settings: Mapping[str, Any], dumpfiles: Sequence[str],
                      stamp: str) -> list[tuple[str, str]]:
    return [("schemas", ",".join(target.schemas or [target.name])),
            ("directory", str(_oracle(settings)["directory"])),
            ("dumpfile", ",".join(os.path.basename(name) for name in dumpfiles)),
            ("logfile", "imp_%s_%s.log" % (target.name.lower(), stamp)),
            ("table_exists_action", "replace")]


def _run_datapump(tool: str, settings: Mapping[str, Any], secrets: Mapping[str, str] | None,
                  parameters: Sequence[tuple[str, str]], log: logging.Logger | None) -> tuple[ToolRun, str]:
    userid, values = _userid(settings, secrets)
    with private_dir() as directory:
        parfile = _write_private(directory, "%s.par" % tool, parfile_text(userid, parameters))
        _hand_over(settings, [directory, parfile])
        argv = tool_command(settings, tool) + ["parfile=%s" % parfile]
        run = run_tool(_switch(settings) + argv, _env(settings), settings["timeout"], log, secret_values=values)
    return run, command_text(argv)


def _datapump_backup(target: DbTarget, settings: Mapping[str, Any], dry_run: bool,
                     secrets: Mapping[str, str] | None, log: logging.Logger | None) -> DbBackupResult:
    stamp = now_stamp()
    parameters = export_parameters(target, settings, stamp)
    location = str(_oracle(settings)["directory_path"] or "DIRECTORY " + parameters[1][1])
    display = "%s parfile=<%s>" % (shlex.join(tool_command(settings, "expdp")),
                                   " ".join("%s=%s" % item for item in parameters))
    if dry_run:
        _userid(settings, secrets, placeholder=True)
        return dry_run_result(target, location, display, log)
    started = time.monotonic()
    run, _ = _run_datapump("expdp", settings, secrets, parameters, log)
    seconds = time.monotonic() - started
    listing = DP_FILES_RE.search(run.output)
    files = [line.strip() for line in (listing.group(1).splitlines() if listing else []) if line.strip()]
    if run.rc == RC_OK and DP_SUCCESS_RE.search(run.output):
        warnings: list[str] = []
    elif run.rc == RC_WARNING_DP and DP_WARN_RE.search(run.output):
        warnings = ["expdp completed with errors (rc 5): %s" % "; ".join(errors(run.output))]
    else:
        error = "; ".join(errors(run.output)) or "expdp exited with rc %s" % run.rc
        return failed_result(target, location, display, error, run.output, seconds)
    return DbBackupResult(VENDOR, target.name, files, stamp, location, display, tail(run.output), "ok", None,
                          seconds, warnings)


# --------------------------------------------------------------------------- hook interface


def backup(target: DbTarget, settings: Mapping[str, Any], backup_dir: str, *, dry_run: bool = False,
           secrets: Mapping[str, str] | None = None, log: logging.Logger | None = None) -> DbBackupResult:
    if method(settings) == "rman":
        return _rman_backup(target, settings, backup_dir, dry_run, log)
    return _datapump_backup(target, settings, dry_run, secrets, log)


def verify(result_or_image: DbBackupResult | str, settings: Mapping[str, Any], *, dry_run: bool = False,
           secrets: Mapping[str, str] | None = None, log: logging.Logger | None = None) -> tuple[bool | None, str]:
    """RMAN: ``RESTORE DATABASE VALIDATE`` reads the pieces. Data Pump: no verifier (None)."""
    if method(settings) != "rman":
        return None, "not verified: Oracle Data Pump dump files have no offline verifier (test with impdp sqlfile=)"
    if dry_run:
        return True, "dry run: would run RESTORE DATABASE VALIDATE"
    run, _ = _run_rman(settings, "RESTORE DATABASE VALIDATE;\n", log)
    if run.rc == 0 and RMAN_STACK_MARK not in run.output and "Finished restore at" in run.output:
        return True, "RMAN RESTORE DATABASE VALIDATE: backup pieces readable"
    return False, _rman_error(run.output)


def delete_backup_tag(settings: Mapping[str, Any], tag: str, log: logging.Logger | None = None) -> str:
    """RMAN ``DELETE NOPROMPT BACKUP TAG``: the pieces of one backup and their repository records,
    nothing else (Backup and Recovery Reference, DELETE: the database mounted or open)."""
    run, _ = _run_rman(settings, "DELETE NOPROMPT BACKUP TAG '%s';\n" % tag, log)
    if run.rc != 0 or RMAN_STACK_MARK in run.output:
        raise DbError("RMAN DELETE NOPROMPT BACKUP TAG %s failed: %s" % (tag, _rman_error(run.output)))
    if "does not match any backup" in run.output:
        return "RMAN backup %s: already gone (no backup with that tag in the repository)" % tag
    count = re.search(r"Deleted (\d+) objects", run.output)
    return "RMAN backup %s: deleted (%s objects)" % (tag, count.group(1) if count else "?")


def image_pattern(name: str, settings: Mapping[str, Any]) -> str | None:
    """None: RMAN keeps its pieces in its own repository (removed through it, by tag), and Data Pump
    writes into the database's own directory object, not into ``backup_dir``."""
    return None


def forget_backup(source: DbBackupResult, settings: Mapping[str, Any], *, dry_run: bool = False,
                  log: logging.Logger | None = None) -> str | None:
    """RMAN: the backup's pieces and their repository records go by its tag (``DELETE NOPROMPT BACKUP
    TAG``), never one cnxbackup did not write (DbError). Data Pump: None, the dump files are plain
    files the caller removes."""
    if method(settings) != "rman":
        return None
    tag = rman_tag(str(source.timestamp))
    if source.timestamp is None or not RMAN_TAG.fullmatch(tag):
        raise DbError("the set's RMAN tag %r is not one cnxbackup writes" % tag)
    if dry_run:
        return "RMAN backup %s: would be deleted (DELETE NOPROMPT BACKUP TAG)" % tag
    return delete_backup_tag(settings, tag, log)


def restore_commands(target: DbTarget, settings: Mapping[str, Any], source: DbBackupResult | str, *,
                     backup_dir: str | None = None) -> list[str]:
    """Lines for RESTORE.md. The password appears only as ${PASSWORD_ENV} inside a 0600 parfile."""
    if method(settings) == "rman":
        online = bool(source.online) if isinstance(source, DbBackupResult) else bool(settings["online"])
        return ["export ORACLE_SID=%s" % shlex.quote(sid(settings)),
                "%s target / <<'EOF'\n%sEOF" % (shlex.join(tool_command(settings, "rman")),
                                               rman_restore_script(settings, online))]
    images = source.images if isinstance(source, DbBackupResult) else [source]
    stamp = source.timestamp if isinstance(source, DbBackupResult) else now_stamp()
    userid, _ = _userid(settings, None, placeholder=True)
    text = parfile_text(userid, import_parameters(target, settings, images, str(stamp)))
    return ["export ORACLE_SID=%s" % shlex.quote(sid(settings)),
            "umask 077; PARDIR=$(mktemp -d); trap 'rm -rf \"$PARDIR\"' EXIT",
            "cat > \"$PARDIR/impdp.par\" <<EOF\n%sEOF" % text,
            "%s parfile=\"$PARDIR/impdp.par\"" % shlex.join(tool_command(settings, "impdp"))]


def restore(target: DbTarget, settings: Mapping[str, Any], source: DbBackupResult | str, *,
            backup_dir: str | None = None, dry_run: bool = False, secrets: Mapping[str, str] | None = None,
            log: logging.Logger | None = None) -> DbBackupResult:
    """RMAN: restore + recover the whole database (every schema in it!). Data Pump: impdp the schemas."""
    stamp = now_stamp()
    if method(settings) == "rman":
        online = bool(source.online) if isinstance(source, DbBackupResult) else bool(settings["online"])
        script = rman_restore_script(settings, online)
        if dry_run:
            return dry_run_result(target, backup_dir or "", "rman target / with:\n" + script, log)
        started = time.monotonic()
        run, display = _run_rman(settings, script, log)
        if run.rc != 0 or RMAN_STACK_MARK in run.output or "Finished restore at" not in run.output:
            return failed_result(target, backup_dir or "", display, _rman_error(run.output), run.output,
                                 time.monotonic() - started)
        return DbBackupResult(VENDOR, target.name, [], None, backup_dir or "", display, tail(run.output), "ok",
                              None, time.monotonic() - started)
    images = source.images if isinstance(source, DbBackupResult) else [source]
    parameters = import_parameters(target, settings, images, stamp)
    display = "impdp parfile=<%s>" % " ".join("%s=%s" % item for item in parameters)
    if dry_run:
        return dry_run_result(target, parameters[1][1], display, log)
    started = time.monotonic()
    run, _ = _run_datapump("impdp", settings, secrets, parameters, log)
    ok = (run.rc == RC_OK and DP_SUCCESS_RE.search(run.output)) or (run.rc == RC_WARNING_DP and
                                                                    DP_WARN_RE.search(run.output))
    if not ok:
        return failed_result(target, parameters[1][1], display, "; ".join(errors(run.output)) or "rc %s" % run.rc,
                             run.output, time.monotonic() - started)
    warnings = ["impdp completed with errors (rc 5): %s" % "; ".join(errors(run.output))] if run.rc else []
    return DbBackupResult(VENDOR, target.name, list(images), None, parameters[1][1], display, tail(run.output),
                          "ok", None, time.monotonic() - started, warnings)


def render_backup_script(targets_: Sequence[DbTarget], settings: Mapping[str, Any], backup_dir: str) -> str:
    jobs = [{"name": target.name, "parameters": export_parameters(target, settings, "${STAMP}")}
            for target in targets_]
    userid, _ = _userid(settings, None, placeholder=True)
    return render_template("oracle_backup.sh.j2", method=method(settings), sid=sid(settings), jobs=jobs,
                           userid=userid, rman_script=rman_backup_script(settings, backup_dir, rman_tag("${STAMP}")),
                           rman=shlex.join(tool_command(settings, "rman")),
                           expdp=shlex.join(tool_command(settings, "expdp")),
                           env=settings["env"], backup_dir=backup_dir)


def render_restore_script(results: Sequence[DbBackupResult], settings: Mapping[str, Any]) -> str:
    steps = [(result.name, restore_commands(DbTarget(VENDOR, result.name, _schemas_of(result, settings)),
                                            settings, result))
             for result in results if result.ok]
    return render_template("oracle_restore.sh.j2", steps=steps, env=settings["env"],
                           method=method(settings))


def _schemas_of(result: DbBackupResult, settings: Mapping[str, Any]) -> list[str]:
    if result.name.upper() == sid(settings).upper():
        return [name.upper() for name in (_oracle(settings)["schemas"] or [])]
    return [result.name]
