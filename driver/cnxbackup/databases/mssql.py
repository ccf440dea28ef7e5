"""SQL Server hook: ``sqlcmd`` BACKUP DATABASE / RESTORE VERIFYONLY / RESTORE DATABASE (connections.md §3.2).

Settings used: command.sqlcmd, server, auth ('os' -> -E, 'password' -> -U user with the password in
SQLCMDPASSWORD, never -P), user, password_env, timeout, env, verify_after_backup.
The .bak path is written by the SQL Server service account on the server, not by us.
"""
from __future__ import annotations

import logging
import ntpath
import os
import posixpath
import re
import shlex
import time
from typing import Any, Mapping, Sequence

from cnxbackup.databases.base import (
    DbBackupResult,
    DbError,
    DbTarget,
    RestoreSource,
    ToolRun,
    command_text,
    configured_tools,
    dry_run_result,
    failed_result,
    image_or_timestamp,
    lookup_password,
    now_stamp,
    render_template,
    run_tool,
    script_password_env,
    tail,
    tool_command,
    tool_env,
)
from cnxbackup.databases.runas import ToolUser, switch_prefix
from cnxbackup.render import dquote

VENDOR = "mssql"
RESTORE_USER = ("run where sqlcmd reaches the server, as a login with sysadmin or dbcreator rights; the .bak is "
                "read by the SQL Server service account")
IMAGES_WRITTEN_BY_TOOL_USER = False  # the SQL Server service account writes the .bak
HEADER_CHECK = True  # RESTORE HEADERONLY
JDBC_DRIVER_PREFIX = "com.microsoft.sqlserver."
DEFAULT_PORT = 1433
MSG_RE = re.compile(r"^Msg (\d+), Level (\d+), State \d+[^\n]*\n([^\n]*)", re.MULTILINE)
BACKUP_OPTIONS = ["COPY_ONLY", "COMPRESSION", "CHECKSUM", "INIT", "STATS = 10"]
COMPRESSION_REFUSED = 1844  # "BACKUP DATABASE WITH COMPRESSION is not supported on <edition> Edition"
GENERIC_TERMINATING = 3013  # "... is terminating abnormally." follows the real cause


def targets(names: Sequence[str], settings: Mapping[str, Any] | None = None) -> list[DbTarget]:
    return [DbTarget(VENDOR, name) for name in names]


def backup_tools(settings: Mapping[str, Any]) -> list[str]:
    return configured_tools(settings, ["sqlcmd"])


def data_source_settings(host: str) -> dict[str, str]:
    """``server``: sqlcmd reaches the server over the network, where the data sources do."""
    return {"server": host}


def errors(output: str) -> list[tuple[int, str]]:
    """(number, text) of every error (severity > 10), the real cause first, the generic 3013 last."""
    found = [(int(number), text.strip()) for number, level, text in MSG_RE.findall(output) if int(level) > 10]
    return sorted(found, key=lambda item: item[0] == GENERIC_TERMINATING)


def error_text(output: str) -> str | None:
    found = errors(output)
    if not found:
        return None
    return "; ".join("Msg %d: %s" % item for item in found)


def server_path(directory: str, name: str) -> str:
    """Join with the server's separator: Windows paths (``D:\\`` or ``\\\\host``) use backslashes."""
    windows = bool(re.match(r"^[A-Za-z]:[\\/]|^\\\\", directory)) or "\\" in directory
    return (ntpath if windows else posixpath).join(directory, name)


def sql_literal(text: str) -> str:
    return "N'%s'" % text.replace("'", "''")


def sql_name(name: str) -> str:
    return "[%s]" % name.replace("]", "]]")


def backup_statement(name: str, path: str, compression: bool = True) -> str:
    options = [option for option in BACKUP_OPTIONS if compression or option != "COMPRESSION"]
    return "BACKUP DATABASE %s TO DISK = %s WITH %s" % (sql_name(name), sql_literal(path), ", ".join(options))


def verify_statement(path: str) -> str:
    return "RESTORE VERIFYONLY FROM DISK = %s WITH CHECKSUM" % sql_literal(path)


def restore_statements(name: str, path: str) -> list[str]:
    return ["ALTER DATABASE %s SET SINGLE_USER WITH ROLLBACK IMMEDIATE" % sql_name(name),
            "RESTORE DATABASE %s FROM DISK = %s WITH REPLACE, RECOVERY, STATS = 10" % (sql_name(name),
                                                                                       sql_literal(path)),
            "ALTER DATABASE %s SET MULTI_USER" % sql_name(name)]


def _auth(settings: Mapping[str, Any], secrets: Mapping[str, str] | None,
          need_password: bool = True) -> tuple[list[str], dict[str, str], list[str]]:
    """(argv words, env, secret values). Password goes to SQLCMDPASSWORD only."""
    if settings["auth"] == "os":
        return ["-E"], {}, []
    user = settings["user"]
    if not user:
        raise DbError("mssql: auth 'password' needs 'user'")
    password = lookup_password(settings, secrets)
    if password is None and need_password:
        raise DbError("mssql: no password: set secrets['db_password'] or the env var named by password_env (%s)"
                      % settings["password_env"])
    return ["-U", str(user)], ({"SQLCMDPASSWORD": password} if password else {}), [password] if password else []


def sqlcmd_argv(settings: Mapping[str, Any], auth_words: list[str], statement: str,
                output: Sequence[str] = ()) -> list[str]:
    server = settings["server"]
    return tool_command(settings, "sqlcmd") + ["-S", str(server), "-b"] + auth_words + list(output) + ["-Q", statement]


def tool_user(settings: Mapping[str, Any]) -> ToolUser:
    """``os_user`` when set (sqlcmd has no profile to source), else the user running cnxbackup."""
    if settings["os_user"]:
        return ToolUser(str(settings["os_user"]), "database.os_user")
    return ToolUser(None, "no database.os_user: the caller's own")


def authority_problems(settings: Mapping[str, Any], backup_dir: str, databases: Sequence[str], *,
                       secrets: Mapping[str, str] | None = None, log: logging.Logger | None = None) -> list[str]:
    """None checked here: the server's own account writes the images, and a login without the right
    is named by the backup itself (Msg 262)."""
    return []


def _switch(settings: Mapping[str, Any]) -> list[str]:
    return list(settings["switch"]) if settings["switch"] is not None else switch_prefix(tool_user(settings))


def _run(settings: Mapping[str, Any], secrets: Mapping[str, str] | None, statement: str,
         log: logging.Logger | None, output: Sequence[str] = ()) -> ToolRun:
    words, env, values = _auth(settings, secrets)
    return run_tool(_switch(settings) + sqlcmd_argv(settings, words, statement, output), tool_env(settings, env),
                    settings["timeout"], log, secret_values=values)


# Backup compression exists in the Enterprise, Standard and Developer editions only (Microsoft,
# "Backup compression (SQL Server)", https://learn.microsoft.com/en-us/sql/relational-databases/
# backup-restore/backup-compression-sql-server); Express and Web refuse it with Msg 1844.
COMPRESSING_EDITIONS = ("Enterprise", "Standard", "Developer")
EDITION_RE = re.compile(r"\b(Enterprise|Standard|Developer|Express|Web|Evaluation)\b[^\n]*?Edition")


def read_edition(settings: Mapping[str, Any], secrets: Mapping[str, str] | None = None,
                 log: logging.Logger | None = None) -> str | None:
    """The edition named by ``SELECT @@VERSION`` (e.g. "Express"), None when it cannot be read."""
    run = _run(settings, secrets, "SELECT @@VERSION", log)
    match = EDITION_RE.search(run.output) if run.rc == 0 else None
    return match.group(1) if match else None


def with_edition(settings: Mapping[str, Any], edition: str | None) -> dict[str, Any]:
    """The settings for every backup of this run: COMPRESSION only where the edition has it
    (unknown edition: tried, and retried without it if refused)."""
    return {**settings, "compression": edition is None or edition in COMPRESSING_EDITIONS}


def prepare_settings(settings: Mapping[str, Any], secrets: Mapping[str, str] | None,
                     log: logging.Logger | None) -> dict[str, Any]:
    """The edition, read once per run, so that COMPRESSION is asked only where it exists."""
    edition = read_edition(settings, secrets, log)
    if log is not None:
        log.info("SQL Server edition: %s; backups %s COMPRESSION", edition or "not read",
                 "with" if edition is None or edition in COMPRESSING_EDITIONS else "without")
    return with_edition(settings, edition)


def _ok(run: ToolRun, success_text: str) -> bool:
    return run.rc == 0 and not errors(run.output) and success_text in run.output


def backup(target: DbTarget, settings: Mapping[str, Any], backup_dir: str, *, dry_run: bool = False,
           secrets: Mapping[str, str] | None = None, log: logging.Logger | None = None) -> DbBackupResult:
    """BACKUP DATABASE ... COPY_ONLY (does not disturb the log chain), retry without COMPRESSION if refused."""
    stamp = now_stamp()
    path = server_path(backup_dir, "%s_%s.bak" % (target.name, stamp))
    statement = backup_statement(target.name, path, compression=settings.get("compression") is not False)
    words, _, _ = _auth(settings, secrets, need_password=not dry_run)
    display = command_text(sqlcmd_argv(settings, words, statement))
    if dry_run:
        return dry_run_result(target, backup_dir, display, log)
    started = time.monotonic()
    warnings: list[str] = []
    run = _run(settings, secrets, statement, log)
    if not _ok(run, "BACKUP DATABASE successfully processed") and \
            any(number == COMPRESSION_REFUSED for number, _ in errors(run.output)):
        warnings.append("backup compression refused by this SQL Server edition; retried without COMPRESSION")
        statement = backup_statement(target.name, path, compression=False)
        display = command_text(sqlcmd_argv(settings, words, statement))
        run = _run(settings, secrets, statement, log)
    seconds = time.monotonic() - started
    if not _ok(run, "BACKUP DATABASE successfully processed"):
        if os.path.isfile(path):  # a partial .bak would look like a backup later
            os.unlink(path)
        error = error_text(run.output) or "sqlcmd exited with rc %s without a success line" % run.rc
        return failed_result(target, backup_dir, display, error, run.output, seconds)
    result = DbBackupResult(VENDOR, target.name, [path], stamp, backup_dir, display, tail(run.output), "ok", None,
                            seconds, warnings)
    if settings["verify_after_backup"]:
        ok, message = verify(result, settings, secrets=secrets, log=log)
        if not ok:
            result.status, result.error = "failed", "RESTORE VERIFYONLY failed: %s" % message
    return result


def verify(result_or_image: DbBackupResult | str, settings: Mapping[str, Any], *, dry_run: bool = False,
           secrets: Mapping[str, str] | None = None, log: logging.Logger | None = None) -> tuple[bool | None, str]:
    """RESTORE VERIFYONLY ... WITH CHECKSUM on each .bak; (ok, message)."""
    images = [result_or_image] if isinstance(result_or_image, str) else list(result_or_image.images)
    if not images:
        return False, "no backup file to verify"
    messages = []
    for image in images:
        if dry_run:
            messages.append("dry run: would run %s" % verify_statement(image))
            continue
        run = _run(settings, secrets, verify_statement(image), log)
        if not _ok(run, "The backup set on file 1 is valid."):
            return False, "%s: %s" % (image, error_text(run.output) or "rc %s" % run.rc)
        messages.append("%s: The backup set on file 1 is valid." % image)
    return True, "; ".join(messages)


# sqlcmd output of a result set as "|"-separated columns without padding (-s, -W), so that a
# column is found by its name in the header line whatever the release adds at the end
TABLE_OUTPUT = ("-W", "-s", "|")
FULL_DATABASE_BACKUP = "1"  # RESTORE HEADERONLY's BackupType: 1 database, 2 log, 5 differential


def header_rows(output: str) -> list[dict[str, str]]:
    """The rows of a ``-W -s "|"`` result set: header line, dashes line, rows until a blank line."""
    lines = output.splitlines()
    for index, line in enumerate(lines[:-1]):
        names = line.split("|")
        if "DatabaseName" in names and set(lines[index + 1].replace("|", "")) == {"-"}:
            rows = []
            for row in lines[index + 2:]:
                if not row.strip():
                    break
                values = row.split("|")
                if len(values) == len(names):
                    rows.append(dict(zip(names, values)))
            return rows
    return []


def header_problem(image: str, database: str, settings: Mapping[str, Any], *,
                   secrets: Mapping[str, str] | None = None, log: logging.Logger | None = None) -> str | None:
    """``RESTORE HEADERONLY``: the backup set's header (no data read), quick enough to run on every
    image before a restore stops anything. None when it reads as a full backup of ``database``;
    else what is wrong. Column names per Microsoft's "RESTORE HEADERONLY (Transact-SQL)"; a
    result set this code cannot read is not held against an image whose SHA-256 matched."""
    statement = "RESTORE HEADERONLY FROM DISK = %s" % sql_literal(image)
    run = _run(settings, secrets, statement, log, TABLE_OUTPUT)
    if run.rc != 0 or errors(run.output):
        return "RESTORE HEADERONLY: %s" % (error_text(run.output) or "sqlcmd exited with rc %s" % run.rc)
    rows = header_rows(run.output)
    if not rows:
        if log is not None:
            log.warning("RESTORE HEADERONLY of %s: no result set this version can read; header not checked", image)
        return None
    row = rows[0]
    if row.get("DatabaseName", "").upper() != database.upper():
        return "RESTORE HEADERONLY: the image holds a backup of database %s, not %s" % (row.get("DatabaseName"),
                                                                                        database)
    if row.get("BackupType") != FULL_DATABASE_BACKUP:
        return "RESTORE HEADERONLY: BackupType %s is not a full database backup" % row.get("BackupType")
    return None


def image_pattern(name: str, settings: Mapping[str, Any]) -> str | None:
    """``NAME_TIMESTAMP.bak``, as ``backup`` names the file SQL Server writes."""
    return re.escape(name) + r"_[0-9]{14}\.bak"


def forget_backup(source: DbBackupResult, settings: Mapping[str, Any], *, dry_run: bool = False,
                  log: logging.Logger | None = None) -> str | None:
    """None: the .bak files are plain files the caller removes (msdb's backup history is the DBA's)."""
    return None


def _image(source: str, backup_dir: str | None, name: str) -> str:
    if re.fullmatch(r"\d{14}", source):
        if not backup_dir:
            raise ValueError("restoring by timestamp needs backup_dir")
        return server_path(backup_dir, "%s_%s.bak" % (name, source))
    return source


def restore_commands(target: DbTarget, settings: Mapping[str, Any], source: RestoreSource, *,
                     backup_dir: str | None = None) -> list[str]:
    """Shell lines for RESTORE.md; the password is a placeholder env var, never the value."""
    image = _image(image_or_timestamp(source), backup_dir, target.name)
    if settings["auth"] == "os":
        prefix, words = "", ["-E"]
    else:
        variable = script_password_env(settings)
        prefix, words = 'SQLCMDPASSWORD="${%s}" ' % variable, ["-U", str(settings["user"])]
    base = tool_command(settings, "sqlcmd") + ["-S", str(settings["server"]), "-b"]
    return ["%s%s -Q %s" % (prefix, shlex.join(base + words), dquote(statement))
            for statement in restore_statements(target.name, image)]


def restore(target: DbTarget, settings: Mapping[str, Any], source: RestoreSource, *, backup_dir: str | None = None,
            dry_run: bool = False, secrets: Mapping[str, str] | None = None,
            log: logging.Logger | None = None) -> DbBackupResult:
    """SINGLE_USER WITH ROLLBACK IMMEDIATE; RESTORE ... WITH REPLACE, RECOVERY; always back to MULTI_USER."""
    image = _image(image_or_timestamp(source), backup_dir, target.name)
    single, restore_sql, multi = restore_statements(target.name, image)
    words, _, _ = _auth(settings, secrets, need_password=not dry_run)
    display = command_text(sqlcmd_argv(settings, words, restore_sql))
    location = os.path.dirname(image)
    if dry_run:
        return dry_run_result(target, location, display, log)
    started = time.monotonic()
    first = _run(settings, secrets, single, log)  # fails harmlessly when the database was dropped
    run = _run(settings, secrets, restore_sql, log)
    last = _run(settings, secrets, multi, log)
    output = "\n".join([first.output, run.output, last.output])
    if not (run.rc == 0 and not errors(run.output)):
        return failed_result(target, location, display, error_text(run.output) or "rc %s" % run.rc, output,
                             time.monotonic() - started)
    stamp = re.search(r"_(\d{14})\.bak$", image)
    return DbBackupResult(VENDOR, target.name, [image], stamp.group(1) if stamp else None, location, display,
                          tail(output), "ok", None, time.monotonic() - started)


def _auth_context(settings: Mapping[str, Any]) -> dict[str, Any]:
    variable = script_password_env(settings)
    return {"auth": settings["auth"], "user": settings["user"], "password_env": variable,
            "password_ref": "${%s}" % variable, "password_ref_check": "${%s:?set %s}" % (variable, variable),
            "server": settings["server"],
            "sqlcmd": shlex.join(tool_command(settings, "sqlcmd")), "env": settings["env"]}


def render_backup_script(targets_: Sequence[DbTarget], settings: Mapping[str, Any], backup_dir: str) -> str:
    jobs = []
    for target in targets_:
        path = server_path(backup_dir, "%s_${STAMP}.bak" % target.name)
        jobs.append({"name": target.name, "backup": backup_statement(target.name, path),
                     "backup_plain": backup_statement(target.name, path, compression=False),
                     "verify": verify_statement(path)})
    return render_template("mssql_backup.sh.j2", jobs=jobs, backup_dir=backup_dir, **_auth_context(settings))


def render_restore_script(results: Sequence[DbBackupResult], settings: Mapping[str, Any]) -> str:
    steps = [(result.name, restore_commands(DbTarget(VENDOR, result.name), settings, result.images[0]))
             for result in results if result.ok and result.images]
    return render_template("mssql_restore.sh.j2", steps=steps, **_auth_context(settings))
