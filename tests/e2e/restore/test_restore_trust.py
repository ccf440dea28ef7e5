"""Restore trusts nothing in the set beyond its signature: each forgery refused before any change.

Every forged set is tried twice: re-signed with a key the restore does not trust (refused by
the signature), then under ``--trust-unsealed`` (refused by the check behind the signature).
Either way the restore exits non-zero, the mock cell saw no stop, the live tree is unchanged,
no staging is left behind and nothing outside the environment's paths was touched.
"""
from __future__ import annotations

import io
import json
import os
import resource
import stat
import subprocess
import tarfile

import pytest

import e2e
from cnxbackup.demo import fakedb, mockcell
from restorekit import REPLACED, assert_nothing_changed, calls, restore_dirs, snapshot, staging_left


def untrusted_key(folder: str) -> str:
    path = os.path.join(folder, "attacker-key.pem")
    if not os.path.exists(path):
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path],
                       check=True, capture_output=True)
    return path


def item(manifest: dict, name: str) -> dict:
    return next(a for a in manifest["archives"] if a["name"] == name)


def zstd_tar(path: str, members: list) -> None:
    """An archive of hand-made tarfile members (TarInfo, data) -- or raw blocks (bytes)."""
    raw = io.BytesIO()
    for entry in members:
        if isinstance(entry, bytes):
            raw.write(entry)
            continue
        info, data = entry
        raw.write(info.tobuf(format=tarfile.GNU_FORMAT))
        if data:
            raw.write(data + b"\0" * ((-len(data)) % 512))
    raw.write(b"\0" * 1024)
    subprocess.run(["zstd", "-q", "-f", "-o", path], input=raw.getvalue(), check=True)


def tinfo(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", size: int = 0, mode: int = 0o644):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size, info.mode, info.mtime = kind, link, size, mode, 1700000000
    return info


def record_archive(manifest: dict, name: str, path: str, files: int) -> None:
    entry = item(manifest, name)
    entry.update(sha256=e2e.sha256(path), size=os.path.getsize(path), files=files)


# --------------------------------------------------------------------------- the forgeries


def forge_unparseable_header(ctx, m):
    broken = bytearray(tinfo("./junk").tobuf(format=tarfile.GNU_FORMAT))
    broken[148:156] = b"0000001\0"  # a checksum that does not match: tarfile stops, GNU tar skips on
    path = os.path.join(ctx.set_dir, item(m, "local-data")["path"])
    zstd_tar(path, [(tinfo("./", tarfile.DIRTYPE), None), (tinfo("./ok", size=2), b"ok"), bytes(broken),
                    (tinfo("./sda", tarfile.BLKTYPE), None), (tinfo("./null", tarfile.CHRTYPE), None)])
    record_archive(m, "local-data", path, 4)
    return "unreadable header after member 2"


def forge_symlink_where_a_carry_walks(ctx, m):
    """A one-archive item (as ``archive.mode: full`` writes it) whose tree has a link where a carry walks."""
    outside = os.path.join(ctx.base, "outside-target")
    os.makedirs(outside, exist_ok=True)
    path = os.path.join(ctx.set_dir, item(m, "connections-root")["path"])
    zstd_tar(path, [(tinfo("./", tarfile.DIRTYPE), None), (tinfo("./data", tarfile.SYMTYPE, outside), None)])
    record_archive(m, "connections-root", path, 2)
    for key in ("level", "level1", "snapshot", "changedWhileRead"):
        item(m, "connections-root").pop(key, None)
    return "in the staged tree is a symlink"


def forge_symlink_where_a_carry_walks_in_level_1(ctx, m):
    """Level 0 as the backup wrote it; level 1 turns data/ into a link (the dumpdir lists it as a file)."""
    outside = os.path.join(ctx.base, "outside-target")
    os.makedirs(outside, exist_ok=True)
    entry = item(m, "connections-root")
    path = os.path.join(ctx.set_dir, entry["level1"]["path"])
    dumpdir = b"Ydata\0\0"
    zstd_tar(path, [(tinfo("./", b"D", size=len(dumpdir)), dumpdir), (tinfo("./data", tarfile.SYMTYPE, outside), None)])
    entry["level1"].update(sha256=e2e.sha256(path), size=os.path.getsize(path), files=2)
    return "in the staged tree is a symlink"


def forge_copy_mode_6777(ctx, m):
    item(m, "profileRegistry")["mode"] = "6777"
    return "mode 6777 is setuid/setgid"


def forge_archive_path_outside(ctx, m):
    outside = os.path.join(ctx.base, "outside.tar.zst")
    entry = item(m, "im-data")
    subprocess.run(["cp", os.path.join(ctx.set_dir, entry["path"]), outside], check=True)
    entry["path"] = "../../outside.tar.zst"
    return "climbs out of the set"


def forge_archive_path_absolute(ctx, m):
    entry = item(m, "im-data")
    entry["path"] = os.path.join(ctx.set_dir, entry["path"])
    return "is not a path inside the set"


def forge_source_redirected(ctx, m):
    elsewhere = os.path.join(ctx.base, "elsewhere")
    os.makedirs(elsewhere, exist_ok=True)
    item(m, "local-data")["source"] = elsewhere
    return "the set says it came from local:" + elsewhere


def forge_dotdot_source(ctx, m):
    entry = item(m, "local-data")
    entry["source"] = entry["source"] + "/../../../../../../../../tmp/cnx-dotdot"
    return "the set says it came from"


def forge_dotdot_exclude(ctx, m):
    item(m, "connections-root")["excluded"] = ["./data/../../../etc"]
    return "nested exclude './data/../../../etc' is not a path inside the item"


def forge_database_not_in_the_environment(ctx, m):
    m["databases"][0]["name"] = "SAMPLE"
    return "database SAMPLE: not one the environment"


def forge_database_timestamp(ctx, m):
    m["databases"][0]["timestamp"] = "20240101000000 replace existing"
    return "is not a backup timestamp (14 digits)"


def forge_provision_rule_relaxed(ctx, m):
    item(m, "shared-provision")["restoreRule"] = "release"
    return "restored by rule release, the environment as a archive by rule exact-version"


def forge_kind_switched(ctx, m):
    item(m, "engine-ws-ear")["kind"] = "archive"
    return "the set records it as a archive"


FORGERIES = {f.__name__[len("forge_"):]: f for f in (
    forge_unparseable_header, forge_symlink_where_a_carry_walks, forge_symlink_where_a_carry_walks_in_level_1,
    forge_copy_mode_6777, forge_archive_path_outside,
    forge_archive_path_absolute, forge_source_redirected, forge_dotdot_source, forge_dotdot_exclude,
    forge_database_not_in_the_environment, forge_database_timestamp, forge_provision_rule_relaxed, forge_kind_switched)}


def outside_state(ctx) -> dict:
    """Everything beside the environment's tree and the set: must not change."""
    seen = {}
    for name in sorted(os.listdir(ctx.base)):
        if name in ("demo", "backups"):
            continue
        path = os.path.join(ctx.base, name)
        seen[name] = snapshot(path) if os.path.isdir(path) else os.path.getsize(path)
    return seen


@pytest.mark.parametrize("how", ["untrusted-key", "trust-unsealed"])
@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_a_forged_set_is_refused_before_any_change(ctx, forgery, how) -> None:
    data = e2e.manifest(ctx.set_dir)
    reason = FORGERIES[forgery](ctx, data)
    e2e.reseal(ctx.set_dir, lambda m: m.update(data), key=untrusted_key(ctx.base))
    ctx.original = snapshot(ctx.tree)
    before, outside = ctx.log_length(), outside_state(ctx)
    if how == "untrusted-key":
        proc = ctx.restore()
        expected = "which is not among the 1 trusted key(s)"
    else:
        proc = ctx.restore("--trust-unsealed")
        expected = reason
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and expected in out, out
    assert "nothing was stopped or changed" in out or how == "untrusted-key"
    assert_nothing_changed(ctx, before)
    assert outside_state(ctx) == outside
    assert not os.path.exists("/tmp/cnx-dotdot")


def test_the_target_root_is_a_containment(ctx, tmp_path) -> None:
    target, outside = tmp_path / "side", tmp_path / "outside"
    target.mkdir()
    outside.mkdir()
    os.symlink(str(outside), target / ctx.tree.lstrip("/").split("/")[0])  # the whole tree would land outside
    before = ctx.log_length()
    proc = ctx.restore("--target-root", str(target))
    assert proc.returncode == 1 and "outside --target-root" in proc.stderr and "nothing was stopped" in proc.stderr
    assert os.listdir(outside) == []
    assert_nothing_changed(ctx, before)


def test_a_wrong_key_and_a_forged_signature_say_different_things(ctx) -> None:
    e2e.reseal(ctx.set_dir, lambda m: None, key=untrusted_key(ctx.base))
    wrong = ctx.restore("--dry-run")
    assert wrong.returncode == 1 and "not among the 1 trusted key(s)" in wrong.stderr
    e2e.reseal(ctx.set_dir, lambda m: None)  # signed again by the trusted key
    with open(os.path.join(ctx.set_dir, "manifest.json.sig"), "r+b") as handle:
        signature = bytearray(handle.read())
        signature[-5] ^= 0x01
        handle.seek(0)
        handle.write(signature)
    forged = ctx.restore("--dry-run")
    assert forged.returncode == 1 and "the signature does not match the manifest" in forged.stderr
    os.unlink(os.path.join(ctx.set_dir, "manifest.json.sig"))
    unsigned = ctx.restore("--dry-run")
    assert unsigned.returncode == 1 and "the set is not signed" in unsigned.stderr and "--trust-unsealed" in unsigned.stderr


def test_a_missing_trusted_keys_file_is_named(ctx) -> None:
    proc = e2e.cli("verify", ctx.set_dir, "--trusted-keys", "/nonexistent/trusted-keys")
    assert proc.returncode == 2 and "/nonexistent/trusted-keys: no trusted-keys file" in proc.stderr


def test_sets_signed_before_a_key_rotation_still_verify(ctx, tmp_path) -> None:
    new_key = untrusted_key(str(tmp_path))
    public = subprocess.run(["openssl", "pkey", "-in", new_key, "-pubout"], capture_output=True, check=True).stdout
    both = tmp_path / "trusted-keys"
    both.write_bytes(public + open(e2e.trusted_keys_of(ctx.set_dir), "rb").read())
    old = e2e.cli("verify", ctx.set_dir, "--trusted-keys", str(both))
    assert old.returncode == 0 and "OK  signature: signed by trusted key SHA256:" in old.stdout
    e2e.reseal(ctx.set_dir, lambda m: None, key=new_key)
    rotated = e2e.cli("verify", ctx.set_dir, "--trusted-keys", str(both))
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr


def test_a_missing_or_corrupt_database_image_stops_the_restore_before_the_stop(ctx) -> None:
    manifest = e2e.manifest(ctx.set_dir)
    first, second = manifest["databases"][0]["images"][0]["path"], manifest["databases"][1]["images"][0]["path"]
    os.unlink(first)
    with open(second, "r+b") as handle:
        handle.seek(100)
        handle.write(b"X")
    before = ctx.log_length()
    proc = ctx.restore()
    assert proc.returncode == 1
    assert f"image {first} is missing" in proc.stderr and f"image {second} does not match its SHA-256" in proc.stderr
    assert_nothing_changed(ctx, before)


def _small_files_only() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (48 * 1024, 48 * 1024))


def test_a_full_disk_while_staging_leaves_no_staging_and_nothing_stopped(ctx) -> None:
    """Files larger than 48 KiB cannot be written (EFBIG, as on a full disk) by tar or by the copy."""
    before = ctx.log_length()
    proc = subprocess.run(e2e.cli_argv("--plain", "restore", ctx.set_dir, "--env", ctx.env_file, "--yes"), capture_output=True,
                          text=True, env=e2e.cli_env(), preexec_fn=_small_files_only, timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "nothing was stopped or changed" in proc.stderr and "staging folders were removed" in proc.stderr
    assert_nothing_changed(ctx, before)


def test_resume_checks_the_signature_again(ctx) -> None:
    fakedb.set_database(ctx.fake, "FILES", in_use=True, reconnects=True)
    first = ctx.restore()
    assert first.returncode == 1 and "--resume" in first.stdout
    e2e.reseal(ctx.set_dir, lambda m: m["archives"][0].update(description="edited while the restore waited"),
               key=untrusted_key(ctx.base))
    second = ctx.restore("--resume")
    assert second.returncode == 1 and "not among the 1 trusted key(s)" in second.stderr


@pytest.mark.parametrize("tamper", ["group-writable", "target-root-dropped"])
def test_resume_believes_only_a_journal_this_user_wrote(ctx, tamper) -> None:
    fakedb.set_database(ctx.fake, "FILES", in_use=True, reconnects=True)
    assert ctx.restore().returncode == 1
    [restore_dir] = ctx.restore_dirs()
    journal_file = os.path.join(restore_dir, "journal.json")
    if tamper == "group-writable":
        os.chmod(restore_dir, 0o770)
        expected = "writable by others; the interrupted restore's journal is not trusted"
    else:
        data = json.load(open(journal_file))
        data["target_root"] = "relative/elsewhere"
        with open(journal_file, "w") as handle:
            json.dump(data, handle)
        expected = "options are not ones cnxbackup wrote"
    fakedb.set_database(ctx.fake, "FILES", in_use=False, reconnects=False)
    before = ctx.log_length()
    proc = ctx.restore("--resume")
    assert proc.returncode == 1 and expected in proc.stderr, proc.stdout + proc.stderr
    assert not calls(mockcell.read_log(ctx.mock)[before:], "stopServer")


# --------------------------------------------------------------------------- a genuine set with special files


@pytest.fixture(scope="module")
def special_backup(tmp_path_factory):
    """A demo deployment whose local data holds a FIFO, a setuid file, hardlinks, symlinks, odd owners."""
    base = str(tmp_path_factory.mktemp("special"))
    env_file = e2e.write_env(base)
    assert e2e.cli("plan", "--env", env_file).returncode == 0  # builds the tree
    local = os.path.join(base, "demo", "tree", "opt", "IBM", "Connections", "data", "local", "special")
    os.makedirs(local)
    os.mkfifo(os.path.join(local, "pipe"))
    tool = os.path.join(local, "suid-tool")
    with open(tool, "w") as handle:
        handle.write("#!/bin/sh\n")
    os.chown(tool, 1234, 4321)
    os.chmod(tool, 0o4750)
    os.chmod(local, 0o2775)
    os.link(tool, os.path.join(local, "hard-tool"))
    os.symlink("suid-tool", os.path.join(local, "rel-link"))
    os.symlink("/etc/hostname", os.path.join(local, "abs-link"))
    proc = e2e.cli("backup", "--env", env_file)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [set_dir] = e2e.sets(os.path.join(base, "backups"))
    return env_file, set_dir, local


def owners(root: str) -> dict:
    """path -> (uid, gid), the moved-aside copies left out."""
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if REPLACED not in d]
        for name in dirs + [f for f in files if REPLACED not in f]:
            info = os.lstat(os.path.join(folder, name))
            found[os.path.relpath(os.path.join(folder, name), root)] = (info.st_uid, info.st_gid)
    return found


@pytest.mark.skipif(os.geteuid() != 0, reason="owners and setuid bits are restored only by root")
def test_a_genuine_set_with_special_files_restores_exactly(special_backup) -> None:
    env_file, set_dir, local = special_backup
    tree = os.path.dirname(os.path.dirname(local))
    original, original_owners = snapshot(tree), owners(tree)
    assert stat.S_ISFIFO(os.lstat(os.path.join(local, "pipe")).st_mode)
    os.unlink(os.path.join(local, "pipe"))
    os.chmod(os.path.join(local, "suid-tool"), 0o755)
    os.unlink(os.path.join(local, "rel-link"))
    proc = e2e.cli("--plain", "restore", set_dir, "--env", env_file, "--yes", "--only", "local-data")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert snapshot(tree) == original and owners(tree) == original_owners
    info = os.lstat(os.path.join(local, "suid-tool"))
    assert stat.S_IMODE(info.st_mode) == 0o4750 and (info.st_uid, info.st_gid) == (1234, 4321) and info.st_nlink == 2
    assert stat.S_IMODE(os.lstat(local).st_mode) == 0o2775
    assert os.readlink(os.path.join(local, "abs-link")) == "/etc/hostname"
    [restore_dir] = restore_dirs(os.path.dirname(env_file), set_dir)
    journal = json.load(open(os.path.join(restore_dir, "journal.json")))
    assert journal["signedBy"].startswith("SHA256:") and journal["trustUnsealed"] is None


def test_the_same_special_files_are_refused_from_an_unsealed_set(special_backup, tmp_path) -> None:
    env_file, set_dir, local = special_backup
    copy = str(tmp_path / os.path.basename(set_dir))
    subprocess.run(["cp", "-a", set_dir, copy], check=True)
    os.unlink(os.path.join(copy, "manifest.json.sig"))
    journals = restore_dirs(os.path.dirname(env_file), copy)
    target = str(tmp_path / "side")
    proc = e2e.cli("--plain", "restore", copy, "--env", env_file, "--yes", "--only", "local-data", "--target-root", target,
                   "--trust-unsealed")
    assert proc.returncode == 1 and "accepted only from a signed set" in proc.stderr, proc.stdout + proc.stderr
    assert staging_left(target) == []
    for folder in set(restore_dirs(os.path.dirname(env_file), copy)) - set(journals):  # recorded as refused
        assert json.load(open(os.path.join(folder, "journal.json")))["status"] == "refused"


def test_a_db2_image_whose_media_header_does_not_read_is_refused_before_the_stop(ctx) -> None:
    """Its SHA-256 agrees with a (re-signed) manifest, so only ``db2ckbkp -H`` can tell."""
    manifest = e2e.manifest(ctx.set_dir)
    image = manifest["databases"][0]["images"][0]["path"]
    with open(image, "r+b") as handle:
        handle.write(b"NOTADB2IMG")
    digest, size = e2e.sha256(image), os.path.getsize(image)
    e2e.reseal(ctx.set_dir, lambda m: m["databases"][0]["images"][0].update(sha256=digest, size=size))
    before = ctx.log_length()
    proc = ctx.restore()
    assert proc.returncode == 1 and f"image {image}: db2ckbkp -H rc 1" in proc.stderr, proc.stdout + proc.stderr
    assert_nothing_changed(ctx, before)
    headers = [e["argv"] for e in fakedb.read_log(ctx.fake) if e["tool"] == "db2ckbkp" and "-H" in e["argv"]]
    assert [image] in [[a for a in argv if a != "-H"] for argv in headers]
