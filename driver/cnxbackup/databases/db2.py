"""DB2 LUW hook: ``db2 backup database``/``restore database`` and ``db2ckbkp`` (connections.md §3.1).

Settings used: command.db2, command.db2ckbkp, online, force_applications, timeout, env
(must provide DB2INSTANCE unless the caller's environment does), verify_after_backup, os_user and
instance_home (who runs the tools, with ``sqllib/db2profile``: :mod:`.runas`).
"""
from __future__ import annotations

import glob
import logging
import os
import re
import shlex
import time
from typing import Any, Mapping, Sequence

from cnxbackup.databases.base import (
    DbBackupResult,
    DbTarget,
    RestoreSource,
    ToolRun,
    command_text,
    configured_tools,
    dry_run_result,
    failed_result,
    image_or_timestamp,
    render_template,
    run_tool,
    settings_unchanged,
    tail,
    tool_command,
    tool_env,
)
from cnxbackup.databases.runas import (
    ToolUser,
    current_user,
    groups_of,
    home_of,
    needs_switch,
    owner_of,
    switch_prefix,
)

VENDOR = "db2"
RESTORE_USER = ("run as the DB2 instance owner on the DB host, with the instance's environment; as root: "
                "runuser -u db2inst1 -- /bin/sh -c '. \"$1\"/sqllib/db2profile && shift && exec \"$@\"' sh /home/db2inst1 "
                "db2 ...; never su -, whose login shell prints into the output and drops the environment")
IMAGES_WRITTEN_BY_TOOL_USER = True  # the CLP's backup writes as the instance owner, who runs it
HEADER_CHECK = True  # db2ckbkp -H
JDBC_DRIVER_PREFIX = "com.ibm.db2."
DEFAULT_PORT = 50000
TIMESTAMP_RE = re.compile(r"Backup successful\. The timestamp for this backup image is : (\d{14})")
MESSAGE_RE = re.compile(r"^((?:SQL|DB2|DB21)\d{3,5}[NCEW])\s", re.MULTILINE)
IN_USE = "SQL1035N"
NO_AUTHORITY = "SQL1092N"
PROFILE_SCRIPT = '. "$1"/sqllib/db2profile && shift && exec "$@"'
AUTHORITY_GROUPS = ("SYSADM_GROUP", "SYSCTRL_GROUP", "SYSMAINT_GROUP")
CFG_GROUP_RE = re.compile(r"\((SYSADM_GROUP|SYSCTRL_GROUP|SYSMAINT_GROUP)\)[ \t]*=[ \t]*(\S*)")
RC_OK, RC_WARNING = 0, 2


def targets(names: Sequence[str], settings: Mapping[str, Any] | None = None) -> list[DbTarget]:
    return [DbTarget(VENDOR, name.upper()) for name in names]


def backup_tools(settings: Mapping[str, Any]) -> list[str]:
    """``db2``, and ``db2ckbkp`` when each image is verified right after its backup."""
    return configured_tools(settings, ["db2"] + (["db2ckbkp"] if settings["verify_after_backup"] else []))


prepare_settings = settings_unchanged  # nothing is read from the server before a run


def data_source_settings(host: str) -> dict[str, str]:
    """No keys: the CLP reaches the database through its instance, on the DB host."""
    return {}


def first_error(output: str) -> str | None:
    """The first SQLxxxxN/C (or DBxxxxxE) message paragraph, joined onto one line."""
    for match in MESSAGE_RE.finditer(output):
        if match.group(1)[-1] in "NCE":
            paragraph = output[match.start():].split("\n\n")[0]
            return " ".join(paragraph.split())
    return None


def _db2(settings: Mapping[str, Any]) -> list[str]:
    return tool_command(settings, "db2")


def _path_word(path: str) -> str:
    """A path as one CLP token; CLP reparses its argv, so paths with blanks need inner quotes."""
    return '"%s"' % path if re.search(r"\s", path) else path


def backup_argv(name: str, settings: Mapping[str, Any], backup_dir: str) -> list[str]:
    online = bool(settings["online"])
    return (_db2(settings) + ["backup", "database", name] + (["online"] if online else [])
            + ["to", _path_word(backup_dir), "compress"] + (["include", "logs"] if online else []))


def _sqllib_owner(settings: Mapping[str, Any]) -> str | None:
    """The owner of the instance's ``sqllib`` (``instance_home``'s, else the one ``command.db2`` is in)."""
    if settings["instance_home"]:
        return owner_of(os.path.join(settings["instance_home"], "sqllib"))
    command = _db2(settings)[0]
    marker = os.sep + "sqllib" + os.sep
    return owner_of(command[:command.index(marker) + len(marker) - 1]) if marker in command else None


def tool_user(settings: Mapping[str, Any]) -> ToolUser:
    """The instance owner: ``os_user``, else ``env.DB2INSTANCE`` (on Linux an instance is named after
    its owner), else the owner of its ``sqllib``; with ``INSTHOME/sqllib/db2profile`` sourced first.
    Unknown: the user running cnxbackup, in its own environment."""
    name: str | None
    if settings["os_user"]:
        name, source = str(settings["os_user"]), "database.os_user"
    elif settings["env"].get("DB2INSTANCE"):
        name, source = settings["env"]["DB2INSTANCE"], "database.env.DB2INSTANCE"
    else:
        name, source = _sqllib_owner(settings), "the owner of the instance's sqllib"
    if name is None:
        return ToolUser(None, "no database.os_user, database.env.DB2INSTANCE or instance_home: the caller's own")
    home = settings["instance_home"] or home_of(name)
    if home and os.path.isfile(os.path.join(home, "sqllib", "db2profile")):
        return ToolUser(name, source, PROFILE_SCRIPT, [home])
    if name == current_user() or home is None:  # its own environment; an unknown user shows in the gate
        return ToolUser(name, source)
    return ToolUser(name, source, PROFILE_SCRIPT, [home])  # a missing profile shows in the gate's check


def _switch(settings: Mapping[str, Any]) -> list[str]:
    """The words that run a tool as the instance owner (none on a DB host: the shim carries them)."""
    return list(settings["switch"]) if settings["switch"] is not None else switch_prefix(tool_user(settings))


def _run(argv: list[str], settings: Mapping[str, Any], log: logging.Logger | None) -> ToolRun:
    return run_tool(_switch(settings) + argv, tool_env(settings), settings["timeout"], log)


def authority_groups(cfg_output: str, owner_primary_group: str | None) -> dict[str, str | None]:
    """SYSADM_GROUP, SYSCTRL_GROUP, SYSMAINT_GROUP from ``db2 get dbm cfg`` (upper case); a NULL
    SYSADM_GROUP is the instance owner's primary group (IBM's rule), the other two NULL are nobody."""
    found: dict[str, str | None] = {key: None for key in AUTHORITY_GROUPS}
    for key, value in CFG_GROUP_RE.findall(cfg_output):
        found[key] = value.upper() if value and value.upper() != "NULL" else None
    if found["SYSADM_GROUP"] is None and owner_primary_group:
        found["SYSADM_GROUP"] = owner_primary_group.upper()
    return found


def groups_where_tools_run(user: str, settings: Mapping[str, Any], log: logging.Logger | None) -> list[str]:
    """``user``'s groups, primary first, on the host where the tools run: here from the group
    database, on a DB host from ``id -Gn USER`` run there through the same shim as the tools."""
    if settings["switch"] is None:
        return groups_of(user)
    run = _run(["id", "-Gn", user], settings, log)
    return run.output.split() if run.rc == RC_OK else []


def authority_problems(settings: Mapping[str, Any], backup_dir: str, databases: Sequence[str], *,
                       secrets: Mapping[str, str] | None = None, log: logging.Logger | None = None) -> list[str]:
    """Before the outage: the instance owner's environment works (``db2 get dbm cfg``, which needs no
    authority), the user is in SYSADM_GROUP, SYSCTRL_GROUP or SYSMAINT_GROUP (``db2 backup`` needs
    one), and ``backup_dir`` is a folder that user can write (the images are written as it)."""
    user = tool_user(settings)
    who = user.name or "the user running cnxbackup"
    run = _run(_db2(settings) + ["get", "dbm", "cfg"], settings, log)
    if run.rc not in (RC_OK, RC_WARNING) or not CFG_GROUP_RE.search(run.output):
        return ["database: `db2 get dbm cfg` as %s failed (rc %s: %s): the instance's environment "
                "(sqllib/db2profile) is not reached; set database.os_user to the instance owner and "
                "database.instance_home to the home holding sqllib" % (who, run.rc, tail(run.output, 2) or "no output")]
    problems = []
    instance = settings["env"].get("DB2INSTANCE")
    if settings["switch"] is None:
        owner = (instance if instance and home_of(instance) else None) or _sqllib_owner(settings) or user.name
    else:  # on the DB host: its accounts are not this host's
        owner = instance or user.name
    owner_groups = groups_where_tools_run(owner, settings, log) if owner else []
    wanted = authority_groups(run.output, owner_groups[0] if owner_groups else None)
    if user.name is not None:
        have = {group.upper() for group in groups_where_tools_run(user.name, settings, log)}
        if not have & {group for group in wanted.values() if group}:
            listed = ", ".join("%s=%s" % (key, value or "NULL") for key, value in wanted.items())
            problems.append("database: %s has none of SYSADM, SYSCTRL or SYSMAINT authority, which db2 backup needs "
                            "(%s; %s is in %s): add it to one of those groups (usermod -aG GROUP %s) or set "
                            "database.os_user to the instance owner"
                            % (user.name, listed, user.name, ", ".join(sorted(have)) or "no group", user.name))
    if settings["switch"] is not None or not needs_switch(user):  # else the gate checks it as this user
        return problems
    probe = _run(["test", "-d", backup_dir, "-a", "-w", backup_dir], settings, log)
    if probe.rc != 0:
        problems.append("database.backup_dir: %s is not a folder %s can write (db2 backup writes the images as "
                        "that user): install -d -o %s %s" % (backup_dir, who, user.name, backup_dir))
    return problems


def _free_database(name: str, settings: Mapping[str, Any], log: logging.Logger | None) -> tuple[bool, str]:
    """Make an in-use database usable for an offline operation: deactivate only it, or force all if allowed."""
    if settings["force_applications"]:
        run = _run(_db2(settings) + ["force", "applications", "all"], settings, log)
        what = "db2 force applications all (instance-wide)"
    else:
        run = _run(_db2(settings) + ["deactivate", "database", name], settings, log)
        what = "db2 deactivate database %s" % name
    if run.rc not in (RC_OK, RC_WARNING):
        return False, "%s failed: %s" % (what, first_error(run.output) or tail(run.output, 3))
    return True, what


def backup(target: DbTarget, settings: Mapping[str, Any], backup_dir: str, *, dry_run: bool = False,
           secrets: Mapping[str, str] | None = None, log: logging.Logger | None = None) -> DbBackupResult:
    """Back up one database; on SQL1035N free it (deactivate that database only) and retry once."""
    argv = backup_argv(target.name, settings, backup_dir)
    display = command_text(argv)
    online = bool(settings["online"])
    if dry_run:
        return dry_run_result(target, backup_dir, display, log)
    started = time.monotonic()
    warnings: list[str] = []
    run = _run(argv, settings, log)
    freed = False
    if run.rc != RC_OK and IN_USE in run.output and not online:
        freed, what = _free_database(target.name, settings, log)
        if not freed:
            return failed_result(target, backup_dir, display, what, run.output, time.monotonic() - started)
        warnings.append("%s was in use (SQL1035N); ran %s and retried" % (target.name, what))
        run = _run(argv, settings, log)
    seconds = time.monotonic() - started
    match = TIMESTAMP_RE.search(run.output)
    if run.rc not in (RC_OK, RC_WARNING) or not match:
        error = first_error(run.output) or "db2 exited with rc %s and no backup timestamp" % run.rc
        return failed_result(target, backup_dir, display, error, run.output, seconds)
    if freed:  # leave the database as we found it: activated
        _run(_db2(settings) + ["activate", "database", target.name], settings, log)
    stamp = match.group(1)
    result = DbBackupResult(VENDOR, target.name, image_paths(target.name, backup_dir, stamp, settings), stamp,
                            backup_dir, display, tail(run.output), "ok", None, seconds, warnings, online)
    if settings["verify_after_backup"]:
        ok, message = verify(result, settings, log=log)
        if ok is False:
            result.status, result.error = "failed", "image verification failed: %s" % message
    return result


def image_paths(name: str, backup_dir: str, stamp: str, settings: Mapping[str, Any]) -> list[str]:
    """Image files of a backup: found on disk when local, else the documented name."""
    found = sorted(glob.glob(os.path.join(glob.escape(backup_dir), "%s.0.*%s*" % (name, stamp))))
    if found:
        return found
    instance = settings["env"].get("DB2INSTANCE") or os.environ.get("DB2INSTANCE", "db2inst1")
    return [os.path.join(backup_dir, "%s.0.%s.DBPART000.%s.001" % (name, instance, stamp))]


def verify(result_or_image: DbBackupResult | str, settings: Mapping[str, Any], *, dry_run: bool = False,
           secrets: Mapping[str, str] | None = None, log: logging.Logger | None = None) -> tuple[bool | None, str]:
    """Run ``db2ckbkp`` on the image(s); (ok, message)."""
    images = [result_or_image] if isinstance(result_or_image, str) else list(result_or_image.images)
    if not images:
        return False, "no image to verify"
    argv = tool_command(settings, "db2ckbkp") + images
    if dry_run:
        return True, "dry run: would run %s" % command_text(argv)
    run = _run(argv, settings, log)
    if run.rc == 0 and "Image Verification Complete - successful." in run.output:
        return True, "db2ckbkp: Image Verification Complete - successful."
    problems = [line.strip() for line in run.output.splitlines() if "ERROR" in line]
    return False, "db2ckbkp rc %s: %s" % (run.rc, "; ".join(problems) or tail(run.output, 3))


def header_problem(image: str, database: str, settings: Mapping[str, Any], *,
                   secrets: Mapping[str, str] | None = None, log: logging.Logger | None = None) -> str | None:
    """``db2ckbkp -H IMAGE``: the media header only (4 KiB, no validation) -- quick enough to run on
    every image before a restore stops anything. None when it reads, else the tool's complaint."""
    run = _run(tool_command(settings, "db2ckbkp") + ["-H", image], settings, log)
    if run.rc == 0 and "MEDIA HEADER REACHED" in run.output:
        return None
    problems = [line.strip() for line in run.output.splitlines() if "ERROR" in line]
    return "db2ckbkp -H rc %s: %s" % (run.rc, "; ".join(problems) or tail(run.output, 3))


def image_pattern(name: str, settings: Mapping[str, Any]) -> str | None:
    """``ALIAS.0.INSTANCE.DBPART000.TIMESTAMP.001``: a full database backup's image, as db2 names it."""
    return re.escape(name.upper()) + r"\.0\.[A-Za-z0-9_]{1,64}\.DBPART[0-9]{3}\.[0-9]{14}\.[0-9]{3}"


def forget_backup(source: DbBackupResult, settings: Mapping[str, Any], *, dry_run: bool = False,
                  log: logging.Logger | None = None) -> str | None:
    """None: the images are plain files the caller removes. The recovery history is never pruned
    here (``PRUNE HISTORY`` would prune the DBA's own entries too)."""
    return None


def _source(source: str, backup_dir: str | None) -> tuple[str, str]:
    """(directory, timestamp) from an image path or a 14-digit timestamp plus ``backup_dir``."""
    if re.fullmatch(r"\d{14}", source):
        if not backup_dir:
            raise ValueError("restoring by timestamp needs backup_dir")
        return backup_dir, source
    match = re.search(r"\.(\d{14})\.\d{3}$", os.path.basename(source))
    if not match:
        raise ValueError("%s is not a DB2 backup image name (ALIAS.0.INSTANCE.DBPART000.TIMESTAMP.001)" % source)
    return os.path.dirname(source) or ".", match.group(1)


def restore_argvs(target: DbTarget, settings: Mapping[str, Any], source: RestoreSource,
                  backup_dir: str | None = None, online: bool | None = None) -> list[list[str]]:
    directory, stamp = _source(image_or_timestamp(source), backup_dir)
    db2 = _db2(settings)
    online = bool(settings["online"]) if online is None else online
    argvs = [db2 + ["deactivate", "database", target.name],
             db2 + ["restore", "database", target.name, "from", _path_word(directory), "taken", "at", stamp,
                    "replace", "existing", "without", "prompting"]]
    if online:
        argvs.append(db2 + ["rollforward", "database", target.name, "to", "end", "of", "backup", "and",
                            "complete"])
    argvs.append(db2 + ["activate", "database", target.name])
    return argvs


def restore_commands(target: DbTarget, settings: Mapping[str, Any], source: RestoreSource, *,
                     backup_dir: str | None = None, online: bool | None = None) -> list[str]:
    """Exact shell lines for RESTORE.md (DB2 needs no secrets: run as the instance owner)."""
    return [shlex.join(argv) for argv in restore_argvs(target, settings, source, backup_dir, online)]


def restore(target: DbTarget, settings: Mapping[str, Any], source: RestoreSource, *, backup_dir: str | None = None,
            online: bool | None = None, dry_run: bool = False, secrets: Mapping[str, str] | None = None,
            log: logging.Logger | None = None) -> DbBackupResult:
    """Restore one database from an image path or timestamp (deactivate, restore, [rollforward], activate)."""
    argvs = restore_argvs(target, settings, source, backup_dir, online)
    directory, stamp = _source(image_or_timestamp(source), backup_dir)
    display = " && ".join(command_text(argv) for argv in argvs)
    if dry_run:
        return dry_run_result(target, directory, display, log)
    started = time.monotonic()
    outputs = []
    for index, argv in enumerate(argvs):
        run = _run(argv, settings, log)
        outputs.append(run.output)
        is_restore = index == 1
        if is_restore and run.rc != RC_OK and IN_USE in run.output:
            freed, what = _free_database(target.name, settings, log)
            if freed:
                run = _run(argv, settings, log)
                outputs.append(run.output)
        # deactivate/activate may warn (SQL149xW) or, for a dropped database, fail: only the rest counts
        if index in (0, len(argvs) - 1):
            continue
        if run.rc not in (RC_OK, RC_WARNING):
            return failed_result(target, directory, display, first_error(run.output) or "rc %s" % run.rc,
                                 "\n".join(outputs), time.monotonic() - started)
    return DbBackupResult(VENDOR, target.name, [], stamp, directory, display, tail("\n".join(outputs)), "ok", None,
                          time.monotonic() - started)


def render_backup_script(targets_: Sequence[DbTarget], settings: Mapping[str, Any], backup_dir: str) -> str:
    """A shell script an admin can run by hand as the instance owner (same commands, same retry rule)."""
    return render_template("db2_backup.sh.j2", databases=[target.name for target in targets_],
                           backup_dir=backup_dir, online=bool(settings["online"]),
                           force_applications=bool(settings["force_applications"]),
                           env=settings["env"], db2=shlex.join(_db2(settings)),
                           db2ckbkp=shlex.join(tool_command(settings, "db2ckbkp")))


def render_restore_script(results: Sequence[DbBackupResult], settings: Mapping[str, Any]) -> str:
    steps = [(result.name, restore_commands(DbTarget(VENDOR, result.name), settings,
                                            result.images[0] if result.images else str(result.timestamp),
                                            backup_dir=result.location, online=result.online))
             for result in results if result.ok]
    return render_template("db2_restore.sh.j2", steps=steps, env=settings["env"])
