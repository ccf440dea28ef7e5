"""Database hooks (driver/cnxbackup/databases) against the fake vendor tools in driver/cnxbackup/demo/fakes."""

from __future__ import annotations

import os
import re
import subprocess
import time

import pytest

from cnxbackup.databases import (  # noqa: E402
    DbTarget,
    DbTimeout,
    backup_all,
    db2,
    mssql,
    oracle,
    run_settings,
    run_tool,
    targets_from_settings,
)
from cnxbackup.databases.defaults import default_databases  # noqa: E402
from cnxbackup.demo import fakedb  # noqa: E402
from dbkit import PASSWORD, logged, make


def test_default_databases_follow_the_release_history():
    assert "XCC" not in default_databases("db2", "6.0 CR2", False)
    assert "XCC" in default_databases("db2", "6.0.0.0_CR3", False)
    six_five = default_databases("mssql", "6.5", False)
    assert "XCC" in six_five and "ESSAPPS" not in six_five
    eight = default_databases("db2", "8.0 CR14", True)
    assert eight[-2:] == ["FNGCD", "FNOS"] and "ESSAPPS" in eight and len(eight) == 16
    ora = default_databases("oracle", "7.0", False)
    assert "OAUSER" in ora and "ESSUSER" in ora and "OPNACT" not in ora
    with pytest.raises(ValueError):
        default_databases("postgres", "8.0", False)


def test_db2_backup_parses_timestamp_and_verifies_real_images(tmp_path):
    env, settings, backup_dir = make(tmp_path, "db2", ["FILES", "BLOGS"])
    results = backup_all(db2.targets(["FILES", "BLOGS"]), settings, backup_dir)
    for result in results:
        assert result.status == "ok", result.error
        assert re.fullmatch(r"\d{14}", result.timestamp)
        assert result.images == [os.path.join(backup_dir, "%s.0.%s.DBPART000.%s.001"  # the instance: its owner's name
                                              % (result.name, env["DB2INSTANCE"], result.timestamp))]
        assert os.path.getsize(result.images[0]) > 64 * 1024
    assert [entry["argv"][:4] for entry in logged(env, "db2")] == [
        ["backup", "database", "FILES", "to"], ["backup", "database", "BLOGS", "to"]]
    assert len(logged(env, "db2ckbkp")) == 2


def test_db2_in_use_deactivates_only_that_database_then_succeeds(tmp_path):
    env, settings, backup_dir = make(tmp_path, "db2", ["FILES", "BLOGS"], in_use=["BLOGS"])
    files, blogs = backup_all(db2.targets(["FILES", "BLOGS"]), settings, backup_dir)
    assert files.status == "ok" and not files.warnings
    assert blogs.status == "ok" and "SQL1035N" in blogs.warnings[0]
    argvs = [" ".join(entry["argv"]) for entry in logged(env, "db2")]
    assert "deactivate database BLOGS" in argvs
    assert not any("force" in argv for argv in argvs)
    assert not any(argv.startswith("deactivate database FILES") for argv in argvs)
    assert fakedb.read_state(env).get("forced_all") is None


def test_db2_force_applications_only_when_configured(tmp_path):
    env, settings, backup_dir = make(tmp_path, "db2", ["BLOGS"], {"force_applications": True}, in_use=["BLOGS"])
    (result,) = backup_all(db2.targets(["BLOGS"]), settings, backup_dir)
    assert result.status == "ok"
    assert fakedb.read_state(env)["forced_all"] == 1


@pytest.mark.parametrize("failure, message", [("disk_full", "SQL2419N"), ("no_permission", "SQL2036N"),
                                              ("missing", "SQL1013N")])
def test_db2_failures_report_the_tool_message(tmp_path, failure, message):
    env, settings, backup_dir = make(tmp_path, "db2", ["FILES", "WIKIS"], **{failure: ["WIKIS"]})
    files, wikis = backup_all(db2.targets(["FILES", "WIKIS"]), settings, backup_dir, concurrency=2)
    assert files.status == "ok"
    assert wikis.status == "failed" and wikis.error.startswith(message) and message in wikis.output_tail
    assert wikis.images == [] and not [name for name in os.listdir(backup_dir) if name.startswith("WIKIS")]


def test_db2_online_without_archive_logging_fails_with_sql2413n(tmp_path):
    env, settings, backup_dir = make(tmp_path, "db2", ["FILES", "WIKIS"], {"online": True}, recoverable=["FILES"])
    files, wikis = backup_all(db2.targets(["FILES", "WIKIS"]), settings, backup_dir)
    assert files.status == "ok" and files.online
    assert "include logs" in files.command
    assert wikis.status == "failed" and wikis.error.startswith("SQL2413N")


def test_progress_callback_counts_every_target(tmp_path):
    env, settings, backup_dir = make(tmp_path, "db2", ["FILES", "BLOGS", "WIKIS"], missing=["WIKIS"])
    seen = []
    backup_all(db2.targets(["FILES", "BLOGS", "WIKIS"]), settings, backup_dir, concurrency=3,
               progress=lambda done, total, name: seen.append((done, total, name)))
    assert sorted(done for done, _, _ in seen) == [1, 2, 3]
    assert {name for _, _, name in seen} == {"FILES", "BLOGS", "WIKIS"} and {total for _, total, _ in seen} == {3}


@pytest.mark.parametrize("vendor, databases, extra", [
    ("db2", ["FILES"], {}),
    ("mssql", ["FILES"], {"auth": "password", "user": "cnxbackup"}),
    ("oracle", ["OAUSER"], {"oracle": {"method": "datapump", "directory": "DP_DIR"}}),
    ("oracle", ["OAUSER"], {"oracle": {"method": "rman"}}),
])
def test_dry_run_runs_nothing(tmp_path, vendor, databases, extra):
    env, settings, backup_dir = make(tmp_path, vendor, databases, extra)
    targets = targets_from_settings(dict(settings, databases=databases), "8.0", False)
    results = backup_all(targets, settings, backup_dir, dry_run=True, secrets={"db_password": PASSWORD})
    assert all(result.dry_run and result.status == "ok" and result.command for result in results)
    module = {"db2": db2, "mssql": mssql, "oracle": oracle}[vendor]
    module.restore(targets[0], settings, "20240730170709" if vendor != "oracle" else "x.dmp",
                   backup_dir=backup_dir, dry_run=True, secrets={"db_password": PASSWORD})
    assert logged(env) == []
    assert os.listdir(backup_dir) == []


def test_verify_detects_a_corrupted_db2_image(tmp_path):
    env, settings, backup_dir = make(tmp_path, "db2", ["FILES"])
    (result,) = backup_all(db2.targets(["FILES"]), settings, backup_dir)
    assert db2.verify(result, settings) == (True, "db2ckbkp: Image Verification Complete - successful.")
    with open(result.images[0], "r+b") as handle:
        handle.seek(-100, os.SEEK_END)
        handle.write(b"\0" * 50)
    ok, message = db2.verify(result, settings)
    assert ok is False and "checksum" in message
    os.truncate(result.images[0], 1000)
    ok, message = db2.verify(result.images[0], settings)
    assert ok is False and "truncated" in message


def test_db2_restore_uses_the_backup_timestamp(tmp_path):
    env, settings, backup_dir = make(tmp_path, "db2", ["FILES"], in_use=["FILES"])
    (result,) = backup_all(db2.targets(["FILES"]), settings, backup_dir)
    lines = db2.restore_commands(DbTarget("db2", "FILES"), settings, result.images[0])
    assert any(line.endswith("restore database FILES from %s taken at %s replace existing without prompting"
                             % (backup_dir, result.timestamp)) for line in lines)
    assert db2.render_restore_script([result], settings).count("taken at %s" % result.timestamp) == 1
    fakedb.set_database(env, "FILES", in_use=True)  # WAS reconnected meanwhile
    restored = db2.restore(DbTarget("db2", "FILES"), settings, result.images[0])
    assert restored.status == "ok", restored.error
    written_at = fakedb.check_image(result.images[0])[2]["timestamp"]  # the image's own timestamp
    assert fakedb.read_state(env)["databases"]["FILES"]["restored_from"] == written_at == result.timestamp
    missing = db2.restore(DbTarget("db2", "FILES"), settings, "20010101000000", backup_dir=backup_dir)
    assert missing.status == "failed" and missing.error.startswith("SQL2542N")


def test_db2_generated_backup_script_really_works(tmp_path):
    env, settings, backup_dir = make(tmp_path, "db2", ["FILES", "BLOGS"], in_use=["BLOGS"])
    script = db2.render_backup_script(db2.targets(["FILES", "BLOGS"]), settings, backup_dir)
    path = tmp_path / "backup.sh"
    path.write_text(script)
    run = subprocess.run(["sh", str(path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    stamps = open(os.path.join(backup_dir, "db2-backup-timestamps.txt")).read().split()
    assert stamps[0::2] == ["FILES", "BLOGS"] and all(re.fullmatch(r"\d{14}", stamp) for stamp in stamps[1::2])
    assert "deactivate database BLOGS" in [" ".join(entry["argv"]) for entry in logged(env, "db2")]

MSSQL = {"server": r"sqlhost\CNX", "auth": "password", "user": "cnxbackup", "password_env": "CNX_DB_PASSWORD"}


def test_mssql_backup_with_password_never_puts_it_in_argv(tmp_path):
    env, settings, backup_dir = make(tmp_path, "mssql", ["FILES", "HOMEPAGE"], MSSQL, sql_password=PASSWORD)
    results = backup_all(mssql.targets(["FILES", "HOMEPAGE"]), settings, backup_dir,
                         secrets={"db_password": PASSWORD}, concurrency=2)
    for result in results:
        assert result.status == "ok", result.error
        assert result.images == [os.path.join(backup_dir, "%s_%s.bak" % (result.name, result.timestamp))]
        assert os.path.isfile(result.images[0])
        assert PASSWORD not in result.command
    entries = logged(env, "sqlcmd")
    assert len(entries) == 4  # BACKUP + VERIFYONLY per database
    assert all("-P" not in entry["argv"] and not entry["secret_in_argv"] for entry in entries)
    assert all("SQLCMDPASSWORD" in entry["env_used"] for entry in entries)
    assert PASSWORD not in open(env["FAKEDB_LOG"]).read()
    assert any("VERIFYONLY" in " ".join(entry["argv"]) for entry in entries)


def test_mssql_wrong_password_fails_login(tmp_path):
    env, settings, backup_dir = make(tmp_path, "mssql", ["FILES"], MSSQL, sql_password=PASSWORD)
    (result,) = backup_all(mssql.targets(["FILES"]), settings, backup_dir, secrets={"db_password": "nope"})
    assert result.status == "failed"
    assert "Login failed" in result.output_tail


@pytest.mark.parametrize("failure, message", [("disk_full", "Msg 3202"), ("no_permission", "Msg 3201"),
                                              ("missing", "Msg 911")])
def test_mssql_failures_report_the_cause_not_msg_3013(tmp_path, failure, message):
    env, settings, backup_dir = make(tmp_path, "mssql", ["FILES"], {"auth": "os"}, **{failure: ["FILES"]})
    (result,) = backup_all(mssql.targets(["FILES"]), settings, backup_dir)
    assert result.status == "failed" and result.error.startswith(message)
    assert "Msg 3013" in result.error  # generic line kept, but last
    assert os.listdir(backup_dir) == []  # partial .bak removed


def test_mssql_express_retries_without_compression(tmp_path):
    env, settings, backup_dir = make(tmp_path, "mssql", ["FILES"], {"auth": "os"}, edition="Express")
    (result,) = backup_all(mssql.targets(["FILES"]), settings, backup_dir)
    assert result.status == "ok" and "COMPRESSION" in result.warnings[0]
    assert "COMPRESSION" not in result.command.replace("NO_COMPRESSION", "")


@pytest.mark.parametrize("edition, compressed", [("Express", False), ("Web", False), ("Standard", True),
                                                 ("Enterprise", True), ("Developer", True)])
def test_mssql_edition_is_read_once_and_compression_asked_only_where_it_exists(tmp_path, edition, compressed):
    env, settings, backup_dir = make(tmp_path, "mssql", ["FILES", "HOMEPAGE"], {"auth": "os"}, edition=edition)
    settings = run_settings(settings, {}, None)
    results = backup_all(mssql.targets(["FILES", "HOMEPAGE"]), settings, backup_dir)
    assert all(r.status == "ok" and not r.warnings for r in results), [r.warnings for r in results]
    statements = [e["argv"][e["argv"].index("-Q") + 1] for e in logged(env, "sqlcmd")]
    assert statements.count("SELECT @@VERSION") == 1
    backups = [s for s in statements if s.startswith("BACKUP DATABASE")]
    assert len(backups) == 2 and all((", COMPRESSION," in s) == compressed for s in backups), backups


def test_oracle_datapump_per_schema_with_private_parfile(tmp_path):
    dump_dir = tmp_path / "dp"
    dump_dir.mkdir()
    options = {"auth": "password", "user": "system", "password_env": "CNX_DB_PASSWORD",
               "oracle": {"method": "datapump", "directory": "DP_DIR", "directory_path": str(dump_dir)}}
    env, settings, backup_dir = make(tmp_path, "oracle", ["OAUSER", "BLOGSUSER"], options,
                                     directories={"DP_DIR": str(dump_dir)}, oracle_password=PASSWORD,
                                     disk_full=["BLOGSUSER"])
    targets = targets_from_settings(dict(settings, databases=["OAUSER", "BLOGSUSER", "NOPEUSER"]), "8.0", False)
    oa, blogs, nope = backup_all(targets, settings, backup_dir, secrets={"db_password": PASSWORD}, concurrency=3)
    assert oa.status == "ok" and oa.images[0].startswith(str(dump_dir)) and os.path.isfile(oa.images[0])
    assert blogs.status == "failed" and "ORA-27072" in blogs.error
    assert nope.status == "failed" and "ORA-39170" in nope.error
    entries = logged(env, "expdp")
    assert all(entry["parfile_mode"] == "600" and not entry["secret_in_argv"] for entry in entries)
    assert all(not os.path.exists(entry["argv"][0].split("=", 1)[1]) for entry in entries)  # parfile removed
    assert PASSWORD not in open(env["FAKEDB_LOG"]).read()
    assert oracle.verify(oa, settings)[0] is None
    restored = oracle.restore(targets[0], settings, oa, secrets={"db_password": PASSWORD})
    assert restored.status == "ok", restored.error
    assert PASSWORD not in oracle.render_restore_script([oa], settings)


def test_oracle_rman_cold_backup_reopens_database(tmp_path):
    rman_dir = tmp_path / "backup"
    env, settings, backup_dir = make(tmp_path, "oracle", [], {"oracle": {"method": "rman", "sid": "LSCONN"}})
    targets = targets_from_settings(dict(settings, databases=["OAUSER"]), "8.0", False)
    (result,) = backup_all(targets, settings, backup_dir)
    assert result.status == "ok", result.error
    assert len(result.images) >= 2 and all(os.path.dirname(path) == str(rman_dir) for path in result.images)
    assert fakedb.read_state(env)["open_mode"] == "OPEN"
    assert oracle.verify(result, settings)[0] is True
    entry = logged(env, "rman")[0]
    assert "SHUTDOWN IMMEDIATE" in entry["cmdfile_text"] and not os.path.exists(entry["argv"][-1].split("=")[1])
    restored = oracle.restore(targets[0], settings, result)
    assert restored.status == "ok", restored.error


def test_oracle_rman_failure_reports_stack_and_reopens(tmp_path):
    env, settings, backup_dir = make(tmp_path, "oracle", [], {"oracle": {"method": "rman"}}, disk_full=["LSCONN"])
    (result,) = backup_all(oracle.targets([], settings), settings, backup_dir)
    assert result.status == "failed" and "ORA-19502" in result.error and "RMAN-03009" in result.error
    assert fakedb.read_state(env)["open_mode"] == "OPEN"


def test_run_tool_kills_on_timeout_and_masks_secrets():
    started = time.monotonic()
    with pytest.raises(DbTimeout):
        run_tool(["sh", "-c", "sleep 20; echo never"], timeout=0.5)
    assert time.monotonic() - started < 5
    run = run_tool(["sh", "-c", "echo pw=%s" % PASSWORD, "-P", PASSWORD], secret_values=[PASSWORD])
    assert PASSWORD not in run.command and PASSWORD not in run.stdout and run.rc == 0


def test_fakes_refuse_to_run_without_state(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "FAKEDB_STATE"}
    run = subprocess.run([fakedb.tool_path("db2"), "list", "db", "directory"], env=env, capture_output=True,
                         text=True)
    assert run.returncode != 0 and "FAKEDB_STATE" in run.stderr
