"""Faithful trees: sparse files stay sparse, extended attributes (and ACLs, SELinux contexts
where the filesystem has them) come back, through the same gated extraction restore uses."""
from __future__ import annotations

import os

import pytest

from cnxbackup.archive import ATTRIBUTE_ARGS, attribute_args, create_archive, extract_archive, tar_create_args
from cnxbackup.archive.process import TarStderr

SPARSE = 200 << 20


def supports_user_xattrs(path: str) -> bool:
    probe = os.path.join(path, ".xattr-probe")
    open(probe, "w").close()
    try:
        os.setxattr(probe, "user.cnx", b"1")
        return True
    except OSError:
        return False
    finally:
        os.unlink(probe)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "src"
    (root / "data").mkdir(parents=True)
    with open(root / "data" / "sparse.img", "wb") as handle:
        handle.seek(SPARSE - 5)
        handle.write(b"tail\n")  # 200 MB apparent, a few KB allocated
    (root / "data" / "labelled.txt").write_text("kept with its attributes\n")
    return root


def test_a_sparse_file_comes_back_sparse(tree, tmp_path) -> None:
    source = tree / "data" / "sparse.img"
    assert os.stat(source).st_blocks * 512 < 1 << 20
    result = create_archive(str(tree), str(tmp_path / "a.tar.zst"))
    out = tmp_path / "out"
    out.mkdir()
    extract_archive(str(tmp_path / "a.tar.zst"), str(out), expected_sha256=result.sha256, allow_special=True)
    restored = out / "data" / "sparse.img"
    assert os.path.getsize(restored) == SPARSE and restored.read_bytes()[-5:] == b"tail\n"
    assert os.stat(restored).st_blocks * 512 < 1 << 20, os.stat(restored).st_blocks  # holes, not 200 MB of zeros


def test_user_xattrs_round_trip_with_the_attribute_options(tree, tmp_path) -> None:
    if not supports_user_xattrs(str(tree)):
        pytest.skip("this filesystem has no user extended attributes")
    os.setxattr(tree / "data" / "labelled.txt", "user.cnx.origin", b"node1")
    os.setxattr(tree / "data", "user.cnx.dir", b"yes")
    result = create_archive(str(tree), str(tmp_path / "a.tar.zst"), extra_tar_args=list(ATTRIBUTE_ARGS))
    out = tmp_path / "out"
    out.mkdir()
    extract_archive(str(tmp_path / "a.tar.zst"), str(out), expected_sha256=result.sha256, allow_special=True,
                    expected_members=result.files, extra_tar_args=list(ATTRIBUTE_ARGS))
    assert os.getxattr(out / "data" / "labelled.txt", "user.cnx.origin") == b"node1"
    assert os.getxattr(out / "data", "user.cnx.dir") == b"yes"
    # without the options (archive.attributes: off) they are not kept
    plain = create_archive(str(tree), str(tmp_path / "b.tar.zst"))
    bare = tmp_path / "bare"
    bare.mkdir()
    extract_archive(str(tmp_path / "b.tar.zst"), str(bare), expected_sha256=plain.sha256, allow_special=True)
    assert "user.cnx.origin" not in os.listxattr(bare / "data" / "labelled.txt")


def test_attributes_follow_the_setting_and_the_user() -> None:
    assert attribute_args("auto", as_root=True) == list(ATTRIBUTE_ARGS)
    assert attribute_args("auto", as_root=False) == []
    assert attribute_args("on", as_root=False) == list(ATTRIBUTE_ARGS)
    assert attribute_args("off", as_root=True) == []
    assert "--sparse" in tar_create_args()


def test_a_filesystem_without_attributes_is_not_a_warning() -> None:
    parser = TarStderr()
    for line in (b"tar: ./data/a: Cannot set xattr user.x: Operation not supported",
                 b"tar: ./data/b: Warning: Cannot acl_get_file: Operation not supported",
                 b"tar: ./data/c: Cannot set SELinux context: Not supported",
                 b"tar: ./data/d: file changed as we read it"):
        parser.feed(line + b"\n")
    parser.close()
    assert parser.warning_list() == ["tar: ./data/d: file changed as we read it"]
