"""The database tools run as their owner, checked before the outage (docs/database-users.md).

A throwaway OS user (one per session, removed afterwards) owns a fake DB2 instance (its home holds
``sqllib/db2profile``, the only way to a plain ``db2``) and a fake ORACLE_HOME (``bin/oraenv``).
Without the authority (DB2: none of the SYSADM, SYSCTRL, SYSMAINT groups; Oracle: not in OSDBA),
``plan`` and ``backup`` refuse before anything stops, naming the user and what it lacks; as the
owner they pass. The switch itself keeps argv, environment and the tool's own exit code.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from typing import Dict, Iterator

import pytest

import e2e
from cnxbackup.databases import db2, oracle
from cnxbackup.databases.base import run_tool
from cnxbackup.databases.runas import ToolUser, switch_prefix
from cnxbackup.demo import fakedb, mockcell

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runuser") is None
                                or shutil.which("useradd") is None, reason="needs root, runuser and useradd")


@pytest.fixture(scope="session")
def db_user() -> Iterator[str]:
    """A user of this session (its own group, no home folder), removed at the end."""
    name = "cnxdb%d" % os.getpid()
    subprocess.run(["useradd", "-M", "-U", "-s", "/bin/sh", name], check=True, capture_output=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], capture_output=True)
        subprocess.run(["groupdel", name], capture_output=True)


@pytest.fixture
def workdir() -> Iterator[str]:
    """A folder the session's user can reach (pytest's own tmp_path is root's, 0700)."""
    path = tempfile.mkdtemp(prefix="cnxdbusers-")
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def hand_over(path: str, user: str) -> None:
    """Give a folder (and everything in it) to ``user``: the fakes it runs write their state there."""
    subprocess.run(["chown", "-R", f"{user}:{user}", path], check=True)


def fake_instance(tmp: str, vendor: str, user: str, **options: object) -> Dict[str, str]:
    """The demo's fake database, made before the demo would make it (it reuses ``env.json``), owned by ``user``."""
    fake_dir = os.path.join(tmp, "demo", "fakedb")
    env = fakedb.prepare(fake_dir, vendor, ["FILES", "BLOGS"], owner=user, image_size=4096, **options)
    with open(os.path.join(fake_dir, "env.json"), "w", encoding="utf-8") as handle:
        json.dump(env, handle)
    hand_over(fake_dir, user)
    return env


def refused(tmp: str, env_file: str, *expected: str) -> None:
    """plan and backup exit 1 naming the problem; no set, no database tool run, wsadmin asked nothing
    (the gate's session only logs in, once per command)."""
    for command in ("plan", "backup"):
        run = e2e.cli("--plain", command, "--env", env_file)
        assert run.returncode == 1, run.stdout + run.stderr
        for text in expected:
            assert text in run.stderr, run.stderr
    assert e2e.sets(os.path.join(tmp, "backups")) == []
    mock = os.path.join(tmp, "demo", "mock", "env.json")
    events = mockcell.read_log(e2e.mock_env(tmp)) if os.path.exists(mock) else []
    assert len([e for e in events if e.get("event") == "launch"]) <= 2
    assert [e for e in events if e.get("event") not in ("launch", "exit")] == []


def test_the_switch_keeps_argv_environment_and_the_tools_exit_code(db_user, workdir) -> None:
    home = fakedb.make_instance_home(os.path.join(workdir, "inst"), db_user)
    inner = 'id -un; command -v db2; printf "<%s>\\n" "$@"; printf "%s\\n" "$CNX_SECRET"; exit 7'
    argv = (switch_prefix(ToolUser(db_user, "test", db2.PROFILE_SCRIPT, [home]))
            + ["/bin/sh", "-c", inner, "inner", "a b", "'q'", "$HOME", "*", ""])
    run = run_tool(argv, {"CNX_SECRET": "s3cr3t pw"}, 30)
    assert run.rc == 7, run.output
    assert run.stdout.splitlines() == [db_user, os.path.join(home, "sqllib", "bin", "db2"),
                                       "<a b>", "<'q'>", "<$HOME>", "<*>", "<>", "s3cr3t pw"]
    assert not [word for word in argv if "s3cr3t" in word]  # the password travels in the environment only
    oracle_home = fakedb.make_oracle_home(os.path.join(workdir, "oracle"), db_user)
    user = ToolUser(db_user, "test", oracle.ORAENV_SCRIPT, ["LSCONN", os.path.join(oracle_home, "bin", "oraenv")])
    run = run_tool(switch_prefix(user) + ["/bin/sh", "-c", 'command -v expdp; echo "$ORACLE_SID"'], {}, 30)
    assert run.rc == 0 and run.stdout.splitlines() == [os.path.join(oracle_home, "bin", "expdp"), "LSCONN"], run.output


def test_db2_runs_as_the_instance_owner_and_without_authority_nothing_stops(db_user, workdir) -> None:
    tmp = workdir
    home = fakedb.make_instance_home(os.path.join(tmp, "inst"), db_user)
    env = fake_instance(tmp, "db2", db_user, sysadm_group="CNXNOBODY")
    backup_dir = os.path.join(tmp, "db2-backups")
    os.makedirs(backup_dir)
    hand_over(backup_dir, db_user)
    env_file = e2e.write_env(tmp, database=(
        f'database:\n  vendor: db2\n  databases: [FILES, BLOGS]\n  backup_dir: "{backup_dir}"\n'
        f'  os_user: {db_user}\n  instance_home: "{home}"\n  command:\n    db2: db2\n    db2ckbkp: db2ckbkp\n'))
    refused(tmp, env_file, f"{db_user} has none of SYSADM, SYSCTRL or SYSMAINT authority",
            "SYSADM_GROUP=CNXNOBODY", f"usermod -aG GROUP {db_user}")
    assert not [entry for entry in fakedb.read_log(env) if "backup" in entry["argv"]]

    fakedb.set_owner(env, sysadm_group=None)  # NULL: the owner's primary group, the user's own
    hand_over(os.path.join(tmp, "demo", "fakedb"), db_user)
    plan = e2e.cli("--plain", "plan", "--env", env_file)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert f"run as {db_user} (database.os_user), through runuser" in plan.stdout + plan.stderr
    backup = e2e.cli("--plain", "backup", "--env", env_file)
    assert backup.returncode == 0, backup.stdout + backup.stderr
    images = [name for name in os.listdir(backup_dir) if name.startswith(("FILES.0.", "BLOGS.0."))]
    assert len(images) == 2 and all(os.stat(os.path.join(backup_dir, name)).st_uid != 0 for name in images)


def test_oracle_data_pump_without_osdba_is_refused_before_the_outage_and_runs_as_the_owner(db_user, workdir) -> None:
    tmp = workdir
    oracle_home = fakedb.make_oracle_home(os.path.join(tmp, "oracle"), db_user)
    dump_dir = os.path.join(tmp, "dpdump")
    os.makedirs(dump_dir)
    hand_over(dump_dir, db_user)
    env = fake_instance(tmp, "oracle", db_user, osdba_group="CNXNODBA", directories={"DATA_PUMP_DIR": dump_dir})
    env_file = e2e.write_env(tmp, database=(
        f'database:\n  vendor: oracle\n  backup_dir: "{dump_dir}"\n  oracle:\n    method: datapump\n'
        f'    schemas: [FILES, BLOGS]\n    directory_path: "{dump_dir}"\n  command:\n    expdp: expdp\n'
        f'  env:\n    ORACLE_HOME: "{oracle_home}"\n'))
    refused(tmp, env_file, f"{db_user} cannot connect / as sysdba", "ORA-01031 insufficient privileges",
            f"usermod -aG dba {db_user}")
    assert [entry for entry in fakedb.read_log(env) if entry["tool"] == "expdp"]  # the estimate ran, refused
    assert not os.listdir(dump_dir)

    fakedb.set_owner(env, osdba_group=None)  # the owner's primary group: the user's own
    hand_over(os.path.join(tmp, "demo", "fakedb"), db_user)
    plan = e2e.cli("--plain", "plan", "--env", env_file)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert f"run as {db_user}" in plan.stdout + plan.stderr
    assert not os.listdir(dump_dir)  # ESTIMATE_ONLY=YES NOLOGFILE=YES writes nothing
    backup = e2e.cli("--plain", "backup", "--env", env_file)
    assert backup.returncode == 0, backup.stdout + backup.stderr
    dumps = [name for name in os.listdir(dump_dir) if name.endswith(".dmp")]
    assert len(dumps) == 2 and all(os.stat(os.path.join(dump_dir, name)).st_uid != 0 for name in dumps)
    assert not [entry for entry in fakedb.read_log(env) if entry["secret_in_argv"]]
