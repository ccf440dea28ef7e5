"""The restore's own state: where its journal lives, which restores count as unfinished, and how
its containers are found again (issue 26, items 1, 5 and 7)."""
from __future__ import annotations

import json
import os
import types

import pytest

from cnxbackup.actions.restore.moves import MoveRecord, Moves, make_container, open_container
from cnxbackup.actions.sets.naming import restore_state_root, unfinished_restores, unfinished_restores_of
from cnxbackup.dirfd import UnsafePath, make_private_at
from cnxbackup.errors import StepFailed
from cnxbackup.journal import Journal


def env_with(state: str, name: str = "demo") -> types.SimpleNamespace:
    sections = {"target": {"dir": "/backups", "restore_state": state}}
    return types.SimpleNamespace(name=name, section=lambda key: sections.get(key, {}))


@pytest.mark.parametrize("status, unfinished", [("running", True), ("failed", True), ("interrupted", True),
                                                ("complete", False), ("refused", False), ("discarding", False)])
def test_which_restores_count_as_unfinished(tmp_path, status, unfinished) -> None:
    """``discarding``: its staging was being removed before anything stopped; it is never resumed
    (a half-removed staged tree must not be swapped in), and cleanup may remove what is left."""
    folder = tmp_path / "state" / "demo-20261201T000000" / "restore-20261207T000000-abcdef"
    folder.mkdir(parents=True)
    (folder / "journal.json").write_text(json.dumps({"status": status, "environment": "demo"}))
    env = env_with(str(tmp_path / "state"))
    found = unfinished_restores(env, "/backups/demo-20261201T000000")  # type: ignore[arg-type]
    assert bool(found) == unfinished
    assert bool(unfinished_restores_of(env)) == unfinished  # type: ignore[arg-type]
    assert not unfinished_restores_of(env_with(str(tmp_path / "state"), "other"))  # type: ignore[arg-type]


def test_the_state_root_is_never_a_folder_others_can_change(tmp_path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o777)
    with pytest.raises(UnsafePath, match="others could change"):
        make_private_at(str(shared / "restores" / "restore-x"))
    make_private_at(str(tmp_path / "mine" / "restore-x"))
    assert oct(os.stat(tmp_path / "mine" / "restore-x").st_mode & 0o777) == "0o700"
    with pytest.raises(FileExistsError):  # a restore's folder is always new
        make_private_at(str(tmp_path / "mine" / "restore-x"))


def test_the_default_state_root_is_root_s_own_folder_and_the_demo_s() -> None:
    env = types.SimpleNamespace(name="demo", section=lambda key: {"demo": {"root": "/srv/demo"}}.get(key, {}))
    assert restore_state_root(env) == "/srv/demo/restore-state"  # type: ignore[arg-type]
    bare = types.SimpleNamespace(name="prod", section=lambda key: {})
    if os.geteuid() == 0:
        assert restore_state_root(bare) == "/var/lib/cnxbackup/restores"  # type: ignore[arg-type]


def moves_in(tmp_path) -> Moves:
    (tmp_path / "journal").mkdir(mode=0o700)
    return Moves(Journal.create(str(tmp_path / "journal")))


def test_a_container_made_just_before_a_crash_is_taken_back_only_when_empty(tmp_path) -> None:
    moves = moves_in(tmp_path)
    path = str(tmp_path / "app.cnxrestore-20261207T000000-abcdef")
    moves.put("container:/x/app", MoveRecord("intent", None, "", path))
    os.mkdir(path, 0o700)  # made, identity not yet recorded: the crash
    os.mkdir(os.path.join(path, "replaced"))  # ... and an older restore's content renamed there
    with pytest.raises(StepFailed, match="not the empty folder"):
        make_container(moves, path, "/x/app")
    os.rmdir(os.path.join(path, "replaced"))
    make_container(moves, path, "/x/app")  # empty: ours
    os.close(open_container(moves, path, "/x/app"))


def test_a_container_is_found_only_where_it_was_made(tmp_path) -> None:
    """A mount point then, a plain folder now (or the reverse) gives another container path: the
    resume says to mount the filesystem as it was, rather than not finding its container."""
    moves = moves_in(tmp_path)
    path = str(tmp_path / "shared.cnxrestore-20261207T000000-abcdef")
    make_container(moves, path, "/x/shared")
    with pytest.raises(StepFailed, match="mounted as it was"):
        open_container(moves, str(tmp_path / "shared" / "cnxrestore-20261207T000000-abcdef"), "/x/shared")


def test_each_kind_of_step_records_only_its_own_fields(tmp_path) -> None:
    from cnxbackup.actions.restore.plan import RestoreStep
    from cnxbackup.actions.restore.records import FileStepRecord, ResultStepRecord, StepLog, StepRecord

    (tmp_path / "j").mkdir(mode=0o700)
    log = StepLog(Journal.create(str(tmp_path / "j")))
    file_step, stop, db = (RestoreStep("file:app", "t", "file"), RestoreStep("stop", "t", "stop"),
                           RestoreStep("db:HOMEPAGE", "t", "db"))
    log.begin(file_step, ops_done=2)
    log.done(file_step, replaced=["/opt/app.cnxrestore-x/replaced"], forced=None)
    log.done(stop, result={"stopped": ["a"]})
    log.failed(db, "SQL2043N")
    reloaded = StepLog(Journal.load(str(tmp_path / "j")))
    record = reloaded.record(file_step)
    assert isinstance(record, FileStepRecord) and record.finished and record.ops_done == 2
    assert list(record.replaced) == ["/opt/app.cnxrestore-x/replaced"]
    assert isinstance(reloaded.record(stop), ResultStepRecord) and reloaded.record(stop).result == {"stopped": ["a"]}
    failed = reloaded.record(db)
    assert type(failed) is StepRecord and failed.status == "failed" and failed.error == "SQL2043N"
    with pytest.raises(TypeError, match="records no result"):
        log.done(db, result={})
    with pytest.raises(TypeError, match="records no ops_done"):
        log.begin(stop, ops_done=1)


def test_discard_replaced_removes_only_the_recorded_container_and_forgets_it(tmp_path) -> None:
    from cnxbackup.actions.restore.run import _discard_replaced

    moves = moves_in(tmp_path)
    path = str(tmp_path / "app.cnxrestore-20261207T000000-abcdef")
    make_container(moves, path, "/x/app")
    os.makedirs(os.path.join(path, "replaced", "old"))
    stranger = str(tmp_path / "other.cnxrestore-20261207T000000-abcdef")
    os.makedirs(os.path.join(stranger, "replaced"))  # not recorded: never removed
    _discard_replaced(os.path.join(path, "replaced"), moves.journal)
    _discard_replaced(os.path.join(stranger, "replaced"), moves.journal)
    assert not os.path.exists(path) and moves.container("/x/app") is None
    assert os.path.isdir(os.path.join(stranger, "replaced"))
