"""Format 5: every file of a set accounted for by the signed manifest (``manifest.coverage``), what
``verify`` says of a file it does not name, and the signing key's card (issue 27, items 1 and 2)."""
from __future__ import annotations

import hashlib
import os
import stat
import subprocess

import pytest

import e2e
from cnxbackup.actions.sets import verify as verify_module
from cnxbackup.manifest import (
    FORMAT,
    MUTABLE_FILES,
    ArchiveRecord,
    DatabaseRecord,
    FileRecord,
    ImageRecord,
    LevelRecord,
    Manifest,
    ManifestError,
    SnapshotRecord,
    ToolRecord,
    load_manifest_data,
    write_manifest_data,
)
from cnxbackup.manifest.coverage import COVERED_FORMAT, recorded_digests, sums_text, unaccounted, walk_set
from cnxbackup.signing import ensure_signing_key, fingerprint, key_card_path, public_key_of


def _write(root, rel, data=b"x"):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    return hashlib.sha256(data).hexdigest(), len(data)


def _manifest(root, format_=COVERED_FORMAT) -> Manifest:
    """A small format-5 set on disk: one archive with its snapshot and level 1, an image copy, listed
    files, the mutable ones."""
    digests = {rel: _write(root, rel, rel.encode()) for rel in (
        "archives/a.tar.zst", "archives/a.level1.tar.zst", "snapshots/a.level0.snar", "databases/DB.img",
        "RESTORE.md", "REPORT.md", "tools/cnxbackup.pyz", "cnxbackup.log", "journal.json", ".run/step.py",
        "manifest.json", "manifest.json.sig", "manifest.json.sha256", "verify-result.json")}
    sha, size = digests["archives/a.tar.zst"]
    archive = ArchiveRecord(name="a", kind="archive", source="/a", path="archives/a.tar.zst", status="done",
                            sha256=sha, size=size, level=0,
                            snapshot=SnapshotRecord("snapshots/a.level0.snar", *digests["snapshots/a.level0.snar"]))
    archive.level1 = LevelRecord("archives/a.level1.tar.zst", *digests["archives/a.level1.tar.zst"], files=1,
                                 snapshot_sha256=digests["snapshots/a.level0.snar"][0])
    image = ImageRecord(path="/db/DB.img", copy="databases/DB.img", sha256=digests["databases/DB.img"][0],
                        size=digests["databases/DB.img"][1])
    files = [FileRecord(rel, *digests[rel]) for rel in ("RESTORE.md", "REPORT.md", "tools/cnxbackup.pyz")]
    return Manifest(tool=ToolRecord("cnxbackup", "t"), environment="demo", run_id="demo-20261207T230000",
                    connections={}, status="complete", archives=[archive],
                    databases=[DatabaseRecord(name="DB", vendor="db2", status="done", images=[image])], files=files,
                    mutable_files=list(MUTABLE_FILES), format=format_)


def test_the_walk_lists_regular_files_and_names_links_and_fifos_without_following(tmp_path) -> None:
    root = str(tmp_path)
    _write(root, "a/b.txt")
    os.symlink("/etc", os.path.join(root, "a", "dirlink"))
    os.symlink("/etc/passwd", os.path.join(root, "filelink"))
    os.mkfifo(os.path.join(root, "pipe"))
    files, odd = walk_set(root)
    assert files == ["a/b.txt"]
    assert odd == [("a/dirlink", "a symbolic link"), ("filelink", "a symbolic link"), ("pipe", "a FIFO")]


def test_every_file_is_accounted_for_and_an_added_one_is_not(tmp_path) -> None:
    root = str(tmp_path)
    manifest = _manifest(root)
    files, odd = walk_set(root)
    assert not odd and unaccounted(manifest, files) == []
    _write(root, "RESTORE.md.orig")
    _write(root, "archives/b.tar.zst")
    _write(root, ".run/anything/deep.txt")  # scratch, mutable by design
    assert unaccounted(manifest, walk_set(root)[0]) == ["RESTORE.md.orig", "archives/b.tar.zst"]


def test_sha256sums_lists_every_recorded_digest_sorted_and_sha256sum_checks_it(tmp_path) -> None:
    root = str(tmp_path)
    manifest = _manifest(root)
    digests = recorded_digests(manifest)
    assert sorted(digests) == ["REPORT.md", "RESTORE.md", "archives/a.level1.tar.zst", "archives/a.tar.zst",
                               "databases/DB.img", "snapshots/a.level0.snar", "tools/cnxbackup.pyz"]
    text = sums_text(digests)
    assert text.decode().splitlines()[0] == f"{digests['REPORT.md'][0]}  REPORT.md"
    with open(os.path.join(root, "SHA256SUMS"), "wb") as handle:
        handle.write(text)
    assert subprocess.run(["sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=root, capture_output=True).returncode == 0
    with open(os.path.join(root, "RESTORE.md"), "ab") as handle:
        handle.write(b"rm -rf /opt/IBM   # injected\n")
    proc = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=root, capture_output=True, text=True)
    assert proc.returncode == 1 and "RESTORE.md: FAILED" in proc.stdout


def test_a_name_sha256sum_must_escape_is_written_as_it_escapes_it() -> None:
    assert sums_text({"a\\b": ("0" * 64, 1)}) == ("\\" + "0" * 64 + "  a\\\\b\n").encode()


def test_verify_names_what_the_manifest_does_not_account_for(tmp_path) -> None:
    root = str(tmp_path)
    manifest = _manifest(root)
    [(good, line)] = verify_module._verify_coverage(root, manifest)
    assert good and line.startswith("OK  each of the set's 14 files is in the signed manifest")
    _write(root, "extra.txt")
    os.symlink("/etc/passwd", os.path.join(root, "tools", "link"))
    os.mkfifo(os.path.join(root, "verify-result.json.partial"))  # a FIFO at a mutable name: named, never opened
    checks = verify_module._verify_coverage(root, manifest)
    assert [good for good, _ in checks] == [False, False, False]
    assert [line for _, line in checks] == [
        "BAD tools/link: a symbolic link in the set (not followed; nothing in a set is a link or special file)",
        "BAD verify-result.json.partial: a FIFO in the set (not followed; nothing in a set is a link or special file)",
        "BAD extra.txt: in the set but not in the signed manifest (added or renamed after the backup)"]


@pytest.mark.parametrize("written", [1, 2, 4])
def test_an_older_set_gets_a_note_not_a_check(tmp_path, written) -> None:
    root = str(tmp_path)
    manifest = _manifest(root, written)
    _write(root, "extra.txt")
    [(good, line)] = verify_module._verify_coverage(root, manifest)
    assert good and line.startswith(f"NOTE format {written}: only the files its manifest names are covered") \
        and "RESTORE.md" in line


def test_a_manifest_with_mutable_files_is_format_5_and_the_two_go_together(tmp_path) -> None:
    root = str(tmp_path)
    sealed = write_manifest_data(root, {"environment": "prod", "status": "complete", "mutableFiles": ["x"]})
    assert sealed["format"] == COVERED_FORMAT == FORMAT
    assert write_manifest_data(root, {"environment": "prod", "status": "complete"})["format"] == 2
    e2e.write_raw_manifest(root, {"format": 4, "environment": "prod", "status": "complete", "mutableFiles": []})
    with pytest.raises(ManifestError, match="a format-4 manifest with mutableFiles"):
        load_manifest_data(root)
    e2e.write_raw_manifest(root, {"format": 5, "environment": "prod", "status": "complete"})
    with pytest.raises(ManifestError, match="a format-5 manifest without mutableFiles"):
        load_manifest_data(root)


def test_a_new_signing_key_gets_a_key_card_with_its_fingerprint(tmp_path) -> None:
    key, trusted = str(tmp_path / "keys" / "signing.pem"), str(tmp_path / "trusted-keys")
    notes = [text for _, text in ensure_signing_key(key, trusted)]
    print_ = fingerprint(public_key_of(key))
    card = key_card_path(key)
    assert any(print_ in note and card in note for note in notes)
    assert stat.S_IMODE(os.stat(card).st_mode) == 0o644
    text = open(card, encoding="utf-8").read()
    assert f"Public key fingerprint: {print_}" in text and trusted in text
    assert "openssl dgst -sha256 -verify /root/cnxbackup-public-key.pem -signature manifest.json.sig manifest.json" in text
    assert public_key_of(key).decode().strip() in text
    assert not [text for _, text in ensure_signing_key(key, trusted) if "card" in text]  # made once, with the key
