"""WebSphere's order: restore swaps no profile folder while its process runs, and ``stop`` /
``start`` bring the whole deployment down and up, idempotent, answering the scripts' console
prompt without a password on any command line."""

from __future__ import annotations

import datetime
import os

import e2e
from cnxbackup.demo import fakedb, mockcell
from restorekit import app_server_actions, assert_nothing_changed, snapshot, stops

PASSWORD_NEEDLE = "Adm1n"  # part of every demo fixture's admin password


def profile_events(log: list) -> list:
    return [e for e in log if e.get("event") == "profile" and e["script"] != "serverStatus"]


def log_times(path: str, needle: str) -> list:
    """Epoch times of the restore log's lines holding ``needle``."""
    found = []
    for line in open(path, encoding="utf-8"):
        if needle in line:
            stamp = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
            found.append(stamp.timestamp())
    return found


def test_restore_follows_websphere_s_order_and_swaps_no_profile_while_its_process_runs(ctx) -> None:
    started = e2e.cli("--plain", "start", "--env", ctx.env_file)  # the backup left the servers stopped
    assert started.returncode == 0, started.stdout + started.stderr
    # only what the backup stopped: the server already stopped before it stays stopped, said so
    assert "left stopped, as they were before cnxbackup stopped the others: CNXNode02/PushCluster_server2" \
        in started.stdout and "server CNXNode02/PushCluster_server2" not in started.stdout
    assert started.stdout.count("[start] server ") == 7
    assert app_server_actions(mockcell.load_state(ctx.mock))["CNXNode02/PushCluster_server2"] is None
    before = ctx.log_length()
    db_before = len(fakedb.read_log(ctx.fake))
    proc = ctx.restore()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = mockcell.read_log(ctx.mock)[before:]
    events = profile_events(log)
    assert [e["script"] for e in events] == ["stopNode", "stopManager", "startManager", "syncNode", "startNode"]
    by_script = {e["script"]: e for e in events}
    assert by_script["stopManager"]["states"]["dmgr"] == "STOPPED"
    assert by_script["syncNode"]["states"]["CNXNode01/nodeagent"] == "STOPPED"  # synchronized with its agent stopped
    last_server_stop = max(e["time"] for e in stops(log))
    assert last_server_stop < by_script["stopNode"]["time"] < by_script["stopManager"]["time"]
    [restore_log] = [os.path.join(d, "restore.log") for d in ctx.restore_dirs()]
    for item, process in (("dmgr-profile", ("stopManager", "startManager")), ("profile-AppSrv01", ("stopNode", "startNode"))):
        [swapped] = log_times(restore_log, f"file:{item}: {item} restored to")
        assert by_script[process[0]]["time"] < swapped < by_script[process[1]]["time"], item
    db_times = [e["time"] for e in fakedb.read_log(ctx.fake)[db_before:] if "restore" in e["argv"]]
    assert db_times and by_script["stopManager"]["time"] < min(db_times) and max(db_times) < by_script["startManager"]["time"]
    imports = [e for e in log if e.get("event") == "launch" and e["time"] > by_script["startManager"]["time"]]
    assert imports and imports[0]["time"] < by_script["syncNode"]["time"]  # roles re-imported, then the sync
    assert "cnxbackup start --env" in proc.stdout


def test_restore_md_shows_the_same_order(ctx) -> None:
    text = open(os.path.join(ctx.set_dir, "RESTORE.md"), encoding="utf-8").read()
    marks = ["Stop the application servers", "Stop the node agents", "Stop the Deployment Manager",
             "Put dmgr-profile in place", "Restore database", "Start the Deployment Manager",
             "Re-import the security role mappings", "Synchronize", "Start the node agents",
             "Start the application servers"]
    positions = [text.index(mark) for mark in marks]
    assert positions == sorted(positions), list(zip(marks, positions))
    assert "bin/stopManager.sh" in text and "bin/syncNode.sh dmgr.example.com" in text


def test_node_profiles_restored_without_the_dmgr_profile_are_not_synchronized(ctx) -> None:
    before = ctx.log_length()
    proc = ctx.restore("--only", "profile-AppSrv01")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    scripts = [e["script"] for e in profile_events(mockcell.read_log(ctx.mock)[before:])]
    assert "syncNode" not in scripts and scripts[-1] == "startNode"
    assert "not synchronized" in proc.stdout


def test_stop_and_start_are_idempotent_and_answer_the_console_prompt(tmp_path) -> None:
    env_file = e2e.write_env(str(tmp_path))
    assert e2e.cli("plan", "--env", env_file).returncode == 0  # the demo's stand-ins are ready
    mock = e2e.mock_env(str(tmp_path))
    for command, wanted in (("stop", "STOPPED"), ("stop", "STOPPED"), ("start", "STARTED"), ("start", "STARTED")):
        before = len(mockcell.read_log(mock))
        proc = e2e.cli("--plain", command, "--env", env_file)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.rstrip().endswith(f"{command}: done")
        state = mockcell.load_state(mock)
        assert bool(state.get("dmgrRunning", 1)) == (wanted == "STARTED")
        events = [e for e in mockcell.read_log(mock)[before:] if e.get("event") == "profile"]
        assert events and events[-1]["states"]["dmgr"] == wanted and events[-1]["states"]["CNXNode01/nodeagent"] == wanted
    assert e2e.cli("--plain", "stop", "--env", env_file).returncode == 0
    stop_text = e2e.cli("--plain", "stop", "--env", env_file).stdout  # a second stop: nothing to do, said so
    assert "dmgr (Dmgr01): already stopped" in stop_text and "nodeagent (AppSrv01): already stopped" in stop_text
    every = [e for e in mockcell.read_log(mock) if e.get("event") == "profile"]
    assert all(PASSWORD_NEEDLE not in " ".join(e["argv"]) for e in every)
    assert any(e["script"] == "stopManager" and e["rc"] == 0 for e in every)  # the prompt was answered


def test_a_missing_profile_script_refuses_the_restore_before_anything_stops(ctx) -> None:
    script = os.path.join(ctx.tree, "opt/IBM/WebSphere/AppServer/profiles/AppSrv01/bin/stopNode.sh")
    os.unlink(script)
    ctx.original = snapshot(ctx.tree)
    before = ctx.log_length()
    proc = ctx.restore()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "restore refused" in proc.stderr and f"{script} missing or not executable" in proc.stderr
    assert_nothing_changed(ctx, before)
    # a restore under --target-root starts and stops nothing: it does not need the scripts
    side = ctx.restore("--target-root", os.path.join(ctx.base, "side"), "--only", "local-data")
    assert side.returncode == 0, side.stdout + side.stderr
