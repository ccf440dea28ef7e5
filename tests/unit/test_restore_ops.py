"""The restore operations: their shell text, their execution here and on another host agree.

Each item's operations are run three ways on three copies of the same live tree -- executed
here (``run_local``), executed "on another host" through the local transport (``run_remote``,
the code path ssh hosts take), and as the shell text RESTORE.md prints, run by ``sh`` -- and
the three trees must come out identical. The crash matrix of the swap is in test_swap_crash.py.
"""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import threading

import pytest

from cnxbackup.actions.restore.moves import Moves
from cnxbackup.actions.restore.operations import (
    Carry,
    Container,
    CopyFile,
    Extract,
    LocalRun,
    MakeContainer,
    MoveAside,
    MoveContentsAside,
    MoveContentsIn,
    MoveIntoPlace,
    RemoteRun,
    SetMode,
    SetOwner,
)
from cnxbackup.actions.restore.plan import file_operations
from cnxbackup.archive import create_archive, hash_file
from cnxbackup.errors import StepFailed
from cnxbackup.hosts import Host
from cnxbackup.journal import Journal
from cnxbackup.manifest import ArchiveRecord
from cnxbackup.progress import Progress
from cnxbackup.transport.local import LocalTransport

STAMP = "20261201T120000-a1b2c3"


def tree_state(root: str) -> dict:
    """Every path under root: type, mode and content (or link target)."""
    state = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            info = os.lstat(path)
            if os.path.islink(path):
                state[rel] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                state[rel] = ("dir", oct(info.st_mode & 0o7777))
            else:
                with open(path, "rb") as handle:
                    state[rel] = ("file", oct(info.st_mode & 0o7777), hashlib.sha256(handle.read()).hexdigest())
    return state


def write(path: str, text: str, mode: int = 0o644) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, mode)


@pytest.fixture
def backed_up(tmp_path):
    """A folder item with a nested, separately archived folder, and a copied file: archived."""
    source = tmp_path / "source"
    write(str(source / "app" / "config.xml"), "<restored/>")
    write(str(source / "app" / "bin" / "run.sh"), "#!/bin/sh\n", 0o755)
    os.symlink("bin/run.sh", source / "app" / "run")
    set_dir = tmp_path / "set"
    (set_dir / "archives").mkdir(parents=True)
    (set_dir / "files" / "reg").mkdir(parents=True)
    result = create_archive(str(source / "app"), str(set_dir / "archives" / "app.tar.zst"),
                            extra_tar_args=["--exclude=./data"])
    write(str(set_dir / "files" / "reg" / "registry.xml"), "<registry/>", 0o600)
    digest, size = hash_file(str(set_dir / "files" / "reg" / "registry.xml"))
    folder = ArchiveRecord(name="app", kind="archive", source="/opt/app", path="archives/app.tar.zst", status="done",
                           sha256=result.sha256, size=result.size, files=result.files, excluded=["./data"])
    copied = ArchiveRecord(name="reg", kind="copy", source="/opt/registry.xml", path="files/reg/registry.xml",
                           status="done", sha256=digest, size=size, mode="0640", uid=os.getuid(), gid=os.getgid())
    return str(set_dir), folder, copied


def live_tree(root: str) -> None:
    """The deployment as it is before the restore: edited config, live nested data."""
    write(os.path.join(root, "app", "config.xml"), "<edited by the failed upgrade/>")
    write(os.path.join(root, "app", "new-in-upgrade.txt"), "x")
    write(os.path.join(root, "app", "data", "live.db"), "live data, not in the archive")
    write(os.path.join(root, "registry.xml"), "<registry edited/>")


def ops_of(record: ArchiveRecord, set_dir: str, dest: str):
    """An item's operations in the order a restore runs them: staging, then the swap."""
    both = file_operations(record, set_dir, dest, STAMP)
    return both.stage + both.swap


def operations(set_dir: str, root: str, folder: ArchiveRecord, copied: ArchiveRecord):
    return ops_of(folder, set_dir, os.path.join(root, "app")) + ops_of(copied, set_dir, os.path.join(root, "registry.xml"))


def new_moves(folder: str) -> Moves:
    """A restore journal of its own (in production: root's state folder)."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return Moves(Journal.create(folder, stamp=STAMP))


def local_run(set_dir: str, record: ArchiveRecord, moves: Moves) -> LocalRun:
    return LocalRun(Progress(io.StringIO(), plain=True), threading.Event(), record.name, record.sha256,
                    set_dir=set_dir, expected_members=record.files if record.is_archive else None, moves=moves)


def remote_run(set_dir: str, record: ArchiveRecord) -> RemoteRun:
    return RemoteRun(LocalTransport(), Host("node1", "node1.example.com"), record.sha256, set_dir=set_dir,
                     expected_members=record.files if record.is_archive else None)


def run_three_ways(tmp_path, backed_up):
    set_dir, folder, copied = backed_up
    roots = {how: str(tmp_path / how) for how in ("local", "remote", "shell")}
    for root in roots.values():
        live_tree(root)
    moves = new_moves(str(tmp_path / "journal"))
    for record, dest in ((folder, "app"), (copied, "registry.xml")):
        for op in ops_of(record, set_dir, os.path.join(roots["local"], dest)):
            op.run_local(local_run(set_dir, record, moves))
        for op in ops_of(record, set_dir, os.path.join(roots["remote"], dest)):
            op.run_remote(remote_run(set_dir, record))
    script = "set -e\n" + "\n".join(op.shell() for op in operations(set_dir, roots["shell"], folder, copied))
    proc = subprocess.run(["sh", "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return roots


def test_shell_text_local_and_remote_execution_give_the_same_tree(tmp_path, backed_up) -> None:
    roots = run_three_ways(tmp_path, backed_up)
    local = tree_state(roots["local"])
    assert local == tree_state(roots["remote"]) == tree_state(roots["shell"])
    assert local["app/config.xml"][2] == hashlib.sha256(b"<restored/>").hexdigest()
    assert local["app/run"] == ("link", "bin/run.sh") and local["app/bin/run.sh"][1] == "0o755"
    assert local["app/data/live.db"][0] == "file"  # the nested live item was carried over
    assert local[f"app.cnxrestore-{STAMP}"] == ("dir", "0o700")  # root's container, beside
    assert f"app.cnxrestore-{STAMP}/replaced/new-in-upgrade.txt" in local  # replaced, kept inside it
    assert local["registry.xml"][1:] == ("0o640", hashlib.sha256(b"<registry/>").hexdigest())
    assert f"registry.xml.cnxrestore-{STAMP}/replaced" in local
    assert not [path for path in local if path.endswith("/staged")]


def test_the_shell_text_is_what_restore_md_prints() -> None:
    box = Container("/opt/a.cnxrestore-S", "/opt/a")
    assert MakeContainer(box).shell() == "mkdir -m 700 /opt/a.cnxrestore-S && mkdir /opt/a.cnxrestore-S/staged"
    assert MakeContainer(Container("/opt/a b.x", "/opt/a b"), False).shell() == "mkdir -m 700 '/opt/a b.x'"
    assert Extract("/set/x.tar.zst", box).shell() == ("zstd -dc /set/x.tar.zst | tar -xpf - --same-owner -C "
                                                      "/opt/a.cnxrestore-S/staged")
    assert (Extract("/set/x.tar.zst", box).remote_shell("ssh -p 22 n1")
            == "ssh -p 22 n1 'zstd -dc | tar -xpf - --same-owner -C /opt/a.cnxrestore-S/staged' < /set/x.tar.zst")
    assert (Carry("/opt/a", "d", box).shell()
            == "if [ -d /opt/a.cnxrestore-S/staged ] && [ ! -e /opt/a.cnxrestore-S/replaced ] && [ -e /opt/a/d ]; then "
               "mkdir -p /opt/a.cnxrestore-S/staged && mv -T -- /opt/a/d /opt/a.cnxrestore-S/staged/d; fi")
    assert "test ! -h /opt/a.cnxrestore-S/staged/x && mkdir -p /opt/a.cnxrestore-S/staged/x" in Carry("/opt/a", "x/d", box).shell()
    assert (MoveAside("/opt/a", box).shell()
            == "test -e /opt/a.cnxrestore-S/replaced || test ! -e /opt/a || mv -T -- /opt/a /opt/a.cnxrestore-S/replaced")
    assert (MoveIntoPlace(box, "/opt/a").shell()
            == "if [ -e /opt/a.cnxrestore-S/staged ]; then mv -T -- /opt/a.cnxrestore-S/staged /opt/a; else test -e /opt/a; fi")
    assert CopyFile("/set/f", box).shell() == "cp -p /set/f /opt/a.cnxrestore-S/staged"
    assert CopyFile("/set/f", box).remote_shell("ssh n1") == "ssh n1 'cat > /opt/a.cnxrestore-S/staged' < /set/f"
    assert SetMode("0640", box).shell() == "chmod 0640 /opt/a.cnxrestore-S/staged"
    assert SetOwner(1000, 1001, box).shell() == "chown 1000:1001 /opt/a.cnxrestore-S/staged"
    mount = Container("/nfs/cnxrestore-S", "/nfs")
    assert (MoveContentsAside("/nfs", mount).shell()
            == "test -e /nfs/cnxrestore-S/replaced/.cnxrestore-moved-aside || { mkdir -p /nfs/cnxrestore-S/replaced && "
               "find /nfs -mindepth 1 -maxdepth 1 ! -name cnxrestore-S -exec mv -t /nfs/cnxrestore-S/replaced {} + && "
               ": > /nfs/cnxrestore-S/replaced/.cnxrestore-moved-aside; }")
    assert (MoveContentsIn(mount, "/nfs").shell()
            == "test ! -d /nfs/cnxrestore-S/staged || { find /nfs/cnxrestore-S/staged -mindepth 1 -maxdepth 1 -exec mv -t "
               "/nfs {} + && rmdir /nfs/cnxrestore-S/staged; }")
    assert MoveAside("/a", box).replaced == box.replaced and MoveContentsAside("/a", mount).replaced == mount.replaced
    assert MakeContainer(box).replaced is None and MoveIntoPlace(box, "/b").replaced is None


@pytest.mark.parametrize("mounted", [False, True])
def test_the_hand_run_steps_pasted_twice_do_nothing_more(tmp_path, backed_up, mounted) -> None:
    """RESTORE.md's blocks, run in a shell once and then once more: the second run changes nothing
    (no tree moved into the folder the first run made, no moved-aside copy overwritten); its
    ``mkdir`` of the container fails, which stops a pasted block before anything else."""
    set_dir, folder, copied = backed_up
    root = str(tmp_path / "live")
    live_tree(root)
    dest = os.path.join(root, "app")
    if mounted:  # a mount point's forms (its contents moved, inside it), as RESTORE.md prints them there
        box = Container(os.path.join(dest, "cnxrestore-" + STAMP), dest)
        ops = [MakeContainer(box), Extract(os.path.join(set_dir, folder.path), box),
               MoveContentsAside(dest, box), MoveContentsIn(box, dest)]
    else:
        ops = operations(set_dir, root, folder, copied)
    script = "set -e\n" + "\n".join(op.shell() for op in ops)
    subprocess.run(["sh", "-c", script], check=True, capture_output=True)
    once = tree_state(root)
    assert once != {}
    again_script = "\n".join(op.shell() for op in ops[2:] if not isinstance(op, (MakeContainer, Extract, CopyFile)))
    second = subprocess.run(["sh", "-c", again_script], capture_output=True, text=True)
    assert tree_state(root) == once, second.stdout + second.stderr


def test_an_interrupted_extraction_into_the_container_starts_afresh(tmp_path, backed_up) -> None:
    set_dir, folder, _ = backed_up
    moves = new_moves(str(tmp_path / "journal"))
    box = Container(str(tmp_path / f"app.cnxrestore-{STAMP}"), str(tmp_path / "app"))
    MakeContainer(box).run_local(local_run(set_dir, folder, moves))
    write(os.path.join(box.staged, "half-written"), "partial")
    Extract(os.path.join(set_dir, folder.path), box).run_local(local_run(set_dir, folder, moves))
    assert sorted(os.listdir(box.staged)) == ["bin", "config.xml", "run"]


def test_a_container_this_restore_did_not_record_is_never_used(tmp_path, backed_up) -> None:
    """A folder planted under the container's name (or any name this restore has not recorded
    with its identity) is neither emptied nor extracted into."""
    set_dir, folder, _ = backed_up
    moves = new_moves(str(tmp_path / "journal"))
    planted = Container(str(tmp_path / f"app.cnxrestore-{STAMP}"), str(tmp_path / "app"))
    write(os.path.join(planted.staged, "precious"), "keep")
    with pytest.raises(StepFailed, match="no container of this restore is recorded"):
        Extract(os.path.join(set_dir, folder.path), planted).run_local(local_run(set_dir, folder, moves))
    with pytest.raises(StepFailed, match="already exists and is not this restore's"):
        MakeContainer(planted).run_local(local_run(set_dir, folder, moves))
    assert os.listdir(planted.staged) == ["precious"]


def test_moving_into_place_refuses_to_overwrite_what_was_not_moved_aside(tmp_path, backed_up) -> None:
    set_dir, folder, _ = backed_up
    moves = new_moves(str(tmp_path / "journal"))
    box = Container(str(tmp_path / f"dest.cnxrestore-{STAMP}"), str(tmp_path / "dest"))
    MakeContainer(box).run_local(local_run(set_dir, folder, moves))
    write(os.path.join(box.staged, "a"), "new")
    write(str(tmp_path / "dest" / "b"), "old")
    with pytest.raises(StepFailed, match="already exists and is not this restore's"):
        MoveIntoPlace(box, str(tmp_path / "dest")).run_local(local_run(set_dir, folder, moves))
    assert os.listdir(tmp_path / "dest") == ["b"] and os.listdir(box.staged) == ["a"]


def test_a_copied_file_that_does_not_match_its_digest_is_refused(tmp_path, backed_up) -> None:
    set_dir, _, copied = backed_up
    moves = new_moves(str(tmp_path / "journal"))
    box = Container(str(tmp_path / f"registry.xml.cnxrestore-{STAMP}"), str(tmp_path / "registry.xml"))
    MakeContainer(box, False).run_local(local_run(set_dir, copied, moves))
    wrong = LocalRun(Progress(io.StringIO(), plain=True), threading.Event(), "reg", "0" * 64, set_dir=set_dir, moves=moves)
    with pytest.raises(Exception, match="(?i)sha-?256|checksum|digest"):
        CopyFile(os.path.join(set_dir, copied.path), box).run_local(wrong)
    remote = Container(str(tmp_path / "remote.x"), str(tmp_path / "remote"))
    os.mkdir(remote.path)
    with pytest.raises(StepFailed, match="does not match its manifest checksum"):
        CopyFile(os.path.join(set_dir, copied.path), remote).run_remote(
            RemoteRun(LocalTransport(), Host("n1", "n1"), "0" * 64, set_dir=set_dir))
    assert os.listdir(box.path) == [] and os.listdir(remote.path) == []


def test_contents_of_a_mount_point_are_moved_aside_inside_it_and_the_staged_tree_moved_in(tmp_path, backed_up) -> None:
    set_dir, folder, _ = backed_up
    moves = new_moves(str(tmp_path / "journal"))
    mount = str(tmp_path / "shared")
    write(os.path.join(mount, "old.txt"), "old")
    box = Container(os.path.join(mount, f"cnxrestore-{STAMP}"), mount)
    ctx = local_run(set_dir, folder, moves)
    MakeContainer(box).run_local(ctx)
    write(os.path.join(box.staged, "restored.txt"), "restored")
    for op in (MoveContentsAside(mount, box), MoveContentsIn(box, mount)):
        op.run_local(ctx)
        op.run_local(ctx)  # again, as after a crash
    assert sorted(os.listdir(mount)) == [f"cnxrestore-{STAMP}", "restored.txt"]
    assert sorted(os.listdir(box.path)) == ["replaced"] and os.listdir(box.replaced) == ["old.txt"]


def test_a_failing_remote_operation_names_the_host_and_the_command(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StepFailed, match=r"on host n1: cannot make .*file/sub"):
        MakeContainer(Container(str(blocker / "sub"), str(blocker))).run_remote(RemoteRun(LocalTransport(), Host("n1", "n1")))


def test_file_operations_follow_the_record(tmp_path, backed_up) -> None:
    set_dir, folder, copied = backed_up
    ops = file_operations(folder, set_dir, "/opt/app", STAMP)
    box = Container(f"/opt/app.cnxrestore-{STAMP}", "/opt/app")
    assert [type(op).__name__ for op in ops.stage] == ["MakeContainer", "Extract"]
    assert [type(op).__name__ for op in ops.swap] == ["Carry", "MoveAside", "MoveIntoPlace"]
    assert ops.swap[0] == Carry("/opt/app", "data", box)
    assert ops.swap[0].into == f"/opt/app.cnxrestore-{STAMP}/staged/data"
    copy_ops = file_operations(copied, set_dir, "/opt/registry.xml", STAMP)
    file_box = Container(f"/opt/registry.xml.cnxrestore-{STAMP}", "/opt/registry.xml")
    assert [type(op).__name__ for op in copy_ops.stage] == ["MakeContainer", "CopyFile", "SetOwner", "SetMode"]
    assert copy_ops.stage[1] == CopyFile(os.path.join(set_dir, copied.path), file_box)
    assert [type(op).__name__ for op in copy_ops.swap] == ["MoveAside", "MoveIntoPlace"]
    bare = ArchiveRecord(name="f", kind="copy", source="/x", path="files/f/x", status="done")
    assert [type(op).__name__ for op in file_operations(bare, set_dir, "/x", STAMP).stage] == ["MakeContainer", "CopyFile"]
    shutil.rmtree(set_dir)


@pytest.mark.parametrize("signed", [True, False])
def test_extended_attributes_come_back_only_from_a_signed_set(tmp_path, signed) -> None:
    """An attribute can be a file capability or an SELinux label: from an unsealed set
    (--trust-unsealed) none is restored, however the (unsigned) manifest marks the archive."""
    from cnxbackup.archive import ATTRIBUTE_ARGS

    if os.geteuid() != 0:
        pytest.skip("attributes are restored as root only")
    source = tmp_path / "source"
    write(str(source / "bin" / "tool"), "#!/bin/sh\n", 0o755)
    try:
        os.setxattr(source / "bin" / "tool", "user.cnx.origin", b"backup")
    except OSError:
        pytest.skip("no user extended attributes on this filesystem")
    set_dir = tmp_path / "set"
    (set_dir / "archives").mkdir(parents=True)
    archive = str(set_dir / "archives" / "app.tar.zst")
    result = create_archive(str(source), archive, extra_tar_args=list(ATTRIBUTE_ARGS))
    moves = new_moves(str(tmp_path / "journal"))
    box = Container(str(tmp_path / f"app.cnxrestore-{STAMP}"), str(tmp_path / "app"))
    run = LocalRun(Progress(io.StringIO(), plain=True), threading.Event(), "app", result.sha256, set_dir=str(set_dir),
                   expected_members=result.files, allow_special=signed, moves=moves)
    MakeContainer(box).run_local(run)
    Extract(archive, box, attributes=True).run_local(run)
    restored = os.listxattr(os.path.join(box.staged, "bin", "tool"))
    assert ("user.cnx.origin" in restored) == signed
    assert Extract(archive, box, attributes=True).trusted_tar_options(False, True) == []
