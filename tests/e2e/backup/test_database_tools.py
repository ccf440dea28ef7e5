"""Database hooks (driver/cnxbackup/databases) against the fake vendor tools in driver/cnxbackup/demo/fakes."""

from __future__ import annotations

import json
import os
import time

import pytest

from cnxbackup.databases import (  # noqa: E402
    DbError,
    DbTarget,
    backup_all,
    db2,
    mssql,
    oracle,
    targets_from_settings,
)
from cnxbackup.demo import fakedb  # noqa: E402
from dbkit import PASSWORD, logged, make


def test_concurrency_gives_real_parallelism(tmp_path):
    names = ["OPNACT", "BLOGS", "FILES", "WIKIS"]
    env, settings, backup_dir = make(tmp_path, "db2", names, {"verify_after_backup": False}, delay_seconds=0.5)
    elapsed = {}
    for workers in (1, 4):
        started = time.monotonic()
        results = backup_all(db2.targets(names), settings, backup_dir, concurrency=workers)
        elapsed[workers] = time.monotonic() - started
        assert all(result.status == "ok" for result in results)
    assert elapsed[4] < elapsed[1] * 0.6, elapsed
    assert elapsed[1] >= 4 * 0.5

MSSQL = {"server": r"sqlhost\CNX", "auth": "password", "user": "cnxbackup", "password_env": "CNX_DB_PASSWORD"}


def test_mssql_verify_and_restore(tmp_path):
    env, settings, backup_dir = make(tmp_path, "mssql", ["FILES"], MSSQL, sql_password=PASSWORD,
                                     in_use=["FILES"])
    secrets = {"db_password": PASSWORD}
    (result,) = backup_all(mssql.targets(["FILES"]), settings, backup_dir, secrets=secrets)
    lines = mssql.restore_commands(DbTarget("mssql", "FILES"), settings, result.timestamp, backup_dir=backup_dir)
    assert lines[1].startswith('SQLCMDPASSWORD="${CNX_DB_PASSWORD}" ') and result.images[0] in lines[1]
    script = mssql.render_restore_script([result], settings)
    assert PASSWORD not in script and "-P" not in script.split()
    restored = mssql.restore(DbTarget("mssql", "FILES"), settings, result.images[0], secrets=secrets)
    assert restored.status == "ok", restored.error
    # the server stamps the backup set with its own clock (the file name uses the driver's)
    written_at = fakedb.check_image(result.images[0])[2]["timestamp"]
    assert fakedb.read_state(env)["databases"]["FILES"]["restored_from"] == written_at
    os.truncate(result.images[0], 500)
    ok, message = mssql.verify(result, settings, secrets=secrets)
    assert ok is False and "Msg 3203" in message


def test_oracle_rman_delete_by_tag_removes_only_that_backup(tmp_path):
    env, settings, backup_dir = make(tmp_path, "oracle", [], {"oracle": {"method": "rman", "sid": "LSCONN"}})
    targets = targets_from_settings(dict(settings, databases=["OAUSER"]), "8.0", False)
    (first,) = backup_all(targets, settings, backup_dir)
    time.sleep(1.1)  # the tag is CNX + a timestamp to the second
    (second,) = backup_all(targets, settings, backup_dir)
    assert first.status == second.status == "ok" and first.timestamp != second.timestamp
    line = oracle.delete_backup_tag(settings, "CNX%s" % first.timestamp)
    assert f"deleted ({len(first.images)} objects)" in line
    assert not any(os.path.exists(p) for p in first.images) and all(os.path.exists(p) for p in second.images)
    assert {b["tag"] for b in fakedb.read_state(env)["rman_backups"]} == {"CNX%s" % second.timestamp}
    assert "DELETE NOPROMPT BACKUP TAG 'CNX%s'" % first.timestamp in logged(env, "rman")[-1]["cmdfile_text"]
    assert "already gone" in oracle.delete_backup_tag(settings, "CNX%s" % first.timestamp)
    state = fakedb.read_state(env)
    state["open_mode"] = "SHUTDOWN"  # DELETE needs the database mounted or open: a failure, said so
    with open(env["FAKEDB_STATE"], "w") as handle:
        json.dump(state, handle)
    with pytest.raises(DbError, match="ORA-01034"):
        oracle.delete_backup_tag(settings, "CNX%s" % second.timestamp)
