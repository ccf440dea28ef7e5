"""An SQL Server deployment end to end: backup, ``verify --deep`` and restore with a password file,
and the ``RESTORE HEADERONLY`` check that runs on every image before a restore stops anything."""
from __future__ import annotations

import os
import shutil
import textwrap

import pytest

import e2e
from cnxbackup.demo import fakedb, mockcell
from restorekit import stops

PASSWORD = "Sql-Pa55word"
DATABASES = ["FILES", "HOMEPAGE"]


def mssql_section(tmp: str) -> str:
    return textwrap.dedent(f"""\
        database:
          vendor: mssql
          server: 'sqlhost\\CNX'
          auth: password
          user: cnxbackup
          password_file: "{tmp}/db-password"
          backup_dir: "{{demo_root}}/mssql-backups"
          databases: [{", ".join(DATABASES)}]
          command:
            sqlcmd: "{{demo_kit}}/fakes/sqlcmd"
        """)


@pytest.fixture(scope="module")
def mssql_backup(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("mssql"))
    password_file = os.path.join(base, "db-password")
    with open(os.open(password_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
        handle.write(PASSWORD + "\n")
    env_file = e2e.write_env(base, database=mssql_section(base))
    proc = e2e.cli("--plain", "backup", "--env", env_file)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [set_dir] = e2e.sets(os.path.join(base, "backups"))
    return base, env_file, set_dir


def sqlcmd_statements(base: str) -> list:
    entries = fakedb.read_log(e2e.fakedb_env(base))
    return [e["argv"][e["argv"].index("-Q") + 1] for e in entries if e["tool"] == "sqlcmd" and "-Q" in e["argv"]]


def test_the_backup_used_the_password_file_and_never_put_it_on_a_command_line(mssql_backup) -> None:
    base, _env_file, set_dir = mssql_backup
    entries = [e for e in fakedb.read_log(e2e.fakedb_env(base)) if e["tool"] == "sqlcmd"]
    assert entries and all(not e["secret_in_argv"] and "SQLCMDPASSWORD" in e["env_used"] for e in entries)
    assert {db["name"] for db in e2e.manifest(set_dir)["databases"]} == set(DATABASES)


def test_verify_deep_of_an_sql_server_set_with_a_password_file_passes(mssql_backup) -> None:
    base, env_file, set_dir = mssql_backup
    proc = e2e.cli("--plain", "verify", set_dir, "--deep", "--env", env_file)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    verified = [s for s in sqlcmd_statements(base) if s.startswith("RESTORE VERIFYONLY")]
    assert len(verified) >= 2 * len(DATABASES)  # after each backup, and again by verify --deep


def test_an_image_of_another_database_is_refused_by_restore_headeronly_before_the_stop(mssql_backup, tmp_path) -> None:
    """HOMEPAGE's .bak replaced by FILES's: its SHA-256 agrees with a re-signed manifest, so only
    the header tells; the restore stops nothing and runs no RESTORE DATABASE."""
    base, env_file, set_dir = mssql_backup
    copy = str(tmp_path / "set")
    shutil.copytree(set_dir, copy, symlinks=True)
    data = e2e.manifest(copy)
    images = {db["name"]: db["images"][0]["path"] for db in data["databases"]}
    forged = str(tmp_path / "HOMEPAGE_forged.bak")
    shutil.copyfile(images["FILES"], forged)
    saved = images["HOMEPAGE"] + ".saved"
    os.rename(images["HOMEPAGE"], saved)
    try:
        shutil.copyfile(forged, images["HOMEPAGE"])
        digest, size = e2e.sha256(forged), os.path.getsize(forged)

        def point_at_forgery(manifest: dict) -> None:
            record = next(db for db in manifest["databases"] if db["name"] == "HOMEPAGE")
            record["images"][0].update(sha256=digest, size=size)

        e2e.reseal(copy, point_at_forgery)
        mock = e2e.mock_env(base)
        before = len(mockcell.read_log(mock))
        statements_before = len(sqlcmd_statements(base))
        proc = e2e.cli("--plain", "restore", copy, "--env", env_file, "--yes")
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "database HOMEPAGE" in proc.stderr and "holds a backup of database FILES, not HOMEPAGE" in proc.stderr
        after = mockcell.read_log(mock)[before:]
        assert stops(after) == []
        ran = sqlcmd_statements(base)[statements_before:]
        assert any(s.startswith("RESTORE HEADERONLY") for s in ran)
        assert not any(s.startswith(("RESTORE DATABASE", "ALTER DATABASE")) for s in ran), ran
    finally:
        os.replace(saved, images["HOMEPAGE"])


def test_a_genuine_sql_server_set_restores_after_the_header_check(mssql_backup) -> None:
    base, env_file, set_dir = mssql_backup
    statements_before = len(sqlcmd_statements(base))
    proc = e2e.cli("--plain", "restore", set_dir, "--env", env_file, "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ran = sqlcmd_statements(base)[statements_before:]
    headers = [i for i, s in enumerate(ran) if s.startswith("RESTORE HEADERONLY")]
    restores = [i for i, s in enumerate(ran) if s.startswith("RESTORE DATABASE")]
    assert len(headers) == len(DATABASES) and len(restores) == len(DATABASES)
    assert max(headers) < min(restores)
