"""Names others can plant (issue 26): in a folder others may write, what cnxbackup creates is
created ``O_CREAT|O_EXCL|O_NOFOLLOW`` (never written through a symlink, a hard link or a FIFO planted
at its ``.partial`` name), and what it reads of a set (the verify record, journals, the manifest) is
read non-blocking and as a regular file only, so a FIFO there cannot hang ``list`` or ``prune``."""

from __future__ import annotations

import argparse
import io
import os
import stat
import types

import pytest

from cnxbackup import atomic
from cnxbackup.actions.backup.monitoring import previous_success
from cnxbackup.actions.list_cmd import run_list
from cnxbackup.actions.sets.naming import find_resumable_set, recent_manifests, unfinished_restores
from cnxbackup.actions.sets.retention import scan_sets
from cnxbackup.actions.sets.verify_record import VERIFY_RESULT, read_verify_record, read_verify_result, record_verify_result
from cnxbackup.journal import Journal
from cnxbackup.progress import Progress

pytestmark = pytest.mark.timeout(20)  # a FIFO opened blocking would hang: the timeout makes that a failure

SECRET = b"root's file elsewhere\n"


def _outside(tmp_path) -> str:
    path = tmp_path / "elsewhere" / "target"
    path.parent.mkdir()
    path.write_bytes(SECRET)
    return str(path)


def _plant(kind: str, at: str, outside: str) -> None:
    if kind == "symlink":
        os.symlink(outside, at)
    elif kind == "hardlink":
        os.link(outside, at)
    elif kind == "fifo":
        os.mkfifo(at)
    else:
        os.mkdir(at)


@pytest.mark.parametrize("kind", ["symlink", "hardlink"])
def test_a_link_planted_at_the_partial_name_is_not_written_through(tmp_path, kind) -> None:
    outside = _outside(tmp_path)
    final = str(tmp_path / "manifest.json")
    _plant(kind, atomic.partial_path(final), outside)
    atomic.write_file_atomic(final, b"ours\n")
    with open(outside, "rb") as handle:
        assert handle.read() == SECRET  # the target untouched
    assert os.stat(outside).st_nlink == 1  # the planted hard link lost only its name
    assert not os.path.islink(final) and open(final, "rb").read() == b"ours\n"
    assert not os.path.lexists(atomic.partial_path(final))


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_fifo_or_folder_at_the_partial_name_is_refused_by_name_without_hanging(tmp_path, kind) -> None:
    final = str(tmp_path / "manifest.json")
    partial = atomic.partial_path(final)
    _plant(kind, partial, "")
    with pytest.raises(FileExistsError) as raised:
        atomic.write_file_atomic(final, b"ours\n")
    assert partial in str(raised.value) and "refused" in str(raised.value)
    assert os.path.lexists(partial) and not os.path.lexists(final)  # someone else's name is left to them


def test_the_verify_record_and_the_textfile_are_not_written_through_a_planted_partial(tmp_path) -> None:
    outside = _outside(tmp_path)
    set_dir = tmp_path / "set"
    set_dir.mkdir()
    os.link(outside, str(set_dir / (VERIFY_RESULT + ".partial")))
    assert record_verify_result(str(set_dir), True, False, 0) is None
    assert open(outside, "rb").read() == SECRET and read_verify_result(str(set_dir))["ok"] is True
    os.unlink(set_dir / VERIFY_RESULT)
    os.mkfifo(set_dir / (VERIFY_RESULT + ".partial"))
    reason = record_verify_result(str(set_dir), True, False, 0)  # a FIFO there: refused, said, no hang
    assert reason and "not recorded" in reason and not os.path.lexists(set_dir / VERIFY_RESULT)
    prom = tmp_path / "cnxbackup_demo.prom"
    os.mkfifo(prom)
    assert previous_success(str(prom)) is None  # the textfile's old value is read non-blocking, regular only


@pytest.mark.parametrize("kind", ["fifo", "symlink"])
def test_a_planted_verify_record_or_journal_is_read_as_nothing_without_hanging(tmp_path, kind) -> None:
    outside = str(tmp_path / "record.json")
    with open(outside, "w") as handle:
        handle.write('{"ok": true, "at": "forged", "status": "complete"}')
    set_dir = tmp_path / "demo-20260101T000000"
    restore = set_dir / "restore-20260102T000000"
    restore.mkdir(parents=True)
    _plant(kind, str(set_dir / VERIFY_RESULT), outside)
    _plant(kind, str(restore / "journal.json"), outside)
    _plant(kind, str(set_dir / "journal.json"), outside)
    _plant(kind, str(set_dir / "manifest.json"), outside)
    assert read_verify_result(str(set_dir)) is None
    verify, problem = read_verify_record(str(set_dir))
    assert verify is None and problem.startswith(str(set_dir / VERIFY_RESULT) + ": ")  # named, not "never verified"
    with pytest.raises(ValueError):
        Journal.load(str(restore))
    assert unfinished_restores(_env(str(tmp_path)), str(set_dir)) == []  # a restore's journal is never read from a set
    assert list(recent_manifests(str(tmp_path), "demo")) == []
    assert find_resumable_set(str(tmp_path), "demo") == str(set_dir)


def _env(target: str) -> types.SimpleNamespace:
    sections = {"target": {"dir": target, "restore_state": os.path.join(target, "state")},
                "signing": {"trusted_keys": os.path.join(target, "no-keys.pem")}}
    return types.SimpleNamespace(name="demo", section=lambda name: sections.get(name, {}))


def test_list_finishes_and_names_a_set_with_a_fifo_record_and_journal_with_escapes_shown(tmp_path) -> None:
    """FIFOs as the verify record and as a restore journal made ``list`` (and ``prune``, holding the
    lock) hang; an ESC in a restore folder's name reached the terminal."""
    set_dir = tmp_path / "demo-20260101T000000"
    restore = set_dir / "restore-\x1b]0;owned\x07\x1b[2J"
    restore.mkdir(parents=True)
    os.mkfifo(set_dir / VERIFY_RESULT)
    os.mkfifo(restore / "journal.json")
    entries = scan_sets(_env(str(tmp_path)), str(tmp_path / "no-keys.pem"))
    assert [e.name for e in entries] == ["demo-20260101T000000"] and entries[0].verify is None
    assert entries[0].restore_running is None  # restores are kept in root's state folder, never read from a set
    out = io.StringIO()
    progress = Progress(out, plain=True)
    run_list(argparse.Namespace(trusted_keys=str(tmp_path / "no-keys.pem")), _env(str(tmp_path)), progress)  # type: ignore[arg-type]
    text = out.getvalue()
    assert "demo-20260101T000000" in text and "never verified" not in text
    assert f"verify record unreadable: {set_dir / VERIFY_RESULT}: not a regular file" in text  # named
    assert "\x1b" not in text and "\x07" not in text


def test_open_new_sets_the_mode_exactly_and_a_leftover_of_ours_is_taken_back(tmp_path) -> None:
    final = str(tmp_path / "a.bin")
    with open(atomic.partial_path(final), "wb") as handle:  # what a crashed run left
        handle.write(b"half")
    atomic.write_file_atomic(final, b"whole", mode=0o640)
    assert open(final, "rb").read() == b"whole" and stat.S_IMODE(os.stat(final).st_mode) == 0o640


@pytest.mark.parametrize("kind", ["symlink", "hardlink", "fifo"])
def test_the_run_s_log_is_not_written_through_a_planted_name(tmp_path, kind) -> None:
    from cnxbackup.log import add_log_file, remove_handler

    outside = _outside(tmp_path)
    log = str(tmp_path / "restore.log")
    _plant(kind, log, outside)
    with pytest.raises(OSError):
        add_log_file(log)
    assert open(outside, "rb").read() == SECRET
    os.unlink(log)
    handler = add_log_file(log)  # a fresh name: created 0600, ours
    remove_handler(handler)
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600


def test_a_fifo_swapped_in_for_a_file_of_the_set_is_refused_not_read(tmp_path) -> None:
    """``hash_file`` (verify, restore's checks, prune's image check) opened blocking: a FIFO put where
    an archive was, after the check of its path, hung the run."""
    from cnxbackup.archive import hash_file

    fifo = tmp_path / "a.tar.zst"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        hash_file(str(fifo))
    (tmp_path / "b").write_bytes(b"x")
    assert hash_file(str(tmp_path / "b"))[1] == 1


@pytest.mark.parametrize("kind", ["hardlink", "fifo"])
def test_the_monitoring_textfile_is_not_written_through_a_planted_partial(tmp_path, kind) -> None:
    from cnxbackup.actions.backup.monitoring import Monitor
    from cnxbackup.outcome import CommandOutcome

    outside = _outside(tmp_path)
    collector = tmp_path / "collector"
    collector.mkdir()
    _plant(kind, str(collector / "cnxbackup_demo.prom.partial"), outside)
    out = io.StringIO()
    monitor = Monitor.__new__(Monitor)
    monitor.settings, monitor.env = {"textfile_dir": str(collector)}, types.SimpleNamespace(name="demo")
    monitor.started, monitor.progress = 0.0, Progress(out, plain=True)
    monitor.write_textfile(CommandOutcome(), 0)
    assert open(outside, "rb").read() == SECRET
    prom = collector / "cnxbackup_demo.prom"
    if kind == "fifo":
        assert "was not written" in out.getvalue() and not prom.exists()
    else:
        assert "cnxbackup_last_status" in prom.read_text()
