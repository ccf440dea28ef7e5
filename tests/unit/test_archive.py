"""Archive engine, atomic writes and sample-tree generator."""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest

from cnxbackup import archive, atomic
from cnxbackup.archive import (  # noqa: E402
    ArchiveCancelled,
    ArchiveError,
    DiskFullError,
    UnsafeArchiveError,
)
from cnxbackup.demo import treegen

REAL_TAR = shutil.which("tar")


# --------------------------------------------------------------------------- helpers


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def independent_entry_count(archive_path: Path) -> int:
    """Count members with a separate zstd | tar -tf pipeline (not the code under test)."""
    out = subprocess.run(
        f"zstd -dc '{archive_path}' | tar -tf - | wc -l", shell=True, check=True, capture_output=True
    )
    return int(out.stdout)


def snapshot(root: Path) -> dict:
    """Everything a restore must preserve, keyed by relative path."""
    inodes: dict = {}
    result = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            st = path.lstat()
            entry = {"mode": stat.S_IMODE(st.st_mode), "type": stat.S_IFMT(st.st_mode), "uid": st.st_uid}
            if stat.S_ISLNK(st.st_mode):
                entry["target"] = os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                entry["sha"] = sha256_of(path)
                entry["mtime"] = int(st.st_mtime)
                inodes.setdefault(st.st_ino, []).append(rel)
            result[rel] = entry
    links = sorted(sorted(group) for group in inodes.values() if len(group) > 1)
    return {"entries": result, "hardlinks": links}


def make_tar_zst(path: Path, members: list) -> Path:
    """Craft a .tar.zst from (TarInfo, data-or-None) pairs with Python tarfile + the zstd binary."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    subprocess.run(["zstd", "-q", "-c"], input=raw.getvalue(), stdout=path.open("wb"), check=True)
    return path


def tinfo(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info


def fake_tar(tmp_path: Path, body: str) -> str:
    """A tar wrapper script: runs the real GNU tar (so the stream and listing are genuine) plus BODY."""
    script = tmp_path / "faketar"
    script.write_text(f"#!/bin/sh\n{REAL_TAR} \"$@\"\n{body}\n")
    script.chmod(0o755)
    return str(script)


def no_leftovers(directory: Path) -> list:
    return [p.name for p in directory.iterdir() if p.name.endswith(".partial")]


@pytest.fixture(scope="module")
def demo_tree(tmp_path_factory) -> tuple:
    root = tmp_path_factory.mktemp("demo")
    paths = treegen.build_demo_deployment(str(root), scale=0.02, filebased_filenet_admin=True)
    return root, paths


@pytest.fixture
def small_tree(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "dir").mkdir(parents=True)
    (src / "dir" / "a.txt").write_text("hello\n" * 1000)
    (src / "big.bin").write_bytes(os.urandom(2 << 20))
    return src


# --------------------------------------------------------------------------- round trip


def test_round_trip_preserves_content_modes_links_and_names(demo_tree, tmp_path):
    root, paths = demo_tree
    source = Path(paths["root"])
    before = snapshot(source)
    names = set(before["entries"])
    # the generator must have produced the tricky cases this test is about
    assert any(" " in n for n in names) and any("Ü" in n for n in names)
    assert any(e["type"] == stat.S_IFLNK and e["target"].startswith("/") for e in before["entries"].values())
    assert any(e["type"] == stat.S_IFLNK and not e["target"].startswith("/") for e in before["entries"].values())
    assert before["hardlinks"], "no hardlinks generated"
    assert {0o600, 0o640, 0o755} <= {e["mode"] for e in before["entries"].values()}

    calls = []
    dest = tmp_path / "demo.tar.zst"
    result = archive.create_archive(str(source), str(dest), progress=lambda f, b: calls.append((f, b)))

    assert dest.exists() and not no_leftovers(tmp_path)
    assert result.sha256 == sha256_of(dest)
    assert result.size == dest.stat().st_size
    assert result.files == independent_entry_count(dest) == len(names) + 1  # + the "./" root entry
    assert result.warnings == []
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert calls and calls[-1] == (result.files, result.tar_bytes)
    assert result.tar_bytes % 10240 == 0 and result.tar_bytes > sum(
        (source / n).lstat().st_size for n in names if before["entries"][n]["type"] == stat.S_IFREG
    ) - 1

    listed = archive.list_archive(str(dest), expected_sha256=result.sha256)
    assert (listed.files, listed.sha256, listed.size) == (result.files, result.sha256, result.size)

    staging = tmp_path / "staging"
    staging.mkdir()
    count = archive.extract_archive(str(dest), str(staging), expected_sha256=result.sha256).files
    assert count == result.files
    assert snapshot(staging) == before


def test_extract_refuses_non_empty_staging(small_tree, tmp_path):
    dest = tmp_path / "s.tar.zst"
    archive.create_archive(str(small_tree), str(dest))
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "leftover").write_text("x")
    with pytest.raises(ArchiveError, match="not empty"):
        archive.extract_archive(str(dest), str(staging))


def test_excludes_are_applied(small_tree, tmp_path):
    dest = tmp_path / "ex.tar.zst"
    result = archive.create_archive(str(small_tree), str(dest), excludes=["*.bin"])
    listing = subprocess.run(f"zstd -dc '{dest}' | tar -tf -", shell=True, capture_output=True, text=True).stdout
    assert "./big.bin" not in listing and "./dir/a.txt" in listing
    assert result.files == 3


# --------------------------------------------------------------------------- tar exit codes


def test_tar_exit_1_is_a_warning_and_archive_is_published(small_tree, tmp_path):
    tar = fake_tar(tmp_path, "echo 'tar: ./dir/a.txt: file changed as we read it' >&2\nexit 1")
    dest = tmp_path / "w.tar.zst"
    result = archive.create_archive(str(small_tree), str(dest), tar_cmd=tar)
    assert dest.exists()
    assert any("exit 1" in w for w in result.warnings)
    assert any("file changed as we read it" in w for w in result.warnings)
    assert archive.list_archive(str(dest)).files == result.files == 4


def test_tar_exit_2_is_a_failure_without_leftovers(small_tree, tmp_path):
    tar = fake_tar(tmp_path, "echo 'tar: ./x: Cannot open: Permission denied' >&2\nexit 2")
    dest = tmp_path / "f.tar.zst"
    with pytest.raises(ArchiveError, match="Permission denied"):
        archive.create_archive(str(small_tree), str(dest), tar_cmd=tar)
    assert not dest.exists() and not no_leftovers(tmp_path)


def test_zstd_failure_is_an_error(small_tree, tmp_path):
    dest = tmp_path / "z.tar.zst"
    zstd = tmp_path / "fakezstd"  # reads a little, then fails like a real zstd write error
    zstd.write_text("#!/bin/sh\nhead -c 1000 >/dev/null\necho 'zstd: error 70 : Write error' >&2\nexit 70\n")
    zstd.chmod(0o755)
    with pytest.raises(ArchiveError, match="zstd failed.*Write error"):
        archive.create_archive(str(small_tree), str(dest), zstd_cmd=str(zstd))
    assert not dest.exists() and not no_leftovers(tmp_path)


# --------------------------------------------------------------------------- cancel / disk full


def test_cancel_stops_children_and_leaves_no_partial(small_tree, tmp_path):
    tar = fake_tar(tmp_path, "sleep 61.25")
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    dest = tmp_path / "c.tar.zst"
    started = time.monotonic()
    with pytest.raises(ArchiveCancelled):
        archive.create_archive(str(small_tree), str(dest), tar_cmd=tar, cancel=cancel)
    assert time.monotonic() - started < 10
    assert not dest.exists() and not no_leftovers(tmp_path)
    for pattern in (str(tmp_path / "faketar"), "sleep 61.25"):  # the whole process group is gone
        leftover = subprocess.run(["pgrep", "-f", pattern], capture_output=True)
        assert leftover.returncode == 1, leftover.stdout


def _mount_tiny_fs(mountpoint: Path) -> str:
    """Mount a ~1 MiB filesystem: tmpfs, else a loop-mounted ext2; '' if neither works."""
    mountpoint.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mountpoint)],
                          capture_output=True).returncode == 0:
            return "tmpfs"
        image = mountpoint.parent / "tiny.img"
        with image.open("wb") as out:
            out.truncate(2 << 20)
        if subprocess.run(["mkfs.ext2", "-q", "-F", str(image)], capture_output=True).returncode == 0 and \
                subprocess.run(["mount", "-o", "loop", str(image), str(mountpoint)],
                               capture_output=True).returncode == 0:
            return "ext2"
    return ""


@pytest.fixture
def tiny_fs(tmp_path):
    mountpoint = tmp_path / "tiny"
    kind = _mount_tiny_fs(mountpoint)
    if not kind:
        pytest.skip("cannot mount a tiny filesystem (needs root and tmpfs or loop devices)")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], capture_output=True)


def test_disk_full_raises_and_removes_partial(tmp_path, tiny_fs):
    src = tmp_path / "bigsrc"
    src.mkdir()
    (src / "random.bin").write_bytes(os.urandom(4 << 20))
    dest = tiny_fs / "full.tar.zst"
    with pytest.raises(DiskFullError) as info:
        archive.create_archive(str(src), str(dest))
    assert info.value.path == str(dest)
    assert list(tiny_fs.iterdir()) in ([], [tiny_fs / "lost+found"])

    with pytest.raises(DiskFullError):
        archive.copy_file(str(src / "random.bin"), str(tiny_fs / "copy.bin"))
    assert list(tiny_fs.iterdir()) in ([], [tiny_fs / "lost+found"])


# --------------------------------------------------------------------------- remote form


def test_remote_command_round_trip_with_awkward_path(tmp_path):
    src = tmp_path / "it's a dir"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "f.txt").write_text("data")
    (src / "keep.log").write_text("log")
    command = archive.remote_archive_command(str(src), excludes=["*.log"])
    dest = tmp_path / "r.tar.zst"
    result = archive.create_archive_from_stream(["sh", "-c", command], str(dest), source=str(src))
    assert result.sha256 == sha256_of(dest) and result.files == independent_entry_count(dest) == 3
    assert result.warnings == []


def test_remote_tar_exit_status_is_learnt_from_marker(small_tree, tmp_path):
    tar = fake_tar(tmp_path, "echo 'tar: ./x: file changed as we read it' >&2\nexit 1")
    command = archive.remote_archive_command(str(small_tree), tar_cmd=tar)
    result = archive.create_archive_from_stream(["sh", "-c", command], str(tmp_path / "r1.tar.zst"))
    assert any("exit 1" in w for w in result.warnings)

    tar2 = tmp_path / "faketar2"
    tar2.write_text(f"#!/bin/sh\n{REAL_TAR} \"$@\"\nexit 2\n")
    tar2.chmod(0o755)
    command = archive.remote_archive_command(str(small_tree), tar_cmd=str(tar2))
    with pytest.raises(ArchiveError, match="exit 2"):
        archive.create_archive_from_stream(["sh", "-c", command], str(tmp_path / "r2.tar.zst"))
    assert not (tmp_path / "r2.tar.zst").exists() and not no_leftovers(tmp_path)


def test_remote_failures_are_errors(tmp_path):
    command = archive.remote_archive_command(str(tmp_path / "missing"))
    with pytest.raises(ArchiveError):
        archive.create_archive_from_stream(["sh", "-c", command], str(tmp_path / "m.tar.zst"))
    # a producer that never reports tar's status
    with pytest.raises(ArchiveError, match="did not report"):
        archive.create_archive_from_stream(["sh", "-c", "printf x"], str(tmp_path / "n.tar.zst"))
    assert not no_leftovers(tmp_path) and not list(tmp_path.glob("*.tar.zst"))


# --------------------------------------------------------------------------- integrity


def test_list_archive_detects_bit_flip_truncation_and_wrong_hash(small_tree, tmp_path):
    dest = tmp_path / "v.tar.zst"
    result = archive.create_archive(str(small_tree), str(dest))
    data = dest.read_bytes()

    flipped = tmp_path / "flipped.tar.zst"
    middle = len(data) // 2
    flipped.write_bytes(data[:middle] + bytes([data[middle] ^ 0x10]) + data[middle + 1:])
    with pytest.raises(ArchiveError):
        archive.list_archive(str(flipped))

    truncated = tmp_path / "truncated.tar.zst"
    truncated.write_bytes(data[: len(data) - 1000])
    with pytest.raises(ArchiveError, match="corrupt or truncated"):
        archive.list_archive(str(truncated))

    with pytest.raises(ArchiveError, match="sha256 mismatch"):
        archive.list_archive(str(dest), expected_sha256="0" * 64)
    assert archive.list_archive(str(dest), expected_sha256=result.sha256).files == result.files


def test_hash_file_matches_hashlib(tmp_path):
    path = tmp_path / "h.bin"
    path.write_bytes(os.urandom(3 * (1 << 20) + 17))
    assert archive.hash_file(str(path)) == (sha256_of(path), path.stat().st_size)


# --------------------------------------------------------------------------- unsafe archives


UNSAFE_CASES = {
    "absolute": [(tinfo("/etc/evil"), b"x")],
    "dotdot": [(tinfo("./a/../../evil"), b"x")],
    "hardlink_dotdot": [(tinfo("./ok"), b"x"), (tinfo("./h", tarfile.LNKTYPE, "../../etc/passwd"), None)],
    "hardlink_absolute": [(tinfo("./h", tarfile.LNKTYPE, "/etc/passwd"), None)],
    "through_symlink": [(tinfo("./lnk", tarfile.SYMTYPE, "/tmp"), None), (tinfo("./lnk/evil"), b"x")],
    "through_nested_symlink": [
        (tinfo("./d", tarfile.DIRTYPE), None),
        (tinfo("./d/up", tarfile.SYMTYPE, "../.."), None),
        (tinfo("./d/up/x/evil"), b"x"),
    ],
    "hardlink_through_symlink": [
        (tinfo("./lnk", tarfile.SYMTYPE, "/etc"), None),
        (tinfo("./h", tarfile.LNKTYPE, "./lnk/passwd"), None),
    ],
    "through_hardlinked_symlink": [
        (tinfo("./s", tarfile.SYMTYPE, "/etc"), None),
        (tinfo("./h", tarfile.LNKTYPE, "./s"), None),
        (tinfo("./h/evil"), b"x"),
    ],
    "replaces_symlink": [(tinfo("./lnk", tarfile.SYMTYPE, "/etc/passwd"), None), (tinfo("./lnk"), b"x")],
}


@pytest.mark.parametrize("case", sorted(UNSAFE_CASES))
def test_validate_members_rejects_unsafe_archives(case, tmp_path):
    path = make_tar_zst(tmp_path / f"{case}.tar.zst", UNSAFE_CASES[case])
    with pytest.raises(UnsafeArchiveError):
        archive.scan_archive(str(path), allow_special=False)
    staging = tmp_path / "staging"
    staging.mkdir()
    with pytest.raises(UnsafeArchiveError):
        archive.extract_archive(str(path), str(staging))
    assert list(staging.iterdir()) == []


def test_validate_members_accepts_absolute_symlinks_and_safe_hardlinks(tmp_path):
    path = make_tar_zst(tmp_path / "ok.tar.zst", [
        (tinfo("./", tarfile.DIRTYPE), None),
        (tinfo("./java", tarfile.DIRTYPE), None),
        (tinfo("./java/bin"), b"binary"),
        (tinfo("./default", tarfile.SYMTYPE, "/opt/IBM/WebSphere/AppServer/java/8.0"), None),
        (tinfo("./rel", tarfile.SYMTYPE, "../outside/is/fine/for/a/link"), None),
        (tinfo("./java/hard", tarfile.LNKTYPE, "./java/bin"), None),
    ])
    archive.scan_archive(str(path), allow_special=False)
    staging = tmp_path / "staging"
    staging.mkdir()
    assert archive.extract_archive(str(path), str(staging)).files == 6
    assert os.readlink(staging / "default") == "/opt/IBM/WebSphere/AppServer/java/8.0"
    assert (staging / "java" / "hard").stat().st_ino == (staging / "java" / "bin").stat().st_ino


# --------------------------------------------------------------------------- single files and atomic writes


def test_copy_file_and_copy_back_preserve_mode_mtime_and_verify_hash(tmp_path):
    src = tmp_path / "profileRegistry.xml"
    src.write_bytes(b"<profiles/>\n" * 5000)
    src.chmod(0o640)
    os.utime(src, (1_600_000_000, 1_600_000_000))
    backup = tmp_path / "backup.xml"
    result = archive.copy_file(str(src), str(backup))
    assert (result.sha256, result.size, result.files) == (sha256_of(src), src.stat().st_size, 1)
    assert stat.S_IMODE(backup.stat().st_mode) == 0o640 and int(backup.stat().st_mtime) == 1_600_000_000

    restored = tmp_path / "restored.xml"
    with pytest.raises(ArchiveError, match="mismatch"):
        archive.copy_back_file(str(backup), str(restored), expected_sha256="f" * 64)
    assert not restored.exists() and not no_leftovers(tmp_path)
    archive.copy_back_file(str(backup), str(restored), expected_sha256=result.sha256)
    assert restored.read_bytes() == src.read_bytes()
    assert int(restored.stat().st_mtime) == 1_600_000_000


def test_open_partial_publishes_on_success_and_cleans_up_on_interrupt(tmp_path):
    target = tmp_path / "manifest.json"
    atomic.write_json_atomic(str(target), {"b": 1, "a": "Ü"})
    assert json.loads(target.read_text("utf-8")) == {"a": "Ü", "b": 1}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600

    other = tmp_path / "other.bin"
    with pytest.raises(KeyboardInterrupt):
        with atomic.open_partial(str(other)) as out:
            out.write(b"half")
            assert (tmp_path / "other.bin.partial").exists()
            raise KeyboardInterrupt
    assert not other.exists() and not no_leftovers(tmp_path)
    atomic.write_file_atomic(str(target), b"new", mode=0o644)
    assert target.read_bytes() == b"new" and stat.S_IMODE(target.stat().st_mode) == 0o644


# --------------------------------------------------------------------------- generator


def test_demo_deployment_is_deterministic_and_has_version_facts(demo_tree, tmp_path):
    root, paths = demo_tree
    installed = Path(paths["installed_xml"]).read_text()
    assert "id='com.ibm.connections'" in installed and "version='8.0.0.0_CR14'" in installed
    assert "id='com.ibm.websphere.ND.v90'" in installed and "<fix id=" in installed
    assert "<version>9.0.5.14</version>" in Path(paths["was_product"]).read_text()
    assert "uid=fnadmin,o=defaultWIMFileBasedRealm" in Path(paths["file_registry"]).read_text()
    assert Path(paths["engine_ws_ear"]).is_file()
    again = treegen.build_demo_deployment(str(tmp_path / "again"), scale=0.02, filebased_filenet_admin=True)

    def normalised(top: str) -> dict:
        """Relative path -> (mode, content with the tree's own root replaced)."""
        out = {}
        for path in sorted(Path(top).rglob("*")):
            st = path.lstat()
            content = os.readlink(path) if path.is_symlink() else path.read_bytes() if path.is_file() else ""
            if isinstance(content, bytes):
                content = hashlib.sha256(content.replace(top.encode(), b"ROOT")).hexdigest()
            out[str(path.relative_to(top))] = (st.st_mode, str(content).replace(top, "ROOT"))
        return out

    assert normalised(paths["root"]) == normalised(again["root"])


def test_bench_tree_sizes(tmp_path):
    info = treegen.build_bench_tree(str(tmp_path / "b"), total_bytes=4 << 20, files=300, compressible_fraction=0.5)
    files = [p for p in (tmp_path / "b").rglob("*") if p.is_file()]
    assert len(files) == info["files"] == 300
    assert sum(p.stat().st_size for p in files) == info["bytes"]
    assert abs(info["bytes"] - (4 << 20)) < (4 << 20) * 0.01
    assert 0.4 < info["compressible_bytes"] / info["bytes"] < 0.6
