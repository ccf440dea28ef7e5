"""The vendor hooks behind the database front door: what each vendor says about its tools, its
checks, how its backups are forgotten and who restores them; the one check of a recorded image
(here and on the DB host, with the same answers); the path helpers with their two meanings.

Fast: no demo, no set; the tools that run are small shell scripts written by the test.
"""
from __future__ import annotations

import os
import subprocess
from typing import Any, Dict, List

import pytest

from cnxbackup.archive import hash_file
from cnxbackup.databases import (
    HOOKS,
    DbBackupResult,
    DbError,
    DbTarget,
    data_source_settings,
    image_state_here,
    image_state_on_host,
    images_written_by_tool_user,
    jdbc_vendor,
    mssql,
    oracle,
    restore_runs_as,
    run_settings,
)
from cnxbackup.databases.settings import hook_settings
from cnxbackup.hosts import Host
from cnxbackup.manifest import ImageRecord
from cnxbackup.paths import is_at_or_within, is_plain_path_within

STAMP = "20240102030405"


def _script(tmp_path: Any, name: str, body: str) -> str:
    path = os.path.join(str(tmp_path), name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return path


def _result(vendor: str, timestamp: Any = STAMP) -> DbBackupResult:
    return DbBackupResult(vendor, "LSCONN", ["/b/piece"], timestamp, "/b", "", "", "ok", None, 0.0)


# ----------------------------------------------------------------------------- tools and preflight


@pytest.mark.parametrize("section, tools", [
    ({"vendor": "db2"}, ["db2", "db2ckbkp"]),
    ({"vendor": "db2", "verify_after_backup": False}, ["db2"]),
    ({"vendor": "db2", "command": {"db2": "/home/db2inst1/sqllib/bin/db2", "db2ckbkp": "/opt/ck"}},
     ["/home/db2inst1/sqllib/bin/db2", "/opt/ck"]),
    ({"vendor": "mssql", "command": {"sqlcmd": "/opt/mssql-tools18/bin/sqlcmd"}}, ["/opt/mssql-tools18/bin/sqlcmd"]),
    ({"vendor": "oracle", "oracle": {"method": "rman"}}, ["rman"]),
    ({"vendor": "oracle", "oracle": {"method": "datapump"}}, ["expdp"]),
])
def test_each_vendor_names_the_tools_its_backup_runs_as_configured(section: Dict[str, Any], tools: List[str]) -> None:
    assert HOOKS[section["vendor"]].backup_tools(hook_settings(section)) == tools


def test_only_db2_writes_its_images_as_the_user_that_runs_the_tool() -> None:
    assert {vendor: images_written_by_tool_user(vendor) for vendor in HOOKS} == {
        "db2": True, "mssql": False, "oracle": False}


def test_the_note_on_who_restores_comes_from_the_vendor() -> None:
    assert "DB2 instance owner" in str(restore_runs_as("db2"))
    assert "sysadmin or dbcreator" in str(restore_runs_as("mssql"))
    assert "ORACLE_SID" in str(restore_runs_as("oracle"))
    assert restore_runs_as("none") is None
    with pytest.raises(DbError, match="unknown database vendor"):
        restore_runs_as("informix")


# ----------------------------------------------------------------------------- settings of a run


def test_db2_and_oracle_read_nothing_before_a_run() -> None:
    for vendor in ("db2", "oracle"):
        settings = hook_settings({"vendor": vendor, "command": {"db2": "/nonexistent", "rman": "/nonexistent"}})
        assert run_settings(settings, {}, None) == settings


@pytest.mark.parametrize("banner, compression", [
    ("Microsoft SQL Server 2019 (RTM) - 15.0.2000.5 (X64) Express Edition (64-bit) on Linux", False),
    ("Microsoft SQL Server 2022 (RTM) - 16.0.1000.6 (X64) Standard Edition (64-bit) on Linux", True),
    ("nothing this code can read", True),  # unknown: tried, and retried without it if refused
])
def test_sql_server_reads_its_edition_once_for_the_run(tmp_path: Any, banner: str, compression: bool) -> None:
    log = os.path.join(str(tmp_path), "calls")
    sqlcmd = _script(tmp_path, "sqlcmd", f'echo "$@" >> {log}\necho "{banner}"\n')
    settings = hook_settings({"vendor": "mssql", "command": {"sqlcmd": sqlcmd}})
    prepared = run_settings(settings, {}, None)
    assert prepared["compression"] is compression and "compression" not in settings
    assert open(log, encoding="utf-8").read().count("SELECT @@VERSION") == 1


# ----------------------------------------------------------------------------- header checks


def test_oracle_has_no_quick_header_check_and_says_so() -> None:
    assert {vendor: hooks.HEADER_CHECK for vendor, hooks in HOOKS.items()} == {
        "db2": True, "mssql": True, "oracle": False}
    settings = hook_settings({"vendor": "oracle", "command": {"rman": "/nonexistent"}})
    assert oracle.header_problem("/b/piece", "LSCONN", settings) is None


def test_db2_header_problem_is_db2ckbkp_minus_h_on_the_image(tmp_path: Any) -> None:
    log = os.path.join(str(tmp_path), "calls")
    good = _script(tmp_path, "ck-good", f'echo "$@" > {log}\necho "MEDIA HEADER REACHED"\n')
    bad = _script(tmp_path, "ck-bad", 'echo "ERROR: not a backup image"\nexit 1\n')
    image = "/b/OPNACT.0.db2inst1.DBPART000.%s.001" % STAMP
    assert HOOKS["db2"].header_problem(image, "OPNACT", hook_settings({"vendor": "db2", "command": {"db2ckbkp": good}})) is None
    assert open(log, encoding="utf-8").read().split() == ["-H", image]
    problem = HOOKS["db2"].header_problem(image, "OPNACT", hook_settings({"vendor": "db2", "command": {"db2ckbkp": bad}}))
    assert problem is not None and "not a backup image" in problem


# ----------------------------------------------------------------------------- prune


@pytest.mark.parametrize("section", [{"vendor": "db2"}, {"vendor": "mssql"},
                                     {"vendor": "oracle", "oracle": {"method": "datapump"}}])
def test_vendors_without_a_catalogue_leave_their_plain_files_to_the_caller(section: Dict[str, Any]) -> None:
    settings = hook_settings(section)
    for dry_run in (True, False):
        assert HOOKS[section["vendor"]].forget_backup(_result(section["vendor"]), settings, dry_run=dry_run) is None


def test_an_rman_backup_is_forgotten_by_its_tag(tmp_path: Any) -> None:
    log = os.path.join(str(tmp_path), "cmdfile")
    rman = _script(tmp_path, "rman", f'for a; do case "$a" in cmdfile=*) cat "${{a#cmdfile=}}" > {log};; esac; done\n'
                                     'echo "Deleted 4 objects"\n')
    settings = hook_settings({"vendor": "oracle", "oracle": {"method": "rman"}, "command": {"rman": rman}})
    planned = oracle.forget_backup(_result("oracle"), settings, dry_run=True)
    assert planned is not None and f"CNX{STAMP}" in planned and not os.path.exists(log)
    assert oracle.forget_backup(_result("oracle"), settings) == f"RMAN backup CNX{STAMP}: deleted (4 objects)"
    assert open(log, encoding="utf-8").read() == f"DELETE NOPROMPT BACKUP TAG 'CNX{STAMP}';\n"


@pytest.mark.parametrize("timestamp", [None, "2024-01-02 03:04", "x" * 40, "1'; DELETE NOPROMPT BACKUP;"])
def test_an_rman_tag_cnxbackup_does_not_write_is_refused_before_anything_runs(timestamp: Any) -> None:
    settings = hook_settings({"vendor": "oracle", "oracle": {"method": "rman"}, "command": {"rman": "/nonexistent"}})
    with pytest.raises(DbError, match="is not one cnxbackup writes"):
        oracle.forget_backup(_result("oracle", timestamp), settings, dry_run=True)


# ----------------------------------------------------------------------------- init


def test_init_finds_the_vendor_by_its_jdbc_driver_and_its_default_port() -> None:
    assert jdbc_vendor("com.ibm.db2.jcc.DB2ConnectionPoolDataSource") == "db2"
    assert jdbc_vendor("com.microsoft.sqlserver.jdbc.SQLServerConnectionPoolDataSource") == "mssql"
    assert jdbc_vendor("oracle.jdbc.pool.OracleConnectionPoolDataSource") == "oracle"
    assert jdbc_vendor("org.postgresql.ds.PGConnectionPoolDataSource") is None
    assert data_source_settings("mssql", "sql.example.com", None) == (1433, {"server": "sql.example.com"})
    assert data_source_settings("db2", "db2.example.com", 50001) == (50001, {})
    assert data_source_settings("oracle", "ora.example.com", None) == (1521, {})


# ----------------------------------------------------------------------------- defaults from the schema


def test_the_password_variable_of_generated_commands_is_the_schema_s_default() -> None:
    settings = hook_settings({"vendor": "mssql", "auth": "password", "user": "cnx"})
    assert settings["password_env"] is None  # a default there would shadow password_file and password_prompt
    lines = mssql.restore_commands(DbTarget("mssql", "FILES"), settings, "/b/FILES_%s.bak" % STAMP)
    assert lines[0].startswith('SQLCMDPASSWORD="${CNX_DB_PASSWORD}" ')
    own = hook_settings({"vendor": "mssql", "auth": "password", "user": "cnx", "script_password_env": "SQLPW"})
    assert mssql.restore_commands(DbTarget("mssql", "FILES"), own, "/b/F.bak")[0].startswith('SQLCMDPASSWORD="${SQLPW}" ')
    named = hook_settings({"vendor": "oracle", "auth": "password", "user": "system", "password_env": "ORA_PW"})
    assert "userid=system/${ORA_PW}\n" in "\n".join(oracle.restore_commands(DbTarget("oracle", "OAUSER"), named,
                                                                           "/dp/cnx_oauser_01.dmp"))


# ----------------------------------------------------------------------------- the image check


class ShellHere:
    """A transport whose host is this machine: the remote script runs in sh, as ssh would run it."""

    def run(self, host: Host, remote_command: str, **_: Any) -> "subprocess.CompletedProcess[str]":
        return subprocess.run(["sh", "-c", remote_command], capture_output=True, text=True)


def _image_cases(tmp_path: Any) -> Dict[str, Any]:
    data = os.path.join(str(tmp_path), "IMAGE.001")
    with open(data, "wb") as handle:
        handle.write(b"backup image bytes\n" * 100)
    digest, size = hash_file(data)
    link = os.path.join(str(tmp_path), "LINK.001")
    os.symlink(data, link)
    return {
        "the recorded image": (ImageRecord(data, sha256=digest, size=size), True, None),
        "size only recorded": (ImageRecord(data, sha256=None, size=size), True, None),
        "gone": (ImageRecord(data + ".gone", sha256=digest, size=size), False, "is missing"),
        "a link to it": (ImageRecord(link, sha256=digest, size=size), True, "is not a regular file"),
        "a folder": (ImageRecord(str(tmp_path), sha256=digest, size=size), True, "is not a regular file"),
        "other size": (ImageRecord(data, sha256=digest, size=size + 1), True, f"({size} bytes, the manifest says {size + 1})"),
        "same size, other bytes": (ImageRecord(data, sha256="0" * 64, size=size), True, "(changed or replaced)"),
    }


@pytest.mark.parametrize("case", ["the recorded image", "size only recorded", "gone", "a link to it", "a folder",
                                  "other size", "same size, other bytes"])
def test_an_image_is_checked_alike_here_and_on_its_host(tmp_path: Any, case: str) -> None:
    image, present, problem = _image_cases(tmp_path)[case]
    here = image_state_here(image)
    there = image_state_on_host(ShellHere(), Host("db", "db.example.com"), image)  # type: ignore[arg-type]
    assert here == there, (here, there)
    assert here.present is present
    if problem is None:
        assert here.problem is None
    else:
        assert here.problem is not None and problem in here.problem


# ----------------------------------------------------------------------------- paths: two meanings, two names


def test_at_or_within_counts_the_folder_itself_and_resolves_links_only_when_asked(tmp_path: Any) -> None:
    assert is_at_or_within("/backup/db2/", "/backup/db2") and is_at_or_within("/backup/db2/X.001", "/backup/db2")
    assert not is_at_or_within("/backup/db2x/X.001", "/backup/db2")
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real)
    alias_file = str(tmp_path / "alias" / "X.001")
    assert not is_at_or_within(alias_file, str(real)) and is_at_or_within(alias_file, str(real), resolve_links=True)


def test_a_plain_path_within_is_absolute_without_dot_dot_and_strictly_inside() -> None:
    assert is_plain_path_within("/backup/db2/X.001", "/backup/db2")
    assert not is_plain_path_within("/backup/db2", "/backup/db2")  # the folder itself is never removed
    assert not is_plain_path_within("backup/db2/X.001", "backup/db2")
    assert not is_plain_path_within("/backup/db2/sub/../X.001", "/backup/db2")
    assert not is_plain_path_within("/backup/db2/X.001", "")
