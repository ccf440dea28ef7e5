"""The manifest (sealed, checked on load, its format refused when newer) and the run journal."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

import e2e
from cnxbackup.errors import EXIT_USAGE
from cnxbackup.journal import DONE, FAILED, PENDING, RUNNING, SKIPPED, Journal
from cnxbackup.manifest import (
    FORMAT,
    MANIFEST,
    ManifestError,
    ManifestFormatError,
    load_manifest,
    load_manifest_data,
    write_manifest,
    write_manifest_data,
)
from cnxbackup.render import render_template
from format1kit import FIXTURE, FIXTURE_ROOT

ROOT = e2e.ROOT


def test_round_trip_seals_and_checks(tmp_path) -> None:
    sealed = write_manifest_data(str(tmp_path), {"environment": "prod", "status": "complete", "archives": []})
    assert sealed["format"] == 2 and len(sealed["manifestSha256"]) == 64  # no level 1: still readable by format-2 readers
    assert load_manifest_data(str(tmp_path)) == sealed
    sidecar = (tmp_path / (MANIFEST + ".sha256")).read_text()
    assert sidecar.split()[0] == hashlib.sha256((tmp_path / MANIFEST).read_bytes()).hexdigest()


def test_an_edited_manifest_is_refused(tmp_path) -> None:
    write_manifest_data(str(tmp_path), {"environment": "prod", "status": "complete"})
    data = json.loads((tmp_path / MANIFEST).read_text())
    data["status"] = "partial"
    (tmp_path / MANIFEST).write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="checksum does not match"):
        load_manifest_data(str(tmp_path))


@pytest.mark.parametrize("written", [FORMAT + 1, 99, 0, "1", True, None])
def test_a_format_this_reader_does_not_know_is_refused_as_usage(tmp_path, written) -> None:
    e2e.write_raw_manifest(str(tmp_path), {"format": written, "environment": "prod", "status": "complete"})
    with pytest.raises(ManifestFormatError, match="manifest format .* is not one this cnxbackup reads") as info:
        load_manifest_data(str(tmp_path))
    assert info.value.exit_code == EXIT_USAGE


def test_journal_records_steps_in_order_and_reloads(tmp_path) -> None:
    journal = Journal.create(str(tmp_path), environment="prod")
    journal.set("db:FILES", RUNNING)
    journal.set("db:FILES", FAILED, error="SQL1035N")
    journal.set("item:a", DONE, result={"sha256": "x"})
    journal.set("db:FILES", RUNNING)  # a retry clears the old error
    loaded = Journal.load(str(tmp_path))
    assert loaded.data["order"] == ["db:FILES", "item:a"]
    assert loaded.status("db:FILES") == RUNNING and "error" not in loaded.step("db:FILES")
    assert loaded.result("item:a") == {"sha256": "x"} and loaded.is_finished("item:a")
    assert loaded.status("never") == PENDING and not loaded.is_finished("never")
    loaded.set("item:b", SKIPPED)
    assert Journal.load(str(tmp_path)).is_finished("item:b")
    assert oct(os.stat(loaded.path).st_mode & 0o777) == "0o600"




def test_a_format1_manifest_written_before_the_model_loads_typed_and_writes_back_key_for_key() -> None:
    raw = json.loads(open(os.path.join(FIXTURE, "set", MANIFEST), encoding="utf-8").read())
    manifest = load_manifest(os.path.join(FIXTURE, "set"))
    assert manifest.to_json() == raw
    assert manifest.format == 1 and manifest.environment == "demo" and manifest.database_vendor == "db2"
    provision = manifest.archive("shared-provision")
    assert provision is not None and provision.restore_rule == "exact-version" and provision.is_archive
    copied = manifest.archive("profileRegistry")
    assert copied is not None and not copied.is_archive and copied.mode and copied.uid is not None
    assert all(db.in_set and db.images and db.images[0].sha256 for db in manifest.databases)
    assert manifest.wsadmin.role_mappings is not None and manifest.wsadmin.role_mappings.applications


def test_keys_this_release_does_not_know_are_kept_through_a_load_and_a_write(tmp_path) -> None:
    data = json.loads(open(os.path.join(FIXTURE, "set", MANIFEST), encoding="utf-8").read())
    data["laterOptional"] = {"x": 1}
    data["archives"][0]["laterNote"] = "kept"
    data["databases"][0]["images"][0]["laterDigest"] = "abc"
    write_manifest_data(str(tmp_path), data)
    manifest = load_manifest(str(tmp_path))
    assert manifest.extra == {"laterOptional": {"x": 1}} and manifest.archives[0].extra == {"laterNote": "kept"}
    again = tmp_path / "again"
    again.mkdir()
    write_manifest(str(again), manifest)
    written = json.loads((again / MANIFEST).read_text())
    assert written == json.loads((tmp_path / MANIFEST).read_text())


@pytest.mark.parametrize("change, message", [
    (lambda m: m["archives"][3].update(size="12"), "archives[3].size: expected an integer, found '12'"),
    (lambda m: m["archives"][0].update(size=True), "archives[0].size: expected an integer, found True"),
    (lambda m: m["archives"][1].pop("source"), "archives[1].source: missing"),
    (lambda m: m["databases"][2]["images"][0].update(path=7), "databases[2].images[0].path: expected a string"),
    (lambda m: m.update(archives={"a": 1}), "archives: expected a list"),
    (lambda m: m["wsadmin"].update(roleMappings=[]), "wsadmin.roleMappings: expected an object"),
    (lambda m: m.update(ccm="yes"), "ccm: expected true or false"),
])
def test_a_sealed_manifest_with_content_cnxbackup_never_writes_is_refused_naming_the_key(tmp_path, change, message) -> None:
    data = json.loads(open(os.path.join(FIXTURE, "set", MANIFEST), encoding="utf-8").read())
    change(data)
    write_manifest_data(str(tmp_path), data)
    with pytest.raises(ManifestError) as info:
        load_manifest(str(tmp_path))
    assert message in str(info.value) and str(tmp_path) in str(info.value)
    assert "\n" not in str(info.value)


def test_a_written_model_loads_back_equal(tmp_path) -> None:
    manifest = load_manifest(os.path.join(FIXTURE, "set"))
    manifest.status = "complete-with-warnings"
    manifest.warnings.append("a warning")
    sealed = write_manifest(str(tmp_path), manifest)
    assert load_manifest(str(tmp_path)) == sealed and sealed.manifest_sha256 != manifest.manifest_sha256


def test_the_fixture_s_report_md_renders_byte_identical_from_the_model(format1_set) -> None:
    """The report of a format-1 set renders from the model exactly as from the set's own JSON, and
    its tables are the pre-model code's own bytes. (The whole file was byte-identical until the
    report learned to say that the servers are left stopped; RESTORE.md until restore learned to
    stage before the stop.)"""
    manifest = load_manifest(format1_set)
    data = {k: v for k, v in manifest.to_json().items() if k not in ("format", "manifestSha256")}  # as before sealing
    with open(os.path.join(format1_set, "manifest.json"), encoding="utf-8") as handle:
        raw = {k: v for k, v in json.load(handle).items() if k not in ("format", "manifestSha256")}
    set_dir = os.path.join(FIXTURE_ROOT, "backups", os.path.basename(format1_set))
    extra = {"images_outside": ["/backup/db2"], "start_command": "wsadmin.sh -lang jython -f start_servers.py"}
    report = render_template("report/REPORT.md.j2", m=data, set_dir=set_dir, **extra)
    assert report == render_template("report/REPORT.md.j2", m=raw, set_dir=set_dir, **extra)
    old = open(os.path.join(format1_set, "REPORT.md"), encoding="utf-8").read()
    tables = [section for section in old.split("\n## ") if section.startswith(("Archives and files", "Databases"))]
    assert len(tables) == 2 and all(section.split("\n\nThe database images")[0].split("\n\nEvery archive")[0] in report
                                    for section in tables)

LEVEL1 = {"path": "archives/a.level1.tar.zst", "sha256": "1" * 64, "size": 10, "files": 3, "snapshotSha256": "2" * 64}


def test_a_set_with_level_1_archives_is_format_3_and_an_older_format_with_them_is_refused(tmp_path) -> None:
    archive = {"name": "a", "kind": "archive", "source": "/a", "path": "archives/a.tar.zst", "status": "done",
               "level": 0, "level1": LEVEL1}
    sealed = write_manifest_data(str(tmp_path), {"environment": "prod", "status": "complete", "archives": [archive]})
    assert sealed["format"] == 3
    e2e.write_raw_manifest(str(tmp_path), {"format": 2, "environment": "prod", "status": "complete", "archives": [archive]})
    with pytest.raises(ManifestError, match="level-1 archives in a format-2 manifest"):
        load_manifest_data(str(tmp_path))


def test_an_encrypted_set_is_format_4_and_an_older_format_with_encryption_is_refused(tmp_path) -> None:
    encryption = {"tool": "gnupg", "recipients": ["A" * 40]}
    sealed = write_manifest_data(str(tmp_path), {"environment": "prod", "status": "complete", "archives": [],
                                                  "encryption": encryption})
    assert sealed["format"] == 4 == FORMAT - 1
    e2e.write_raw_manifest(str(tmp_path), {"format": 3, "environment": "prod", "status": "complete", "encryption": encryption})
    with pytest.raises(ManifestError, match="an encrypted set in a format-3 manifest"):
        load_manifest_data(str(tmp_path))


@pytest.mark.parametrize("change, problem", [
    ({"level1": None}, "without its level 1"),
    ({"level": None}, "a level-1 archive without its level 0"),
    ({"snapshot": None}, "without its snapshot"),
    ({"snapshot": {"path": "snapshots/a.level0.snar", "sha256": "3" * 64, "size": 5}}, "taken from another snapshot"),
])
def test_the_levels_of_an_item_must_make_one_tree(change, problem) -> None:
    from cnxbackup.manifest import ArchiveRecord
    record = {"name": "a", "kind": "archive", "source": "/a", "path": "archives/a.tar.zst", "status": "done",
              "level": 0, "level1": LEVEL1, "snapshot": {"path": "snapshots/a.level0.snar", "sha256": "2" * 64, "size": 5}}
    assert ArchiveRecord.from_json(record).levels_problem() == ""
    record.update(change)
    record = {k: v for k, v in record.items() if v is not None}
    assert problem in ArchiveRecord.from_json(record).levels_problem()
