"""What cnxbackup stopped (issue 28, "after Ctrl-C" and item 10): the record ``start`` reads -- it
starts only what the stops found running -- and the last lines of an interrupted backup or restore:
the processes the run left stopped and the commands that finish it or start them."""
from __future__ import annotations

import argparse
import io
import os
import threading

import pytest

from cnxbackup.actions.backup.wsadmin_phase import STOPPED_SERVERS
from cnxbackup.actions.backup.wsadmin_phase import left_stopped as backup_left_stopped
from cnxbackup.actions.restore import run as restore_run
from cnxbackup.actions.restore.interrupted import interrupted_message
from cnxbackup.actions.restore.interrupted import left_stopped as restore_left_stopped
from cnxbackup.actions.restore.plan import RestoreStep
from cnxbackup.actions.restore.records import StepLog
from cnxbackup.errors import Interrupted
from cnxbackup.journal import Journal
from cnxbackup.progress import Progress
from cnxbackup.stopped import (
    LeftStopped,
    interrupted_text,
    note_result,
    note_started,
    note_stop,
    read_record,
    record_path,
    start_selection,
)
from envfiles import load

ENV = "target: {{dir: {root}/backups}}\n"


def _env(tmp_path):
    return load(tmp_path, ENV.format(root=tmp_path))


def test_start_starts_only_what_the_stops_found_running_then_forgets_it(tmp_path) -> None:
    env = _env(tmp_path)
    assert start_selection(env).arguments == []  # nothing recorded: every server
    note_stop(env, ["N1/a", "N1/b"], ["N2/c"], "the backup X")
    note_stop(env, [], ["N1/a", "N1/b", "N2/c"], "cnxbackup stop")  # a second stop finds them all stopped
    selection = start_selection(env)
    assert selection.arguments == ["--server", "N1/a", "--server", "N1/b"]
    assert "N2/c" in "\n".join(selection.notes) and "the backup X" in selection.notes[0]
    assert oct(os.stat(record_path(env)).st_mode & 0o777) == "0o600"
    note_started(env, ["N1/a"])  # one failed to start: it stays to be started
    assert start_selection(env).arguments == ["--server", "N1/b"]
    note_result(env, "start_servers", {"started": [], "alreadyStarted": ["N1/b"]}, "cnxbackup start")
    assert read_record(env) is None and not os.path.exists(record_path(env))


def test_a_server_stopped_before_then_stopped_by_a_later_run_is_started(tmp_path) -> None:
    env = _env(tmp_path)
    note_stop(env, ["N1/a"], ["N2/c"], "the backup X")
    note_result(env, "stop_servers", {"stopped": ["N2/c"], "alreadyStopped": ["N1/a"]}, "cnxbackup stop")
    record = read_record(env)
    assert record is not None and record.start == ["N1/a", "N2/c"] and record.left_stopped == []


def test_a_record_cnxbackup_did_not_write_is_ignored_and_said(tmp_path) -> None:
    env = _env(tmp_path)
    os.makedirs(os.path.dirname(record_path(env)))
    with open(record_path(env), "w") as handle:
        handle.write('{"start": ["N1/a; rm -rf /"], "leftStopped": [], "by": []}')
    selection = start_selection(env)
    assert selection.arguments == [] and "not a record cnxbackup wrote" in selection.notes[0]


def test_the_lines_group_servers_by_node_and_name_the_commands(tmp_path) -> None:
    left = LeftStopped(servers=["N2/c", "N1/a", "N1/b"], agents=["nodeagent (AppSrv01 on node1)"],
                       cut=["the Dmgr's stop"])
    text = interrupted_text("restore", "interrupted; nothing moved aside was deleted", left, "RESUME", "START", " (why)")
    lines = text.splitlines()
    assert lines[0] == "interrupted; nothing moved aside was deleted."
    assert "    application servers on node N1: a, b" in lines and "    application servers on node N2: c" in lines
    assert "    node agent nodeagent (AppSrv01 on node1)" in lines
    assert any("the Dmgr's stop: under way when interrupted" in line for line in lines)
    assert lines[-4:] == ["Finish the restore (what is done is kept):", "    RESUME", "Or start them (why):", "    START"]
    nothing = interrupted_text("backup", "interrupted", LeftStopped(), "RESUME", "START")
    assert "stopped no WebSphere process" in nothing and nothing.endswith("    RESUME") and "START" not in nothing


def test_an_interrupted_restore_leaves_stopped_what_it_stopped_and_did_not_start(tmp_path) -> None:
    env = _env(tmp_path)
    journal = Journal.create(str(tmp_path), set="/backups/unit-20260101T000000", environment="unit")
    journal.set("stop", "done", result={"stopped": ["N1/a"], "alreadyStopped": ["N2/c"]})
    journal.set("stop-agents", "done", result={"stopped": ["nodeagent (AppSrv01)"], "alreadyStopped": []})
    journal.set("stop-dmgr", "done", result={"stopped": ["dmgr (Dmgr01)"]})
    journal.set("start-dmgr", "running")
    left = restore_left_stopped(journal)
    assert (left.servers, left.agents, left.dmgr, left.cut) == (["N1/a"], ["nodeagent (AppSrv01)"], ["dmgr (Dmgr01)"],
                                                                  ["the Dmgr's start"])
    journal.set("start-dmgr", "done", result={"started": ["dmgr (Dmgr01)"]})
    journal.set("next", "skipped")  # without --start the servers stay stopped
    left = restore_left_stopped(journal)
    assert (left.servers, left.dmgr, left.cut) == (["N1/a"], [], [])
    text = interrupted_message(env, journal)
    assert "restore /backups/unit-20260101T000000 --env" in text and text.rstrip().endswith(f"start --env {env.argument}")


def test_an_interrupted_backup_names_the_servers_its_stops_stopped_or_the_stop_it_cut(tmp_path) -> None:
    journal = Journal.create(str(tmp_path), environment="unit")
    assert not backup_left_stopped(journal)
    journal.data[STOPPED_SERVERS] = ["N1/a", "N1/b"]
    journal.set("wsadmin:stop_servers", "running")  # a resume's stop, cut
    left = backup_left_stopped(journal)
    assert left.servers == ["N1/a", "N1/b"] and left.cut == ["the application servers' stop"]


def test_after_an_interruption_only_the_main_thread_reaches_the_console() -> None:
    out, logged = io.StringIO(), []
    progress = Progress(out, plain=True)
    progress.recorder = lambda line, level: logged.append(line)
    progress.interrupted = threading.Event()
    progress.interrupted.set()
    worker = threading.Thread(target=progress.message, args=("[databases] MOBILE finished (8/16)",))
    worker.start()
    worker.join()
    progress.message("the last lines")
    assert out.getvalue() == "the last lines\n"
    assert logged == ["[databases] MOBILE finished (8/16)", "the last lines"]  # the log keeps both


def test_a_restore_interrupted_after_the_stop_ends_with_what_it_left_stopped(tmp_path, monkeypatch) -> None:
    env = _env(tmp_path)
    (tmp_path / "restore").mkdir()
    journal = Journal.create(str(tmp_path / "restore"), set="/backups/unit-20260101T000000", environment="unit")
    steps = [RestoreStep("guard", "guard", "guard"), RestoreStep("stop", "Stop the application servers", "stop"),
             RestoreStep("stop-agents", "Stop the node agents", "stop-agents"),
             RestoreStep("next", "Start the application servers", "next")]

    def stop(rt, step) -> None:
        StepLog(rt.journal).done(step, result={"stopped": ["N1/a"], "alreadyStopped": ["N2/c"]})

    def ctrl_c(rt, step) -> None:
        raise KeyboardInterrupt

    monkeypatch.setitem(restore_run.STEP_RUNNERS, "stop", stop)
    monkeypatch.setitem(restore_run.STEP_RUNNERS, "stop-agents", ctrl_c)
    out = io.StringIO()
    args = argparse.Namespace(start=False, print_db_commands=False)
    with pytest.raises(Interrupted) as raised:
        restore_run._execute(args, env, None, steps, journal, None, Progress(out, plain=True), {"target_root": None})
    text = str(raised.value)
    assert "application servers on node N1: a" in text and "N2" not in text
    assert "the node agents' stop: under way when interrupted" in text
    assert journal.data["status"] == "interrupted" and journal.step("stop-agents")["status"] == "running"
    assert "restore /backups/unit-20260101T000000 --env" in text and "--resume" in text
    assert "[stop-agents] done" not in out.getvalue()


def test_a_bar_still_drawn_is_cleared_before_the_last_lines() -> None:
    out = io.StringIO()
    progress = Progress(out, plain=False)
    task = progress.task("files", 100)
    task._last_draw -= 1  # due for a redraw
    task.update(1, 50)
    assert out.getvalue().startswith("\r\033[K[files]")
    progress.end_bar()
    assert out.getvalue().endswith("\r\033[K")
    progress.end_bar()  # nothing drawn any more: nothing written
    assert out.getvalue().count("\r\033[K") == 2
