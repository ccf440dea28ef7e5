"""The swap attacked by the user who owns the trees (issue 26): an unprivileged uid owns the
profile folder and the folder that holds it, as the WebSphere user does, and tries while root
restores to make root write, move, chown or chmod outside the deployment.

Each test checks root's own files themselves (bytes, owner, mode, nothing new inside root's
folders), not just that no exception came: a refusal is fine, an escalation is not.
"""
from __future__ import annotations

import io
import os
import stat
import threading
import time

import pytest

from cnxbackup.actions.restore.moves import Moves
from cnxbackup.actions.restore.operations import LocalRun
from cnxbackup.actions.restore.plan import file_operations
from cnxbackup.archive import create_archive, hash_file
from cnxbackup.errors import StepFailed
from cnxbackup.journal import Journal
from cnxbackup.manifest import ArchiveRecord
from cnxbackup.progress import Progress

if os.geteuid() != 0:
    pytest.skip("the intruder needs root to become another user", allow_module_level=True)

from intruder import UID, arena, as_intruder, give, intruder_loop  # noqa: E402

STAMP = "20261207T231500-5e5e5e"


def write(path: str, text: str, mode: int = 0o644) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, mode)


@pytest.fixture
def scene():
    """``A/victim`` (root's: a secret file, a folder), ``A/opt/app`` (the intruder's: the live
    profile and a copied file), a set with their backups, root's private journal."""
    with arena() as area:
        victim = os.path.join(area, "victim")
        write(os.path.join(victim, "secret"), "root only\n", 0o600)
        os.makedirs(os.path.join(victim, "folder", "data"))
        write(os.path.join(victim, "folder", "data", "root.db"), "root's data\n", 0o600)
        app = os.path.join(area, "opt", "app")
        source = os.path.join(area, "source")
        write(os.path.join(source, "profile", "config", "cell.xml"), "<backup/>\n")
        write(os.path.join(source, "registry.xml"), "<registry/>\n", 0o640)
        write(os.path.join(app, "profile", "config", "cell.xml"), "<live/>\n")
        write(os.path.join(app, "profile", "data", "live.db"), "live data\n")
        write(os.path.join(app, "registry.xml"), "<live registry/>\n")
        for folder, dirs, files in os.walk(app):
            give(folder, *(os.path.join(folder, n) for n in dirs + files))
        set_dir = os.path.join(area, "set")
        os.makedirs(os.path.join(set_dir, "archives"))
        result = create_archive(os.path.join(source, "profile"), os.path.join(set_dir, "archives", "profile.tar.zst"),
                                extra_tar_args=["--exclude=./data"])
        os.makedirs(os.path.join(set_dir, "files"))
        os.link(os.path.join(source, "registry.xml"), os.path.join(set_dir, "files", "registry.xml"))
        digest, size = hash_file(os.path.join(set_dir, "files", "registry.xml"))
        records = {
            "profile": ArchiveRecord(name="profile", kind="archive", source=os.path.join(app, "profile"),
                                     path="archives/profile.tar.zst", status="done", sha256=result.sha256,
                                     size=result.size, files=result.files, excluded=["./data"]),
            "registry": ArchiveRecord(name="registry", kind="copy", source=os.path.join(app, "registry.xml"),
                                      path="files/registry.xml", status="done", sha256=digest, size=size, mode="0640",
                                      uid=UID, gid=UID),
        }
        state = os.path.join(area, "state")
        os.makedirs(state, mode=0o700)
        yield {"area": area, "victim": victim, "app": app, "set": set_dir, "records": records,
               "moves": Moves(Journal.create(state, stamp=STAMP))}


def victim_state(victim: str) -> dict:
    found = {}
    for folder, dirs, files in os.walk(victim):
        for name in dirs + files:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            content = open(path, "rb").read() if stat.S_ISREG(info.st_mode) else b""
            found[os.path.relpath(path, victim)] = (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode), content)
    return found


def operations(scene: dict, name: str):
    record = scene["records"][name]
    ops = file_operations(record, scene["set"], record.source, STAMP)
    run = LocalRun(Progress(io.StringIO(), plain=True), threading.Event(), name, record.sha256, set_dir=scene["set"],
                   expected_members=record.files if record.is_archive else None, allow_special=True,
                   moves=scene["moves"])
    return ops, run


def flip(name: str, target: str) -> None:
    """One round of the intruder: the container there swapped for a link to root's folder, or back."""
    moved = name + ".moved"
    if os.path.islink(name):
        os.unlink(name)
        os.rename(moved, name)
    else:
        os.rename(name, moved)
        os.symlink(target, name)


def live_texts(root: str) -> set:
    """The content of every regular file below ``root`` (wherever it went)."""
    found = set()
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                found.add(open(path, "rb").read())
    return found


@pytest.mark.parametrize("item", ["profile", "registry"])
def test_a_container_swapped_for_a_link_in_a_loop_never_leads_root_outside(scene, item) -> None:
    """The staged profile's container (or the copied file's, before its owner and mode are set)
    renamed away and replaced by a link to root's folder, again and again, while root stages and
    swaps: root refuses or finishes, nothing of root's changes, and no live file is lost."""
    before = victim_state(scene["victim"])
    live = live_texts(scene["app"])
    record = scene["records"][item]
    ops, run = operations(scene, item)
    container = record.source + ".cnxrestore-" + STAMP
    ops.stage[0].run_local(run)  # root's container, before the intruder knows its name
    loop = intruder_loop(flip, container, os.path.join(scene["victim"], "folder"))
    try:
        while loop.rounds < 20:  # the race is on before root goes on
            time.sleep(0.001)
        for op in ops.stage[1:] + ops.swap:
            op.run_local(run)
        outcome = "done"
    except (StepFailed, OSError) as error:
        outcome = f"refused: {error}"
    finally:
        rounds = loop.stop()
    assert rounds > 0  # the intruder did run
    assert victim_state(scene["victim"]) == before, outcome
    assert live <= live_texts(scene["app"]), outcome  # every live file is still somewhere


@pytest.mark.parametrize("item", ["profile", "registry"])
def test_a_container_swapped_for_a_link_between_two_steps_is_refused(scene, item) -> None:
    """The same swap made once, between root's steps: every later step refuses (the identity at
    the container's name is not the one recorded), and nothing of root's changes."""
    before = victim_state(scene["victim"])
    record = scene["records"][item]
    ops, run = operations(scene, item)
    container = record.source + ".cnxrestore-" + STAMP
    ops.stage[0].run_local(run)
    as_intruder(flip, container, os.path.join(scene["victim"], "folder"))
    for op in ops.stage[1:] + ops.swap:
        with pytest.raises(StepFailed, match="not the container this restore made"):
            op.run_local(run)
    assert victim_state(scene["victim"]) == before
    assert open(os.path.join(scene["app"], "profile", "config", "cell.xml")).read() == "<live/>\n"


def test_a_container_name_planted_by_the_intruder_refuses_before_anything_moves(scene) -> None:
    ops, run = operations(scene, "profile")
    container = scene["records"]["profile"].source + ".cnxrestore-" + STAMP
    as_intruder(os.symlink, os.path.join(scene["victim"], "folder"), container)
    with pytest.raises(StepFailed, match="already exists and is not this restore's"):
        ops.stage[0].run_local(run)
    assert os.listdir(os.path.join(scene["victim"], "folder")) == ["data"]
    assert open(os.path.join(scene["app"], "profile", "config", "cell.xml")).read() == "<live/>\n"


def test_a_live_tree_replaced_by_a_link_to_root_s_folder_is_moved_aside_as_a_link(scene) -> None:
    """The intruder replaces the live profile by a link to root's folder before the swap: the
    carry never goes through it (root's ``data`` stays where it is), the link itself is what is
    moved aside, and the restored profile takes its place."""
    ops, run = operations(scene, "profile")
    for op in ops.stage:
        op.run_local(run)
    profile = scene["records"]["profile"].source

    def replace_by_link(path: str, target: str) -> None:
        os.rename(path, path + ".mine")
        os.symlink(target, path)

    before = victim_state(scene["victim"])
    as_intruder(replace_by_link, profile, os.path.join(scene["victim"], "folder"))
    with pytest.raises((StepFailed, OSError)):
        for op in ops.swap:
            op.run_local(run)
    assert victim_state(scene["victim"]) == before
    assert os.path.islink(profile)  # nothing was swapped through it


def test_the_copied_file_gets_its_owner_and_mode_on_the_staged_copy_only(scene) -> None:
    """SetOwner/SetMode work on the staged copy inside root's container, through a descriptor:
    a link the intruder puts at the live name is moved aside as a link, root's secret untouched."""
    ops, run = operations(scene, "registry")
    for op in ops.stage:
        op.run_local(run)
    registry = scene["records"]["registry"].source
    as_intruder(lambda: (os.unlink(registry), os.symlink(os.path.join(scene["victim"], "secret"), registry)))
    for op in ops.swap:
        op.run_local(run)
    info = os.lstat(registry)
    assert stat.S_ISREG(info.st_mode) and (info.st_uid, stat.S_IMODE(info.st_mode)) == (UID, 0o640)
    assert open(registry).read() == "<registry/>\n"
    secret = os.lstat(os.path.join(scene["victim"], "secret"))
    assert (secret.st_uid, stat.S_IMODE(secret.st_mode)) == (0, 0o600)
    assert os.path.islink(os.path.join(registry + ".cnxrestore-" + STAMP, "replaced"))


def test_an_absolute_link_in_the_intruder_s_tree_never_leads_root_to_a_root_folder(scene) -> None:
    """``data`` in the intruder's connections_root made a link to ``/usr``-like root folder: the item
    below it (local data) is not staged there: the link's step up to / is refused (systemd's rule)."""
    from cnxbackup.dirfd import UnsafePath

    cr = os.path.join(scene["app"], "cr")
    os.makedirs(cr)
    give(cr)
    as_intruder(os.symlink, scene["victim"], os.path.join(cr, "data"))
    record = ArchiveRecord(name="local", kind="archive", source=os.path.join(cr, "data", "folder"),
                           path="archives/profile.tar.zst", status="done")
    ops = file_operations(record, scene["set"], record.source, STAMP)
    _, run = operations(scene, "profile")
    before = victim_state(scene["victim"])
    with pytest.raises(UnsafePath, match="leads to /"):
        ops.stage[0].run_local(run)
    assert victim_state(scene["victim"]) == before and sorted(os.listdir(scene["victim"])) == ["folder", "secret"]
