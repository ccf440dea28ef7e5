"""The member gate reads tar as GNU tar does, and passes nothing of a member it refuses.

Streams are built two ways: by GNU tar itself (long names, pax, sparse files, incremental
dumpdirs, FIFOs, setuid files, hardlinks) -- the gate must count exactly the lines of
``tar -tv`` and pass the stream through unchanged -- and by hand, header by header, for the
forgeries GNU tar would extract but cnxbackup must refuse.
"""
from __future__ import annotations

import io
import os
import subprocess
import tarfile

import pytest

from cnxbackup.archive.common import ArchiveError, UnsafeArchiveError
from cnxbackup.archive.members import GNU, USTAR, MalformedArchive, MemberGate

# ----------------------------------------------------------------------------- hand-made headers


def header(name: str, typeflag: bytes = b"0", size: int = 0, *, mode: int = 0o644, link: str = "",
           magic: bytes = GNU, prefix: bytes = b"", checksum: int = None, size_field: bytes = None) -> bytes:
    block = bytearray(512)
    block[0:100] = name.encode().ljust(100, b"\0")[:100]
    block[100:108] = b"%07o\0" % mode
    block[108:116] = b"%07o\0" % 0
    block[116:124] = b"%07o\0" % 0
    block[124:136] = size_field if size_field is not None else b"%011o\0" % size
    block[136:148] = b"%011o\0" % 1700000000
    block[156:157] = typeflag
    block[157:257] = link.encode().ljust(100, b"\0")[:100]
    block[257:265] = magic
    block[345:345 + len(prefix)] = prefix
    block[148:156] = b" " * 8
    total = sum(block) if checksum is None else checksum
    block[148:156] = b"%06o\0 " % total
    return bytes(block)


def data(content: bytes) -> bytes:
    return content + b"\0" * ((-len(content)) % 512)


def member(name: str, content: bytes = b"", **kw) -> bytes:
    return header(name, size=len(content), **kw) + data(content)


def pax(records: dict, typeflag: bytes = b"x") -> bytes:
    body = b""
    for key, value in records.items():
        core = f" {key}={value}\n".encode()
        length = len(core) + 1
        while len(str(length)) + len(core) != length:
            length += 1
        body += str(length).encode() + core
    return header("././@PaxHeader", typeflag, len(body)) + data(body)


END = b"\0" * 1024


def run_gate(stream: bytes, allow_special: bool = False, chunk: int = 4096):
    out = bytearray()
    gate = MemberGate(out.extend, allow_special=allow_special)
    for at in range(0, len(stream), chunk):
        gate.feed(stream[at:at + chunk])
    return gate.close(), bytes(out)


def refused(stream: bytes, match: str, allow_special: bool = False, error=UnsafeArchiveError) -> bytes:
    """The gate refuses the stream; returns what it had passed on before refusing."""
    out = bytearray()
    gate = MemberGate(out.extend, allow_special=allow_special)
    with pytest.raises(error, match=match):
        for at in range(0, len(stream), 512):
            gate.feed(stream[at:at + 512])
        gate.close()
    return bytes(out)


# ----------------------------------------------------------------------------- GNU tar's own archives


def gnu_tar(tmp_path, *args: str, cwd=None) -> bytes:
    return subprocess.run(["tar", "-cf", "-", *args], cwd=cwd or tmp_path, capture_output=True, check=True).stdout


def tv_lines(stream: bytes, *extra: str) -> int:
    proc = subprocess.run(["tar", "-tvf", "-", *extra], input=stream, capture_output=True, check=True)
    return proc.stdout.decode("utf-8", "replace").count("\n")


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    deep = root / ("d" * 90) / ("e" * 90)
    deep.mkdir(parents=True)
    (deep / ("f" * 120)).write_bytes(b"long name\n")
    (root / "plain.txt").write_bytes(b"x" * 5000)
    os.link(root / "plain.txt", root / "hard.txt")
    os.symlink("/etc/hostname", root / "abs-link")
    os.symlink("plain.txt", root / ("l" * 150))
    os.mkfifo(root / "fifo")
    (root / "suid").write_bytes(b"#!/bin/sh\n")
    os.chmod(root / "suid", 0o4755)
    with open(root / "sparse.img", "wb") as handle:
        handle.seek(50 << 20)
        handle.write(b"end")
    return root


@pytest.mark.parametrize("fmt", ["gnu", "posix", "ustar-safe"])
def test_gnu_tar_s_own_archives_pass_unchanged_counting_tar_tv_lines(tree, tmp_path, fmt) -> None:
    if fmt == "ustar-safe":
        (tree / "fifo").unlink()
        stream = gnu_tar(tree, "--format=ustar", "plain.txt", "hard.txt", "suid", cwd=tree)
    else:
        stream = gnu_tar(tree, f"--format={fmt}", "--sparse", ".", cwd=tree)
    members, passed = run_gate(stream, allow_special=True)
    assert members == tv_lines(stream)
    assert stream.startswith(passed) and len(passed) >= len(stream.rstrip(b"\0"))


def test_an_incremental_archive_s_dumpdir_records_are_read_and_counted(tree, tmp_path) -> None:
    (tree / "fifo").unlink()
    stream = gnu_tar(tree, f"--listed-incremental={tmp_path / 'snar'}", ".", cwd=tree)
    assert b"D" in {stream[i + 156:i + 157] for i in range(0, len(stream), 512)}
    members, _ = run_gate(stream, allow_special=True)
    assert members == tv_lines(stream)


def test_fifos_and_setuid_files_pass_only_from_a_signed_set(tree) -> None:
    stream = gnu_tar(tree, "fifo", cwd=tree)
    refused(stream, "FIFO")
    stream = gnu_tar(tree, "suid", cwd=tree)
    refused(stream, "setuid/setgid mode 4755")
    assert run_gate(stream, allow_special=True)[0] == 1


def test_chunk_boundaries_do_not_matter(tree) -> None:
    stream = gnu_tar(tree, "--sparse", ".", cwd=tree)
    results = {run_gate(stream, allow_special=True, chunk=size) for size in (1, 511, 512, 513, 65536)}
    assert len(results) == 1


# ----------------------------------------------------------------------------- forgeries


def test_an_unparseable_header_ends_python_s_listing_but_fails_the_gate_before_the_device_node() -> None:
    good = member("./ok.txt", b"fine")
    broken = header("./junk", checksum=1)  # a header GNU tar skips over ("Skipping to next header")
    device = header("./dev/sda", b"3")
    stream = good + broken + device + END
    with tarfile.open(fileobj=io.BytesIO(stream), mode="r|") as archive:
        assert [m.name for m in archive] == ["./ok.txt"]  # tarfile stops quietly: the device is never seen
    passed = refused(stream, "unreadable header after member 1: header checksum", error=MalformedArchive)
    assert passed == good and device not in passed


@pytest.mark.parametrize("stream, match", [
    (member("/etc/cron.d/evil", b"x"), "absolute path"),
    (member("./a/../../etc/passwd", b"x"), r"'\.\.'"),
    (header("./link", b"2", link="/etc") + member("./link/cron.d/evil", b"x"), "through symlink './link'|through symlink 'link'"),
    (header("./hl", b"1", link="../outside"), "hardlink target contains"),
    (header("./hl", b"1", link="/etc/shadow"), "hardlink target is an absolute path"),
    (header("./link", b"2", link="/etc") + header("./hl", b"1", link="link/shadow"), "through symlink"),
    (header("./link", b"2", link="/etc") + member("./link", b"replaced"), "replaces a symlink member"),
    (header("./dev/null", b"3"), "device node"),
    (header("./dev/sda", b"4"), "device node"),
    (header("./", b"2", link="/"), "root of the tree"),
    (pax({"path": "../../etc/passwd"}) + member("./innocent", b"x"), r"'\.\.'"),
    (pax({"GNU.sparse.name": "/etc/passwd"}) + member("./GNUSparseFile.1/x", b"x"), "absolute path"),
    (header("././@LongLink", b"L", 20) + data(b"../../etc/passwd\0") + member("./short", b"x"), r"'\.\.'"),
    (header("././@LongLink", b"K", 12) + data(b"../../etc\0") + header("./hl", b"1", link="x"), "hardlink target contains"),
    (pax({"path": "etc"}, b"g") + member("./a", b"x"), "global pax header sets path"),
    (pax({"linkpath": "/"}) + header("./hl", b"1", link="ok"), "hardlink target is an absolute path"),
])
def test_forged_members_are_refused_before_any_of_their_bytes_pass(stream, match) -> None:
    passed = refused(stream + END, match)
    assert passed == b"" or stream.startswith(passed)
    assert len(passed) < len(stream)


@pytest.mark.parametrize("stream, match", [
    (header("./link", b"2", 1024, link="x") + header("./dev/x", b"3") + b"\0" * 512, "carries 1,024 bytes"),
    (header("./dir/", b"0", 0), "named like a directory"),
    (header("./v", b"V"), "type b'V'"),
    (header("./x", size_field=b"+AAAAAAAAAA\0"), "numeric size"),
    (header("./x", magic=b"\0" * 8), "magic"),
    (pax({"size": "many"}) + header("./x"), "pax size"),
    (header("././@PaxHeader", b"x", 8) + data(b"garbage\n") + header("./x"), "malformed pax"),
    (header("./d", b"D", 6) + data(b"Y../x\0"), "not a plain name"),
])
def test_headers_gnu_tar_would_read_differently_fail_the_archive(stream, match) -> None:
    refused(stream + END, match, error=(MalformedArchive, UnsafeArchiveError))


def test_a_posix_prefix_is_part_of_the_name() -> None:
    stream = header("passwd", prefix=b"../../etc", magic=USTAR) + END
    refused(stream, r"'\.\.'")
    ok = header("b.txt", prefix=b"a", magic=USTAR, size=1) + data(b"x") + END
    assert run_gate(ok)[0] == 1


def test_a_truncated_stream_is_refused() -> None:
    stream = member("./big", b"y" * 3000)
    gate = MemberGate(None, allow_special=False)
    gate.feed(stream[:1500])
    with pytest.raises(ArchiveError, match="truncated"):
        gate.close()


def test_nothing_after_the_end_of_the_archive_is_passed_on() -> None:
    after = header("./dev/sda", b"3")
    stream = member("./a", b"x") + b"\0" * 512 + b"\0" * 512 + after
    members, passed = run_gate(stream)
    assert members == 1 and after not in passed


# ----------------------------------------------------------------------------- a level 1 over its level 0


def run_level(stream: bytes, carried: set) -> MemberGate:
    gate = MemberGate(lambda view: None, allow_special=False, label="level1", carried_symlinks=carried)
    gate.feed(stream)
    gate.close()
    return gate


def test_nothing_goes_through_a_symlink_the_earlier_level_left():
    root = member("./", b"Nlink\0Dsub\0\0", typeflag=b"D")
    stream = root + member("./sub/", b"\0", typeflag=b"D") + member("./link/passwd", b"x") + END
    with pytest.raises(UnsafeArchiveError, match="goes through symlink 'link'"):
        run_level(stream, {"link"})
    assert run_level(stream, set()).members == 3  # the same stream over a tree without that link


def test_a_folder_where_the_earlier_level_left_a_symlink_tar_keeps_is_refused():
    """``N``: tar keeps the link; a folder extracted there would be followed (and its dumpdir applied there)."""
    stream = member("./", b"Nlink\0\0", typeflag=b"D") + member("./link/", b"Yx\0\0", typeflag=b"D") + END
    with pytest.raises(UnsafeArchiveError, match="a folder in place of a symlink of the earlier level"):
        run_level(stream, {"link"})


def test_a_link_the_dumpdir_deletes_or_a_file_replaces_no_longer_counts():
    deleted = member("./", b"Dlink\0\0", typeflag=b"D") + member("./link/", b"Yf\0\0", typeflag=b"D") \
        + member("./link/f", b"x") + END
    assert not run_level(deleted, {"link"}).symlinks  # listed as a folder: tar deletes the link first
    unlisted = member("./", b"Da\0\0", typeflag=b"D") + member("./a/", b"\0", typeflag=b"D") + END
    assert not run_level(unlisted, {"gone"}).symlinks  # not listed at all: deleted too
    replaced = member("./", b"Ylink\0\0", typeflag=b"D") + member("./link", b"now a file") + END
    assert not run_level(replaced, {"link"}).symlinks


def test_a_rename_record_moves_the_links_of_the_renamed_folder_and_may_not_go_through_one():
    renamed = member("./", b"Da\0R./a/b\0T./a/c\0\0", typeflag=b"D") + member("./a/", b"Dc\0\0", typeflag=b"D") \
        + member("./a/c/", b"Nln\0\0", typeflag=b"D") + END
    assert run_level(renamed, {"a/b/ln"}).symlinks == {"a/c/ln"}
    through = member("./", b"Dl\0R./l/x\0T./y\0\0", typeflag=b"D") + END
    with pytest.raises(UnsafeArchiveError, match="goes through symlink 'l'"):
        run_level(through, {"l"})


@pytest.mark.parametrize("fmt", ["gnu", "posix"])
def test_gnu_tar_levels_pass_and_carry_the_symlinks_as_tar_leaves_them(tmp_path, fmt):
    """Real levels, in both formats (POSIX keeps a folder's dumpdir in the pax record GNU.dumpdir)."""
    src = tmp_path / "src"
    (src / "a" / "b").mkdir(parents=True)
    (src / "keep").mkdir()
    os.symlink("/etc", src / "a" / "b" / "ln")
    os.symlink("../keep", src / "was-link")
    snapshot = tmp_path / "snap"

    def level(name: str) -> bytes:
        subprocess.run(["tar", f"--format={fmt}", "-C", str(src), f"--listed-incremental={snapshot}",
                        "--no-check-device", "-cf", str(tmp_path / name), "."], check=True)
        return (tmp_path / name).read_bytes()

    first = run_level(level("l0.tar"), set())
    assert first.symlinks == {"a/b/ln", "was-link"}
    os.rename(src / "a" / "b", src / "a" / "c")
    os.unlink(src / "was-link")
    (src / "was-link").mkdir()
    (src / "was-link" / "f").write_text("now a folder")
    second = run_level(level("l1.tar"), first.symlinks)
    assert second.symlinks == {"a/c/ln"}
