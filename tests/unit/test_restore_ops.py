"""The restore operations: their shell text, their execution here and on another host agree.

Each item's operations are run three ways on three copies of the same live tree -- executed
here (``run_local``), executed "on another host" through the local transport (``run_remote``,
the code path ssh hosts take), and as the shell text RESTORE.md prints, run by ``sh`` -- and
the three trees must come out identical. Then every operation is shown to be safe to repeat
after a crash (the journal reruns the one that was running).
"""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import threading

import pytest

from cnxbackup.actions.restore.operations import (
    Carry,
    CopyFile,
    Extract,
    LocalRun,
    MakeDir,
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
from cnxbackup.manifest import ArchiveRecord
from cnxbackup.progress import Progress
from cnxbackup.transport.local import LocalTransport

STAMP = "20261201T120000"


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


def local_run(set_dir: str, record: ArchiveRecord) -> LocalRun:
    return LocalRun(Progress(io.StringIO(), plain=True), threading.Event(), record.name, record.sha256,
                    set_dir=set_dir, expected_members=record.files if record.is_archive else None)


def remote_run(set_dir: str, record: ArchiveRecord) -> RemoteRun:
    return RemoteRun(LocalTransport(), Host("node1", "node1.example.com"), record.sha256, set_dir=set_dir,
                     expected_members=record.files if record.is_archive else None)


def run_three_ways(tmp_path, backed_up):
    set_dir, folder, copied = backed_up
    roots = {how: str(tmp_path / how) for how in ("local", "remote", "shell")}
    for root in roots.values():
        live_tree(root)
    for record, dest in ((folder, "app"), (copied, "registry.xml")):
        for op in ops_of(record, set_dir, os.path.join(roots["local"], dest)):
            op.run_local(local_run(set_dir, record))
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
    assert f"app.cnxbackup-replaced-{STAMP}/new-in-upgrade.txt" in local  # replaced, kept beside
    assert local["registry.xml"][1:] == ("0o640", hashlib.sha256(b"<registry/>").hexdigest())
    assert f"registry.xml.cnxbackup-replaced-{STAMP}" in local
    assert not [path for path in local if ".cnxrestore-new" in path]


def test_the_shell_text_is_what_restore_md_prints() -> None:
    assert MakeDir("/opt/a b").shell() == "mkdir -p '/opt/a b'"
    assert Extract("/set/x.tar.zst", "/opt/a.new").shell() == "zstd -dc /set/x.tar.zst | tar -xpf - --same-owner -C /opt/a.new"
    assert (Extract("/set/x.tar.zst", "/opt/a.new").remote_shell("ssh -p 22 n1")
            == "ssh -p 22 n1 'zstd -dc | tar -xpf - --same-owner -C /opt/a.new' < /set/x.tar.zst")
    assert (Carry("/opt/a/d", "/opt/a.new/d", "/opt/a.new").shell()
            == "if [ -d /opt/a.new ] && [ -e /opt/a/d ]; then mkdir -p /opt/a.new && mv -T -- /opt/a/d /opt/a.new/d; fi")
    assert (Carry("/opt/a/x/d", "/opt/a.new/x/d", "/opt/a.new").shell()
            == "if [ -d /opt/a.new ] && [ -e /opt/a/x/d ]; then test ! -h /opt/a.new/x && mkdir -p /opt/a.new/x && "
               "mv -T -- /opt/a/x/d /opt/a.new/x/d; fi")
    assert MoveAside("/opt/a", "/opt/a.old").shell() == "test -e /opt/a.old || test ! -e /opt/a || mv -T -- /opt/a /opt/a.old"
    assert (MoveIntoPlace("/opt/a.new", "/opt/a").shell()
            == "if [ -e /opt/a.new ]; then mv -T -- /opt/a.new /opt/a; else test -e /opt/a; fi")
    assert CopyFile("/set/f", "/opt/f").shell() == "cp -p /set/f /opt/f"
    assert CopyFile("/set/f", "/opt/f").remote_shell("ssh n1") == "ssh n1 'cat > /opt/f' < /set/f"
    assert SetMode("0640", "/opt/f").shell() == "chmod 0640 /opt/f"
    assert SetOwner(1000, 1001, "/opt/f").shell() == "chown 1000:1001 /opt/f"
    assert MakeDir("/opt/x").remote_shell("ssh n1") == "ssh n1 'mkdir -p /opt/x'"
    assert (MoveContentsAside("/nfs", "/nfs/old", "/nfs/new").shell()
            == "test -e /nfs/old/.cnxrestore-moved-aside || { mkdir -p /nfs/old && find /nfs -mindepth 1 -maxdepth 1 "
               "! -name new ! -name old -exec mv -t /nfs/old {} + && : > /nfs/old/.cnxrestore-moved-aside; }")
    assert (MoveContentsIn("/nfs/new", "/nfs").shell()
            == "test ! -d /nfs/new || { find /nfs/new -mindepth 1 -maxdepth 1 -exec mv -t /nfs {} + && rmdir /nfs/new; }")
    assert MoveAside("/a", "/b").replaced == "/b" and MoveContentsAside("/a", "/b", "/c").replaced == "/b"
    assert MakeDir("/a").replaced is None and MoveIntoPlace("/a", "/b").replaced is None


@pytest.mark.parametrize("mounted", [False, True])
def test_the_hand_run_steps_pasted_twice_do_nothing_more(tmp_path, backed_up, mounted) -> None:
    """RESTORE.md's blocks, run in a shell once and then once more: the second run changes nothing
    (no tree moved into the folder the first run made, no moved-aside copy overwritten); the
    staging it makes again is a leftover that cleanup removes."""
    set_dir, folder, copied = backed_up
    root = str(tmp_path / "live")
    live_tree(root)
    dest = os.path.join(root, "app")
    if mounted:  # a mount point's forms (its contents moved, inside it), as RESTORE.md prints them there
        staging = os.path.join(dest, "cnxrestore-new")
        aside = os.path.join(dest, "cnxbackup-replaced-" + STAMP)
        ops = [MakeDir(staging), Extract(os.path.join(set_dir, folder.path), staging),
               MoveContentsAside(dest, aside, staging), MoveContentsIn(staging, dest)]
    else:
        ops = operations(set_dir, root, folder, copied)
    script = "set -e\n" + "\n".join(op.shell() for op in ops)
    subprocess.run(["sh", "-c", script], check=True, capture_output=True)
    once = tree_state(root)
    assert once != {}
    second = subprocess.run(["sh", "-c", script], capture_output=True, text=True)
    # at most a fresh staging copy is left (cnxbackup cleanup removes it); nothing live or moved aside changed
    again = {path: state for path, state in tree_state(root).items() if "cnxrestore-new" not in path}
    assert again == once, second.stdout + second.stderr


@pytest.mark.parametrize("crash_after", range(1, 10))
def test_rerunning_the_operation_that_was_running_at_a_crash_ends_in_the_same_tree(tmp_path, backed_up, crash_after) -> None:
    set_dir, folder, copied = backed_up
    expected_root, crashed_root = str(tmp_path / "expected"), str(tmp_path / "crashed")
    for root in (expected_root, crashed_root):
        live_tree(root)
    records = {"app": folder, "reg": copied}

    def run(op, name):
        op.run_local(local_run(set_dir, records[name]))

    def named(root):
        return ([(op, "app") for op in ops_of(folder, set_dir, os.path.join(root, "app"))]
                + [(op, "reg") for op in ops_of(copied, set_dir, os.path.join(root, "registry.xml"))])

    for op, name in named(expected_root):
        run(op, name)
    ops = named(crashed_root)
    assert crash_after <= len(ops)
    for op, name in ops[:crash_after]:
        run(op, name)
    for op, name in ops[crash_after - 1:]:  # the journal had not yet counted the last one
        run(op, name)
    assert tree_state(crashed_root) == tree_state(expected_root)


def test_an_interrupted_extraction_into_the_staging_folder_starts_afresh(tmp_path, backed_up) -> None:
    set_dir, folder, _ = backed_up
    staging = str(tmp_path / "app.cnxrestore-new")
    write(os.path.join(staging, "half-written"), "partial")
    Extract(os.path.join(set_dir, folder.path), staging).run_local(local_run(set_dir, folder))
    assert sorted(os.listdir(staging)) == ["bin", "config.xml", "run"]


def test_extraction_never_empties_a_folder_that_is_not_its_staging_folder(tmp_path, backed_up) -> None:
    set_dir, folder, _ = backed_up
    live = str(tmp_path / "live")
    write(os.path.join(live, "precious"), "keep")
    with pytest.raises(StepFailed, match="not empty and not a staging folder"):
        Extract(os.path.join(set_dir, folder.path), live).run_local(local_run(set_dir, folder))
    assert os.listdir(live) == ["precious"]


def test_moving_into_place_refuses_to_overwrite_what_was_not_moved_aside(tmp_path) -> None:
    write(str(tmp_path / "new" / "a"), "new")
    write(str(tmp_path / "dest" / "b"), "old")
    with pytest.raises(StepFailed, match="should have been moved aside"):
        MoveIntoPlace(str(tmp_path / "new"), str(tmp_path / "dest")).run_local(
            LocalRun(Progress(io.StringIO(), plain=True), threading.Event(), "x"))
    assert os.listdir(tmp_path / "dest") == ["b"]


def test_a_copied_file_that_does_not_match_its_digest_is_refused(tmp_path, backed_up) -> None:
    set_dir, _, copied = backed_up
    dest = str(tmp_path / "registry.xml")
    with pytest.raises(Exception, match="(?i)sha-?256|checksum|digest"):
        CopyFile(os.path.join(set_dir, copied.path), dest).run_local(
            LocalRun(Progress(io.StringIO(), plain=True), threading.Event(), "reg", "0" * 64, set_dir=set_dir))
    with pytest.raises(StepFailed, match="does not match its manifest checksum"):
        CopyFile(os.path.join(set_dir, copied.path), dest + ".remote").run_remote(
            RemoteRun(LocalTransport(), Host("n1", "n1"), "0" * 64, set_dir=set_dir))
    assert not os.path.exists(dest) and not os.path.exists(dest + ".remote")


def test_contents_of_a_mount_point_are_moved_aside_inside_it_and_the_staged_tree_moved_in(tmp_path) -> None:
    mount = str(tmp_path / "shared")
    write(os.path.join(mount, "old.txt"), "old")
    staging, aside = os.path.join(mount, "cnxrestore-new"), os.path.join(mount, f"cnxbackup-replaced-{STAMP}")
    write(os.path.join(staging, "restored.txt"), "restored")
    ctx = LocalRun(Progress(io.StringIO(), plain=True), threading.Event(), "shared")
    for op in (MoveContentsAside(mount, aside, staging), MoveContentsIn(staging, mount)):
        op.run_local(ctx)
        op.run_local(ctx)  # again, as after a crash
    assert sorted(os.listdir(mount)) == [f"cnxbackup-replaced-{STAMP}", "restored.txt"]
    assert sorted(os.listdir(aside)) == [".cnxrestore-moved-aside", "old.txt"]  # the marker: all moved


def test_a_failing_remote_operation_names_the_host_and_the_command(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StepFailed, match=r"on host n1: `mkdir -p .*file/sub` failed"):
        MakeDir(str(blocker / "sub")).run_remote(RemoteRun(LocalTransport(), Host("n1", "n1")))


def test_file_operations_follow_the_record(tmp_path, backed_up) -> None:
    set_dir, folder, copied = backed_up
    ops = file_operations(folder, set_dir, "/opt/app", STAMP)
    assert [type(op).__name__ for op in ops.stage] == ["MakeDir", "Extract"]
    assert [type(op).__name__ for op in ops.swap] == ["Carry", "MoveAside", "MoveIntoPlace"]
    assert ops.swap[0] == Carry("/opt/app/data", "/opt/app.cnxrestore-new/data", "/opt/app.cnxrestore-new",
                                "/opt/app.cnxbackup-replaced-20261201T120000")
    copy_ops = file_operations(copied, set_dir, "/opt/registry.xml", STAMP)
    assert [type(op).__name__ for op in copy_ops.stage] == ["MakeDir", "CopyFile"]
    assert copy_ops.stage[1] == CopyFile(os.path.join(set_dir, copied.path), "/opt/registry.xml.cnxrestore-new")
    assert [type(op).__name__ for op in copy_ops.swap] == ["MoveAside", "MoveIntoPlace", "SetOwner", "SetMode"]
    bare = ArchiveRecord(name="f", kind="copy", source="/x", path="files/f/x", status="done")
    assert [type(op).__name__ for op in file_operations(bare, set_dir, "/x", STAMP).swap] == ["MoveAside", "MoveIntoPlace"]
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
    staging = str(tmp_path / "app.cnxrestore-new")
    os.makedirs(staging)
    run = LocalRun(Progress(io.StringIO(), plain=True), threading.Event(), "app", result.sha256, set_dir=str(set_dir),
                   expected_members=result.files, allow_special=signed)
    Extract(archive, staging, attributes=True).run_local(run)
    restored = os.listxattr(os.path.join(staging, "bin", "tool"))
    assert ("user.cnx.origin" in restored) == signed
    assert Extract(archive, staging, attributes=True).trusted_tar_options(False, True) == []
