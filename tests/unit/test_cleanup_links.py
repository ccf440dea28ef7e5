"""``cleanup`` never walks through a link and never runs beside an unfinished restore (issue 26):
a profile folder replaced by a link to another tree, a leftover that is a link, a folder swapped
for a link between the listing and the removal; and the refusal while a restore of the
environment has not finished (its ``--resume`` needs the moved-aside copies)."""

from __future__ import annotations

import json
import os
import shutil
import types

import pytest

from cnxbackup.actions.cleanup_cmd import refuse_while_a_restore_is_unfinished, remove_leftovers
from cnxbackup.actions.restore.leftovers import find_leftovers
from cnxbackup.errors import CnxBackupError
from cnxbackup.progress import Progress
from cnxbackup.transport.local import LocalTransport

STAMP = "cnxbackup-replaced-20260101T000000"


def _tree(tmp_path):
    profiles = tmp_path / "profiles"
    source = profiles / "AppSrv01"
    (source / "config").mkdir(parents=True)
    (profiles / ("AppSrv01." + STAMP) / "config").mkdir(parents=True)  # moved aside by a restore
    (source / "cnxrestore-new").mkdir()  # a staging folder inside
    victim = tmp_path / "victim"
    (victim / STAMP).mkdir(parents=True)
    (victim / STAMP / "precious").write_text("root's\n")
    (victim / "cnxrestore-new").mkdir()
    (victim / "cnxrestore-new" / "precious").write_text("root's\n")
    item = types.SimpleNamespace(host="local", name="profile", source=str(source))
    return item, source, victim


def _remove(found, progress=None):
    entries = [{"removed": False} for _ in found]
    failed = remove_leftovers(found, entries, {}, LocalTransport(), progress or Progress(open(os.devnull, "w"), plain=True))
    return failed, entries


def test_the_fixed_forms_are_found_and_removed(tmp_path) -> None:
    item, source, _victim = _tree(tmp_path)
    found = find_leftovers([item], {}, LocalTransport())
    assert sorted(os.path.basename(lo.path) for lo in found) == ["AppSrv01." + STAMP, "cnxrestore-new"]
    assert not any(lo.link for lo in found) and all(lo.holder for lo in found)
    assert _remove(found)[0] == 0
    assert sorted(os.listdir(source.parent)) == ["AppSrv01"] and os.listdir(source) == ["config"]


def test_a_profile_folder_replaced_by_a_link_is_named_and_nothing_inside_its_target_is_removed(tmp_path) -> None:
    item, source, victim = _tree(tmp_path)
    (source / "cnxrestore-new").rmdir()
    os.rename(source, str(source) + ".real")
    os.symlink(victim, source)  # the WebSphere user's profile folder is now a link to root's tree
    found = find_leftovers([item], {}, LocalTransport())
    inside = [lo for lo in found if os.path.dirname(lo.path) == str(source)]
    assert inside and all(lo.link for lo in inside)
    failed, entries = _remove(found)
    assert failed == 0 and [e["removed"] for lo, e in zip(found, entries) if lo.link] == [False] * len(inside)
    assert (victim / STAMP / "precious").read_text() == "root's\n"
    assert (victim / "cnxrestore-new" / "precious").read_text() == "root's\n"


def test_a_leftover_that_is_a_link_is_skipped(tmp_path) -> None:
    item, source, victim = _tree(tmp_path)
    os.symlink(victim / STAMP, str(source) + ".cnxbackup-replaced-20260102T000000")
    found = find_leftovers([item], {}, LocalTransport())
    link = [lo for lo in found if lo.path.endswith("20260102T000000")]
    assert len(link) == 1 and link[0].link
    _remove(found)
    assert os.path.islink(str(source) + ".cnxbackup-replaced-20260102T000000")
    assert (victim / STAMP / "precious").exists()


def test_a_folder_swapped_for_a_link_after_the_listing_is_left_alone(tmp_path) -> None:
    item, source, victim = _tree(tmp_path)
    found = [lo for lo in find_leftovers([item], {}, LocalTransport()) if lo.path.endswith("cnxrestore-new")]
    os.rename(source, str(source) + ".real")  # between the listing and the removal
    os.symlink(victim, source)
    failed, entries = _remove(found)
    assert failed == 1 and not entries[0]["removed"]
    assert (victim / "cnxrestore-new" / "precious").read_text() == "root's\n"


def _env(target: str) -> types.SimpleNamespace:
    sections = {"target": {"dir": target, "restore_state": os.path.join(target, "state")}}
    return types.SimpleNamespace(name="demo", section=lambda name: sections.get(name, {}))


@pytest.mark.parametrize("journal", ['{"status": "running"}', None])
def test_cleanup_refuses_while_a_restore_of_the_environment_has_not_finished(tmp_path, journal) -> None:
    restore = tmp_path / "state" / "demo-20260101T000000" / "restore-20260102T000000"
    restore.mkdir(parents=True)
    if journal is not None:
        (restore / "journal.json").write_text(journal)
    else:
        os.mkfifo(restore / "journal.json")  # unreadable counts as unfinished (and does not hang)
    with pytest.raises(CnxBackupError, match="restore-20260102T000000"):
        refuse_while_a_restore_is_unfinished(_env(str(tmp_path)))  # type: ignore[arg-type]
    os.unlink(restore / "journal.json")
    (restore / "journal.json").write_text(json.dumps({"status": "complete"}))
    refuse_while_a_restore_is_unfinished(_env(str(tmp_path)))  # type: ignore[arg-type]


class _SwappingTransport(LocalTransport):
    """The local shell, with a ``stat`` first on PATH that turns the source folder into a link to
    the victim tree just before it looks at the source: the race of issue 26 (a source checked as a
    folder, then swapped for a link before its identity is taken) made to happen every time."""

    def __init__(self, shim: str) -> None:
        self.shim = shim

    def argv(self, host, remote_command):  # type: ignore[no-untyped-def]
        return ["env", f"PATH={self.shim}:{os.environ.get('PATH', '/usr/bin:/bin')}", "sh", "-c", remote_command]


def test_a_source_swapped_for_a_link_while_the_listing_takes_its_identity_loses_nothing_of_the_target(tmp_path) -> None:
    item, source, victim = _tree(tmp_path)
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "stat").write_text(
        "#!/bin/sh\n"
        "for last; do :; done\n"
        f"if [ \"$last\" = '{source}' ] && [ ! -L '{source}' ]; then\n"
        f"  mv '{source}' '{source}.real' && ln -s '{victim}' '{source}'\n"
        "fi\n"
        f"exec {shutil.which('stat')} \"$@\"\n")
    (shim / "stat").chmod(0o755)
    found = find_leftovers([item], {}, _SwappingTransport(str(shim)))
    assert os.path.islink(source)  # the swap happened while the listing looked at the source
    inside = [lo for lo in found if os.path.dirname(lo.path) == str(source)]
    assert inside and all(lo.link or lo.holder != "%d:%d" % (os.stat(victim).st_dev, os.stat(victim).st_ino)
                          for lo in inside)  # never recorded with the link target's identity
    _remove(found)
    assert (victim / "cnxrestore-new" / "precious").read_text() == "root's\n"
    assert (victim / STAMP / "precious").read_text() == "root's\n"
