"""`cnxbackup verify SET [--deep]`: one detection test per kind of damage, on a real demo set."""
from __future__ import annotations

import os
import subprocess

import pytest

import e2e
from restorekit import reset_copy


@pytest.fixture(scope="module")
def backup(shared_backup):
    """The session's demo backup (restorekit), put back as it was made: these tests damage only a
    copy of the set (and the database image one of them damages, it puts back)."""
    base, pristine = shared_backup
    reset_copy(base, pristine)
    [set_dir] = e2e.sets(os.path.join(base, "backups"))
    return base, os.path.join(base, "demo.yaml"), set_dir


@pytest.fixture
def copy(backup, tmp_path):
    base, env_file, set_dir = backup
    target = str(tmp_path / "set")
    subprocess.run(["cp", "-a", set_dir, target], check=True)
    return target, env_file


def verify(set_dir, env_file, *extra):
    proc = e2e.cli("--plain", "verify", set_dir, "--env", env_file, *extra)
    return proc.returncode, proc.stdout + proc.stderr


def flip_bit(path, offset=None):
    size = os.path.getsize(path)
    offset = size // 2 if offset is None else offset
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0x01]))


reseal = e2e.reseal


def test_intact_set_passes_plain_and_deep(copy):
    set_dir, env_file = copy
    for extra in ((), ("--deep",)):
        rc, out = verify(set_dir, env_file, *extra)
        assert rc == 0, out
        assert "verify passed" in out and "db2ckbkp" in out and "BAD" not in out


def test_bit_flip_in_archive(copy):
    set_dir, env_file = copy
    flip_bit(os.path.join(set_dir, "archives", "shared-data.tar.zst"))
    rc, out = verify(set_dir, env_file)
    assert rc == 1 and "BAD shared-data level 0: archives/shared-data.tar.zst SHA-256 differs" in out
    assert out.count("BAD") == 1


def test_bit_flip_in_copied_file(copy):
    set_dir, env_file = copy
    flip_bit(os.path.join(set_dir, "files", "profileRegistry", "profileRegistry.xml"))
    rc, out = verify(set_dir, env_file)
    assert rc == 1 and "BAD profileRegistry: files/profileRegistry/profileRegistry.xml SHA-256 differs" in out


def test_truncated_archive(copy):
    set_dir, env_file = copy
    path = os.path.join(set_dir, "archives", "connections-root.tar.zst")
    os.truncate(path, os.path.getsize(path) - 100)
    rc, out = verify(set_dir, env_file)
    assert rc == 1 and "BAD connections-root level 0: archives/connections-root.tar.zst is" in out and "truncated" in out


def test_missing_archive(copy):
    set_dir, env_file = copy
    os.unlink(os.path.join(set_dir, "archives", "im-data.tar.zst"))
    rc, out = verify(set_dir, env_file)
    assert rc == 1 and "BAD im-data level 0: archives/im-data.tar.zst is missing" in out


def test_missing_manifest(copy):
    set_dir, env_file = copy
    os.unlink(os.path.join(set_dir, "manifest.json"))
    rc, out = verify(set_dir, env_file)
    assert rc == 1 and "manifest.json: missing" in out and "verify passed" not in out


def test_edited_manifest(copy):
    set_dir, env_file = copy
    path = os.path.join(set_dir, "manifest.json")
    text = open(path).read()
    manifest = e2e.manifest(set_dir)
    size = manifest["archives"][0]["size"]
    edited = text.replace(f'"size": {size},', f'"size": {size + 1},', 1)
    assert edited != text
    open(path, "w").write(edited)
    rc, out = verify(set_dir, env_file)
    assert rc == 1 and "manifest.json" in out and "edited or damaged" in out


def test_corrupt_database_image_caught_by_db2ckbkp(copy):
    set_dir, env_file = copy
    db = e2e.manifest(set_dir)["databases"][0]
    image = db["images"][0]["path"]
    original = open(image, "rb").read()
    try:
        flip_bit(image, len(original) - 10)
        rc, out = verify(set_dir, env_file)
        assert rc == 1 and f"BAD database {db['name']}: image {image} SHA-256" in out
        # with the manifest agreeing with the damaged file, only the vendor's verifier can tell
        digest = e2e.sha256(image)

        def agree(m):
            [d for d in m["databases"] if d["name"] == db["name"]][0]["images"][0]["sha256"] = digest
        reseal(set_dir, agree)
        rc, out = verify(set_dir, env_file)
        assert rc == 1 and f"BAD database {db['name']} ({image}): db2ckbkp" in out
    finally:
        with open(image, "wb") as handle:
            handle.write(original)


def test_entry_count_mismatch_only_caught_by_deep(copy):
    set_dir, env_file = copy

    def miscount(m):
        [a for a in m["archives"] if a["name"] == "local-data"][0]["files"] += 1
    reseal(set_dir, miscount)
    rc, out = verify(set_dir, env_file)
    assert rc == 0, out
    rc, out = verify(set_dir, env_file, "--deep")
    assert rc == 1 and "BAD local-data level 0: archives/local-data.tar.zst lists" in out and "the manifest says" in out


def test_a_damaged_level_1_or_snapshot_is_found(copy):
    set_dir, env_file = copy
    flip_bit(os.path.join(set_dir, "archives", "shared-data.level1.tar.zst"))
    os.truncate(os.path.join(set_dir, "snapshots", "local-data.level0.snar"), 10)
    rc, out = verify(set_dir, env_file)
    assert rc == 1 and "BAD shared-data level 1: archives/shared-data.level1.tar.zst SHA-256 differs" in out
    assert "BAD local-data: level-0 snapshot snapshots/local-data.level0.snar: 10 bytes" in out
    assert out.count("BAD") == 2


@pytest.mark.parametrize("edit, problem", [
    (lambda a: a.pop("level"), "a level-1 archive without its level 0: the set is broken"),
    (lambda a: a["level1"].update(snapshotSha256="0" * 64), "its level 1 was taken from another snapshot"),
])
def test_a_level_1_without_its_level_0_or_from_another_snapshot_is_a_broken_set(copy, edit, problem):
    """Signed again with the trusted key: what the signature covers must still make one tree."""
    set_dir, env_file = copy
    reseal(set_dir, lambda m: edit(next(a for a in m["archives"] if a["name"] == "im-data")))
    rc, out = verify(set_dir, env_file)
    assert rc == 1 and f"BAD im-data: {problem}" in out, out


def _runbook_check(set_dir, public_key):
    """The check-by-hand block at the top of the set's RESTORE.md, run as written (SET and PUBKEY changed)."""
    text = open(os.path.join(set_dir, "RESTORE.md"), encoding="utf-8").read()
    block = text.split("    SET=", 1)[1].split("\n\n", 1)[0]
    lines = ["    SET=" + block.split("\n", 1)[0]] + block.split("\n")[1:]
    script = "\n".join(line[4:] for line in lines)
    script = script.replace(script.split("\n")[0], f"SET={set_dir}", 1)
    script = script.replace(script.split("\n")[1], f"PUBKEY={public_key}", 1)
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], capture_output=True, text=True, cwd="/")


def test_every_file_of_a_new_set_is_signed_and_checks_by_hand(copy, tmp_path):
    """Format 5 (issue 27): RESTORE.md, REPORT.md and SHA256SUMS are in the signed manifest; the runbook's
    own check by hand (openssl against a key kept outside the set, then sha256sum -c) passes on a fresh
    set; an appended line, a changed REPORT.md and an added file are each named by verify."""
    set_dir, env_file = copy
    manifest = e2e.manifest(set_dir)
    listed = {f["path"] for f in manifest["files"]}
    assert manifest["format"] == 5 and {"RESTORE.md", "REPORT.md", "SHA256SUMS"} <= listed
    assert "cnxbackup.log" in manifest["mutableFiles"] and "journal.json" in manifest["mutableFiles"]
    public = str(tmp_path / "public.pem")
    with open(public, "wb") as handle:
        handle.write(subprocess.run(["openssl", "pkey", "-in", e2e.signing_key_of(set_dir), "-pubout"],
                                    capture_output=True, check=True).stdout)
    proc = _runbook_check(set_dir, public)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Verified OK" in proc.stdout and manifest["signing"]["keyFingerprint"][7:] in proc.stdout
    sums = e2e.sha256(os.path.join(set_dir, "SHA256SUMS"))
    assert proc.stdout.count(sums) == 2 and "FAILED" not in proc.stdout
    with open(os.path.join(set_dir, "RESTORE.md"), "a") as handle:
        handle.write("rm -rf /opt/IBM   # injected\n")
    with open(os.path.join(set_dir, "REPORT.md"), "r+") as handle:
        handle.write("X")  # was "#"
    with open(os.path.join(set_dir, "notes.txt"), "w") as handle:
        handle.write("added after the backup\n")
    rc, out = verify(set_dir, env_file)
    assert rc == 1, out
    assert "BAD RESTORE.md: " in out and "BAD REPORT.md: " in out
    assert "BAD notes.txt: in the set but not in the signed manifest" in out and out.count("BAD") == 3, out
    assert _runbook_check(set_dir, public).returncode != 0  # sha256sum -c fails by hand too


def test_a_set_of_an_older_format_verifies_with_a_note(copy, format1_set):
    """A set written before format 5 verifies as before; one note says what its signature does not cover."""
    set_dir, env_file = copy
    reseal(set_dir, lambda m: m.pop("mutableFiles"))  # a signed format-3 set, as the release before wrote it
    assert e2e.manifest(set_dir)["format"] == 3
    with open(os.path.join(set_dir, "notes.txt"), "w") as handle:
        handle.write("not covered by a format-3 signature\n")
    rc, out = verify(set_dir, env_file)
    assert rc == 0 and "BAD" not in out, out
    assert "note: format 3: only the files its manifest names are covered by the signature; the runbook " \
           "(RESTORE.md), REPORT.md and the set's other files are NOT" in out
    proc = e2e.cli("--plain", "verify", format1_set, "--trust-unsealed", "--trusted-keys", "/nonexistent")
    assert proc.returncode == 0 and "note: format 1: only the files" in proc.stdout + proc.stderr
