"""Who runs the database tools (in-process): the defaults, the switch's words, ``db2 get dbm cfg``'s
authority groups, and no password on any argv (the e2e tier runs the switch for real)."""
from __future__ import annotations

import os
import pwd

import pytest

from cnxbackup.databases import db2, mssql, oracle
from cnxbackup.databases.base import ToolRun
from cnxbackup.databases.operations import remote_switch
from cnxbackup.databases.runas import RUNUSER, ToolUser, current_user, primary_group_of, switch_prefix
from cnxbackup.databases.settings import hook_settings
from cnxbackup.demo import fakedb

ME = current_user()
CFG = """
 SYSADM group name                        (SYSADM_GROUP) =
 SYSCTRL group name                      (SYSCTRL_GROUP) = db2ctl
 SYSMAINT group name                    (SYSMAINT_GROUP) =
 SYSMON group name                        (SYSMON_GROUP) =
"""


def test_a_null_sysadm_group_is_the_owners_primary_group_and_the_other_two_null_are_nobody() -> None:
    groups = db2.authority_groups(CFG, primary_group_of(ME))
    assert groups == {"SYSADM_GROUP": str(primary_group_of(ME)).upper(), "SYSCTRL_GROUP": "DB2CTL",
                      "SYSMAINT_GROUP": None}
    assert db2.authority_groups(CFG.replace("(SYSADM_GROUP) =", "(SYSADM_GROUP) = db2iadm1"), primary_group_of(ME))[
        "SYSADM_GROUP"] == "DB2IADM1"


def test_the_db2_user_comes_from_os_user_then_db2instance_then_the_owner_of_sqllib(tmp_path) -> None:
    home = tmp_path / "inst"
    (home / "sqllib").mkdir(parents=True)
    assert db2.tool_user(hook_settings({"vendor": "db2", "instance_home": str(home)})).name == ME
    assert db2.tool_user(hook_settings({"vendor": "db2", "env": {"DB2INSTANCE": "db2inst9"}})).name == "db2inst9"
    chosen = db2.tool_user(hook_settings({"vendor": "db2", "os_user": "nobody", "env": {"DB2INSTANCE": "x"}}))
    assert (chosen.name, chosen.source) == ("nobody", "database.os_user")
    assert db2.tool_user(hook_settings({"vendor": "db2"})).name is None
    own = hook_settings({"vendor": "db2", "os_user": ME, "instance_home": str(home)})
    assert switch_prefix(db2.tool_user(own)) == []  # itself, no profile: the caller's environment
    (home / "sqllib" / "db2profile").write_text("")
    assert switch_prefix(db2.tool_user(own)) == ["/bin/sh", "-c", db2.PROFILE_SCRIPT, "sh", str(home)]


def test_as_another_user_the_words_are_runuser_then_the_profile_shell() -> None:
    user = ToolUser("db2inst1", "test", db2.PROFILE_SCRIPT, ["/home/db2inst1"])
    assert switch_prefix(user, as_user="root") == [RUNUSER, "-u", "db2inst1", "--", "/bin/sh", "-c",
                                                   db2.PROFILE_SCRIPT, "sh", "/home/db2inst1"]
    assert switch_prefix(ToolUser("sa", "test"), as_user="root") == [RUNUSER, "-u", "sa", "--", "/bin/sh", "-c",
                                                                     'exec "$@"', "sh"]
    assert switch_prefix(ToolUser(None, "none"), as_user="root") == []
    settings = hook_settings({"vendor": "db2", "os_user": "db2inst1", "instance_home": "/home/db2inst1"})
    assert remote_switch(settings, "db2inst1") == ["/bin/sh", "-c", db2.PROFILE_SCRIPT, "sh", "/home/db2inst1"]
    assert remote_switch(settings, "root")[:4] == [RUNUSER, "-u", "db2inst1", "--"]
    assert switch_prefix(mssql.tool_user(hook_settings({"vendor": "mssql"}))) == []


def test_the_oracle_user_is_the_owner_of_oracle_home_with_oraenv_for_the_sid(tmp_path) -> None:
    home = tmp_path / "dbhome"
    (home / "bin").mkdir(parents=True)
    settings = hook_settings({"vendor": "oracle", "env": {"ORACLE_HOME": str(home)}})
    assert oracle.tool_user(settings) == ToolUser(ME, f"the owner of ORACLE_HOME {home}")
    (home / "bin" / "oraenv").write_text("")
    user = oracle.tool_user(settings)
    assert (user.script, list(user.args)) == (oracle.ORAENV_SCRIPT, ["LSCONN", str(home / "bin" / "oraenv")])


@pytest.mark.skipif(os.geteuid() != 0, reason="hands the parfile to another user")
def test_no_password_reaches_an_argv_when_data_pump_runs_as_another_user(monkeypatch) -> None:
    other = next(name for name in ("nobody", "daemon") if _exists(name))
    seen = []

    def fake_run(argv, env=None, timeout=None, log=None, **kwargs):
        parfile = argv[-1].split("=", 1)[1]
        seen.append((list(argv), open(parfile).read(), os.stat(parfile).st_uid))
        return ToolRun("x", 0, 'Job "SYS"."J" successfully completed at x', "", 0.0)

    monkeypatch.setattr(oracle, "run_tool", fake_run)
    monkeypatch.setenv("CNX_TEST_ORA_PW", "Pa55 word")
    settings = hook_settings({"vendor": "oracle", "os_user": other, "auth": "password", "user": "system",
                              "password_env": "CNX_TEST_ORA_PW"})
    assert oracle.authority_problems(settings, "/b", ["FILES"]) == []
    ((argv, parfile, owner),) = seen
    assert argv[:4] == [RUNUSER, "-u", other, "--"] and not [word for word in argv if "Pa55" in word]
    assert "userid=system/Pa55 word" in parfile and "estimate_only=YES" in parfile
    assert owner == pwd.getpwnam(other).pw_uid


def _exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def test_the_fakes_refuse_a_user_without_the_authority_as_the_real_tools_do(tmp_path) -> None:
    env = fakedb.prepare(str(tmp_path / "db2"), "db2", ["FILES"], sysadm_group="CNXNOBODY", image_size=1024)
    settings = hook_settings({"vendor": "db2", "env": env, "command": {"db2": fakedb.tool_path("db2"),
                                                                     "db2ckbkp": fakedb.tool_path("db2ckbkp")}})
    result = db2.backup(db2.targets(["FILES"])[0], settings, str(tmp_path))
    assert result.status == "failed" and result.error is not None and result.error.startswith("SQL1092N")
    assert f'User ID: "{ME.upper()}"' in result.error
    assert "SYSADM_GROUP=CNXNOBODY" in db2.authority_problems(settings, str(tmp_path), ["FILES"])[0]
    fakedb.set_owner(env, sysadm_group=None)  # NULL: the owner's primary group, this user's
    assert db2.authority_problems(settings, str(tmp_path), ["FILES"]) == []
    assert db2.backup(db2.targets(["FILES"])[0], settings, str(tmp_path)).status == "ok"

    ora = fakedb.prepare(str(tmp_path / "ora"), "oracle", ["FILES"], osdba_group="CNXNODBA")
    settings = hook_settings({"vendor": "oracle", "env": ora, "command": {"expdp": fakedb.tool_path("expdp")}})
    (problem,) = oracle.authority_problems(settings, str(tmp_path), ["FILES"])
    assert "ORA-01031 insufficient privileges" in problem and "usermod -aG dba" in problem
    fakedb.set_owner(ora, osdba_group=None)
    assert oracle.authority_problems(settings, str(tmp_path), ["FILES"]) == []
