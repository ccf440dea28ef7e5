"""Severity as data: a message carries its level, the console line gets the level's prefix, the
--json outcome keeps it by level (nothing is scraped from the text), each line reaches the run's
log once, at its level; and a verifier's bug is a crash, not a BAD database."""
from __future__ import annotations

import io
import logging
import subprocess
import types
from typing import Iterator, List

import pytest

from cnxbackup.actions.backup import wsadmin_phase
from cnxbackup.actions.sets import verify
from cnxbackup.databases.base import DbError
from cnxbackup.journal import Journal
from cnxbackup.log import add_log_file, get_logger, record_in_file, remove_handler
from cnxbackup.manifest import DatabaseRecord
from cnxbackup.outcome import Level
from cnxbackup.progress import Progress
from cnxbackup.signing import ensure_signing_key


@pytest.fixture
def log_file(tmp_path) -> Iterator[str]:
    """The run's log file, as a backup has it (cnxbackup.log of the set)."""
    path = str(tmp_path / "cnxbackup.log")
    logger = get_logger()
    level = logger.level
    logger.setLevel(logging.DEBUG)  # as setup_console leaves it
    handler = add_log_file(path)
    try:
        yield path
    finally:
        remove_handler(handler)
        logger.setLevel(level)


def _progress() -> Progress:
    progress = Progress(io.StringIO(), plain=True)
    progress.recorder = record_in_file  # as cli sets it
    return progress


def _console(progress: Progress) -> List[str]:
    stream = progress.stream
    assert isinstance(stream, io.StringIO)
    return stream.getvalue().splitlines()


def _log_lines(path: str, text: str) -> List[str]:
    with open(path, encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle if text in line]


def test_the_level_adds_the_prefix_and_the_outcome_keeps_the_text_by_level() -> None:
    progress = _progress()
    progress.note("the plan has a note")
    progress.warning("--allow-other-environment: another cell")
    progress.failed("  the set is kept")  # an indented line keeps its indent before the prefix
    progress.message("[databases] FILES finished")
    assert _console(progress) == ["note: the plan has a note", "WARNING: --allow-other-environment: another cell",
                                  "  FAILED: the set is kept", "[databases] FILES finished"]
    outcome = progress.outcome
    assert (outcome.notes, outcome.warnings, outcome.errors) == (
        ["the plan has a note"], ["--allow-other-environment: another cell"], ["the set is kept"])


def test_a_plain_message_that_reads_like_a_warning_is_not_scraped_into_the_outcome() -> None:
    progress = _progress()
    progress.message("WARNING: this is how the text reads")
    progress.message("note: so is this\nFAILED: and this")
    assert (progress.outcome.warnings, progress.outcome.notes, progress.outcome.errors) == ([], [], [])
    document = progress.outcome.document(0, "test")
    assert document["warnings"] == [] and document["notes"] == [] and document["errors"] == []


def test_a_warning_printed_during_a_backup_is_in_the_log_once_at_its_level(log_file: str) -> None:
    progress = _progress()
    progress.warning("database FILES: SQL2430W")
    progress.message("[wsadmin] stop_servers done")
    assert _console(progress) == ["WARNING: database FILES: SQL2430W", "[wsadmin] stop_servers done"]
    [line] = _log_lines(log_file, "SQL2430W")
    assert line.endswith(" WARNING WARNING: database FILES: SQL2430W")  # the log level, then the console line
    [line] = _log_lines(log_file, "stop_servers done")
    assert line.endswith(" INFO    [wsadmin] stop_servers done")


def test_servers_running_again_reach_the_log_once(log_file: str, tmp_path) -> None:
    """A resumed backup found the servers running again: the warning is shown once and logged once
    (the end of the run repeats it as a warning line of its own)."""
    progress = _progress()
    journal = Journal.create(str(tmp_path), stops=["2024-01-01T00:00:00+0000"])
    env = types.SimpleNamespace(name="unit", section=lambda name: {"dir": str(tmp_path)})
    run = types.SimpleNamespace(journal=journal, warnings=[], progress=progress, log=get_logger(), env=env,
                                layout=types.SimpleNamespace(root=str(tmp_path)))
    wsadmin_phase._record_stop(run, {"stopped": ["N1/server1"]})  # type: ignore[arg-type]
    assert len(run.warnings) == 1 and "N1/server1" in run.warnings[0]
    assert _console(progress) == [f"[wsadmin] {run.warnings[0]}"]
    assert len(_log_lines(log_file, run.warnings[0])) == 1


def test_a_signing_key_missing_from_the_trusted_keys_is_a_warning(tmp_path) -> None:
    other, key, trusted = (str(tmp_path / name) for name in ("other.pem", "key.pem", "trusted-keys"))
    ensure_signing_key(other, trusted)  # the trusted-keys file holds the other key only
    messages = ensure_signing_key(key, trusted)
    assert [level for level, _ in messages] == [Level.INFO, Level.WARNING]
    progress = _progress()
    for level, text in messages:
        progress.message(text, level)
    lines = _console(progress)
    assert lines[0].startswith(f"created the signing key {key}, public key fingerprint SHA256:")
    assert lines[1] == (f"WARNING: the signing key {key} is not in {trusted}: verify and restore with that file will "
                        "refuse the new set")
    assert progress.outcome.warnings == [lines[1][len("WARNING: "):]] and progress.outcome.notes == []


def _database_check(monkeypatch, error: BaseException) -> List[str]:
    def verifier(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(verify, "verify_database", verifier)
    manifest = types.SimpleNamespace(database_vendor="db2")
    env = types.SimpleNamespace()  # only passed on to the verifier
    checks = verify._verify_database(manifest, DatabaseRecord("FILES", "db2", "done"), env)  # type: ignore[arg-type]
    return [line for _, line in checks]


@pytest.mark.parametrize("error", [DbError("db2ckbkp: not found"), FileNotFoundError(2, "No such file", "db2ckbkp"),
                                   subprocess.TimeoutExpired(["ssh", "db"], 30)])
def test_a_verifier_that_cannot_run_is_a_bad_database(monkeypatch, error: BaseException) -> None:
    [line] = _database_check(monkeypatch, error)
    assert line.startswith("BAD database FILES") and "verifier could not run" in line


def test_a_bug_in_a_verifier_is_not_reported_as_a_bad_database(monkeypatch) -> None:
    with pytest.raises(TypeError, match="a programming error"):
        _database_check(monkeypatch, TypeError("a programming error"))

