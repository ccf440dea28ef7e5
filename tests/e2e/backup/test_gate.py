"""The gate before the outage, and the identity of a set.

``plan`` exits non-zero when the backup would fail; ``backup`` refuses before its set folder
exists and before anything stops. A set is resumed into, and restored onto, only its own
environment and cell unless ``--allow-other-environment`` says otherwise.
"""

from __future__ import annotations

import os
import shutil
import textwrap

import e2e
from cnxbackup.demo import mockcell
from restorekit import stops


def wsadmin_events(tmp: str) -> list:
    path = os.path.join(tmp, "demo", "mock", "env.json")
    return mockcell.read_log(e2e.mock_env(tmp)) if os.path.exists(path) else []


def assert_gate_refuses(tmp: str, env_file: str, *expected: str) -> None:
    """plan exits 1 naming the problem; backup too, with no set folder; wsadmin at most logged in
    (the gate's session, one per command) and was asked nothing."""
    before = len(wsadmin_events(tmp))
    plan = e2e.cli("--plain", "plan", "--env", env_file)
    assert plan.returncode == 1, plan.stdout + plan.stderr
    for text in expected:
        assert text in plan.stderr, plan.stderr
    backup = e2e.cli("--plain", "backup", "--env", env_file)
    assert backup.returncode == 1, backup.stdout + backup.stderr
    for text in expected:
        assert text in backup.stderr, backup.stderr
    assert e2e.sets(os.path.join(tmp, "backups")) == []
    events = wsadmin_events(tmp)[before:]
    assert len([e for e in events if e.get("event") == "launch"]) <= 2
    assert [e for e in events if e.get("event") not in ("launch", "exit")] == []


def test_a_password_file_others_can_read_is_caught_by_plan_and_by_backup_before_a_set_exists(tmp_path) -> None:
    tmp = str(tmp_path)
    env_file = e2e.write_env(tmp)
    assert e2e.cli("plan", "--env", env_file).returncode == 0  # the demo writes its password file, 0600
    # the demo rewrites its own file on each run: point wsadmin at a copy the demo does not manage
    copy = os.path.join(tmp, "was-password-0644")
    shutil.copyfile(os.path.join(tmp, "demo", "mock", "was-password"), copy)
    os.chmod(copy, 0o644)
    text = open(env_file).read().replace('password_file: "{demo_root}/mock/was-password"', f'password_file: "{copy}"')
    open(env_file, "w").write(text)
    assert_gate_refuses(tmp, env_file, f"WAS administrative password file {copy} is readable by others (mode 0644)")


def test_an_unset_password_variable_is_caught_by_plan_and_by_backup_before_a_set_exists(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("CNX_GATE_UNSET", raising=False)
    tmp = str(tmp_path)
    database = textwrap.dedent("""\
        database:
          vendor: mssql
          server: 'sqlhost\\CNX'
          auth: password
          user: cnxbackup
          password_env: CNX_GATE_UNSET
          backup_dir: "{demo_root}/mssql-backups"
          databases: [FILES]
          command:
            sqlcmd: "{demo_kit}/fakes/sqlcmd"
        """)
    env_file = e2e.write_env(tmp, database=database)
    assert_gate_refuses(tmp, env_file, "environment variable CNX_GATE_UNSET, which is not set")


def other_environment(ctx, name: str = "demo2") -> str:
    """The same deployment's file under another environment name."""
    path = os.path.join(ctx.base, f"{name}.yaml")
    shutil.copyfile(ctx.env_file, path)
    return path


def test_resume_into_another_environment_is_refused(ctx) -> None:
    other = other_environment(ctx)
    before = ctx.log_length()
    proc = e2e.cli("--plain", "backup", "--env", other, "--resume", ctx.set_dir)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "resume refused" in proc.stderr and "environment demo, not of demo2" in proc.stderr
    events = mockcell.read_log(ctx.mock)[before:]  # the gate's session logged in, was asked nothing
    assert [e["event"] for e in events if e.get("event") != "exit"] == ["launch"]
    assert e2e.manifest(ctx.set_dir)["environment"] == "demo"


def test_the_backup_goes_on_in_the_gate_s_wsadmin_session_one_jvm_in_all(ctx) -> None:
    """The gate logged in before the set folder existed; the steps ran in that same session, whose
    transcript moved into the set (the figure ``make bench`` reports as wsadmin_jvm_launches)."""
    assert [e["event"] for e in mockcell.read_log(ctx.mock)].count("launch") == 1
    assert e2e.manifest(ctx.set_dir)["wsadmin"]["launches"] == 1
    transcript = open(os.path.join(ctx.set_dir, ".run", "wsadmin-transcript.log"), encoding="utf-8").read()
    assert transcript.count("WASX7209I: Connected") == 1 and transcript.index("WASX7209I") < transcript.index("CNXJOB_END_")
    assert "[wsadmin] connected to " in open(os.path.join(ctx.set_dir, "cnxbackup.log"), encoding="utf-8").read()


def test_restore_onto_another_environment_is_refused_unless_allowed(ctx) -> None:
    other = other_environment(ctx)
    before = ctx.log_length()
    proc = e2e.cli("--plain", "restore", ctx.set_dir, "--env", other, "--yes")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "restore refused" in proc.stderr and "environment demo, not of demo2" in proc.stderr
    assert stops(mockcell.read_log(ctx.mock)[before:]) == []
    allowed = e2e.cli("--plain", "restore", ctx.set_dir, "--env", other, "--allow-other-environment", "--dry-run")
    assert allowed.returncode == 0 and "WARNING: --allow-other-environment" in allowed.stdout, allowed.stdout + allowed.stderr


def test_restore_onto_another_cell_is_refused_and_a_rebuilt_host_is_noted(ctx) -> None:
    cells = os.path.join(ctx.tree, "opt/IBM/WebSphere/AppServer/profiles/Dmgr01/config/cells")
    [cell] = os.listdir(cells)
    os.rename(os.path.join(cells, cell), os.path.join(cells, "OtherCell"))
    proc = ctx.restore("--dry-run")
    assert proc.returncode == 1 and f"cell {cell}, the Dmgr profile's cell is OtherCell" in proc.stderr, proc.stderr
    shutil.rmtree(cells)  # no Dmgr profile cell (a host being rebuilt): not compared, said so
    proc = ctx.restore("--dry-run")
    assert proc.returncode == 0 and "is not compared (a host being rebuilt)" in proc.stdout, proc.stdout + proc.stderr
