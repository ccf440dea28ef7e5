"""``cnxbackup prune`` and ``list``: the rules (unit), then real sets: what is kept, what is removed
with its database images, and the images a forged or altered set names are left alone."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

import e2e
from cnxbackup.actions.sets import retention
from cnxbackup.archive import hash_file
from cnxbackup.config import load_environment
from cnxbackup.databases import backup_all, settings_for, targets_from_settings
from cnxbackup.demo import fakedb
from cnxbackup.errors import CnxBackupError
from cnxbackup.lock import RunLock
from cnxbackup.manifest import DatabaseRecord, ImageRecord, Manifest, ToolRecord
from cnxbackup.transport import LocalTransport
from jsonresult import run_json


@pytest.fixture(scope="module")
def two_sets(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("prune"))
    env_file = e2e.write_env(tmp)
    first = run_json("backup", "--env", env_file, expect=0)["set"]
    time.sleep(1.1)  # set names are to the second
    second = run_json("backup", "--env", env_file, expect=0)["set"]
    return {"tmp": tmp, "env": env_file, "b1": first, "b2": second, "target": os.path.dirname(first)}


def images(set_dir: str) -> list:
    return [i["path"] for d in e2e.manifest(set_dir)["databases"] for i in d["images"]]


def decisions(document) -> dict:
    return {os.path.basename(s["path"]): s for s in document["details"]["sets"]}


def test_prune_on_real_sets(two_sets):
    env, target, b1, b2 = two_sets["env"], two_sets["target"], two_sets["b1"], two_sets["b2"]
    # an old partial set (signed: it names no image), a newer unfinished one, and a forged one (the
    # manifest edited, its signature no longer holds) that names the newest set's images
    partial = os.path.join(target, "demo-20200101T000000")
    shutil.copytree(b1, partial)
    e2e.reseal(partial, lambda data: data.update(status="partial", databases=[], runId="demo-20200101T000000"))
    unfinished = os.path.join(target, "demo-20991231T000000")
    os.makedirs(unfinished)
    with open(os.path.join(unfinished, "journal.json"), "w", encoding="utf-8") as handle:
        json.dump({"status": "running", "steps": {}, "order": []}, handle)
    forged = os.path.join(target, "demo-20200102T000000")
    shutil.copytree(b2, forged)
    data = e2e.manifest(forged)
    data["status"] = "complete"
    with open(os.path.join(forged, "manifest.json"), "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    b1_images, b2_images = images(b1), images(b2)
    assert all(map(os.path.isfile, b1_images + b2_images)) and not set(b1_images) & set(b2_images)

    listing = run_json("list", "--env", env, expect=0)
    states = {os.path.basename(s["path"]): s["status"] for s in listing["details"]["sets"]}
    assert states == {os.path.basename(b1): "complete", os.path.basename(b2): "complete", "demo-20200101T000000": "partial",
                      "demo-20991231T000000": "unfinished", "demo-20200102T000000": "untrusted"}
    assert listing["details"]["sets"][0]["name"] == "demo-20991231T000000"  # newest first

    dry = decisions(run_json("prune", "--env", env, "--keep", "1", "--dry-run", expect=0))
    assert {name: d["keep"] for name, d in dry.items()} == {
        os.path.basename(b1): False, os.path.basename(b2): True, "demo-20200101T000000": False,
        "demo-20991231T000000": True, "demo-20200102T000000": True}
    assert all(map(os.path.isdir, (b1, b2, partial, unfinished, forged)))  # a dry run removes nothing

    # a restore of b1 that did not finish: b1 stays; the old partial set goes
    restore_dir = os.path.join(two_sets["tmp"], "demo", "restore-state", os.path.basename(b1), "restore-20261201T000000")
    os.makedirs(restore_dir)  # where restore keeps its journal (target.restore_state), never in the set
    with open(os.path.join(restore_dir, "journal.json"), "w", encoding="utf-8") as handle:
        json.dump({"status": "running"}, handle)
    done = decisions(run_json("prune", "--env", env, "--keep", "1", expect=0))
    assert "unfinished restore" in done[os.path.basename(b1)]["reason"]
    assert not os.path.exists(partial) and os.path.isdir(b1) and os.path.isdir(forged)
    shutil.rmtree(restore_dir)

    # an image of b1 that is not what the set recorded: nothing of b1 is removed, and prune fails
    with open(b1_images[-1], "ab") as handle:
        handle.write(b"x")
    refused = run_json("prune", "--env", env, "--keep", "1", expect=1)
    assert "does not match its SHA-256" in " ".join(decisions(refused)[os.path.basename(b1)]["problems"])
    assert os.path.isdir(b1) and all(map(os.path.isfile, b1_images))
    with open(b1_images[-1], "r+b") as handle:
        handle.truncate(os.path.getsize(b1_images[-1]) - 1)

    removed = decisions(run_json("prune", "--env", env, "--keep", "1", expect=0))
    assert len(removed[os.path.basename(b1)]["removed"]) == len(b1_images) + 1
    assert not os.path.exists(b1) and not any(map(os.path.exists, b1_images))
    assert os.path.isdir(b2) and all(map(os.path.isfile, b2_images))  # the forged set named them: left alone
    assert os.path.isdir(forged) and os.path.isdir(unfinished)
    assert not [n for n in os.listdir(target) if n.startswith(".cnxbackup-pruning-")]
    # the images went by their recorded paths: DB2 was never asked to prune its history
    calls = [" ".join(c["argv"]).lower() for c in fakedb.read_log(e2e.fakedb_env(two_sets["tmp"]))]
    assert calls and not any("prune history" in call for call in calls)


def test_a_signed_set_naming_an_image_outside_backup_dir_is_refused(two_sets, tmp_path):
    env, b2 = two_sets["env"], two_sets["b2"]
    outside = str(tmp_path / "precious.bin")
    shutil.copyfile(images(b2)[0], outside)
    old = os.path.join(two_sets["target"], "demo-20200103T000000")
    shutil.copytree(b2, old)

    def point_outside(data):
        data["databases"] = data["databases"][:1]
        data["databases"][0]["images"][0]["path"] = outside
        data["runId"] = "demo-20200103T000000"  # the name the (older) set's signed record gives it

    e2e.reseal(old, point_outside)
    document = run_json("prune", "--env", env, "--keep", "1", expect=1)
    assert "is not inside database.backup_dir" in " ".join(decisions(document)["demo-20200103T000000"]["problems"])
    assert os.path.isfile(outside) and os.path.isdir(old)
    shutil.rmtree(old)


def test_prune_takes_the_environment_lock(two_sets):
    lock = RunLock(two_sets["target"], "demo", "a-backup")
    lock.acquire()
    try:
        document = run_json("prune", "--env", two_sets["env"], "--keep", "1", expect=1)
    finally:
        lock.release()
    assert "a-backup" in document["errors"][0] or "lock" in document["errors"][0]


def test_an_rman_backup_goes_by_its_tag_and_only_after_every_piece_checked(tmp_path):
    tmp = str(tmp_path)
    fake = fakedb.prepare(os.path.join(tmp, "fake"), "oracle", [])
    backup_dir = os.path.join(tmp, "rman")
    os.makedirs(backup_dir)
    env_lines = "".join(f"    {key}: \"{value}\"\n" for key, value in fake.items())
    env_file = e2e.write_env(tmp, database=(
        f"database:\n  vendor: oracle\n  backup_dir: \"{backup_dir}\"\n  oracle:\n    method: rman\n    sid: LSCONN\n"
        f"  command:\n    rman: \"{fakedb.tool_path('rman')}\"\n  env:\n{env_lines}"))
    env = load_environment(env_file)
    settings = settings_for("oracle", env)
    targets = targets_from_settings(dict(settings, databases=["OAUSER"]), "8.0", False)
    (first,) = backup_all(targets, settings, backup_dir)
    time.sleep(1.1)  # the tag is CNX + the time to the second
    (second,) = backup_all(targets, settings, backup_dir)
    assert first.status == second.status == "ok"

    def manifest_of(result) -> Manifest:
        images = [ImageRecord(path, *hash_file(path)) for path in result.images]
        return Manifest(tool=ToolRecord("cnxbackup", "test"), environment="demo", run_id="r", connections={},
                        status="complete", database_vendor="oracle",
                        databases=[DatabaseRecord("LSCONN", "oracle", "done", images, timestamp=result.timestamp)])

    older, newer = manifest_of(first), manifest_of(second)
    with open(second.images[0], "ab") as handle:  # not what the newer set recorded: RMAN is not even asked
        handle.write(b"x")
    rman_calls = len([c for c in fakedb.read_log(fake) if c["tool"] == "rman"])
    with pytest.raises(CnxBackupError, match="does not match its SHA-256"):
        retention._forget_databases(env, newer, LocalTransport())
    assert len([c for c in fakedb.read_log(fake) if c["tool"] == "rman"]) == rman_calls
    lines = retention._forget_databases(env, older, LocalTransport())
    assert lines == [f"RMAN backup CNX{first.timestamp}: deleted ({len(first.images)} objects)"]
    assert not any(map(os.path.exists, first.images)) and all(map(os.path.exists, second.images))
    assert "DELETE NOPROMPT BACKUP TAG 'CNX%s'" % first.timestamp in fakedb.read_log(fake)[-1]["cmdfile_text"]


def test_an_older_set_renamed_with_a_newer_stamp_does_not_push_out_the_newest(two_sets, tmp_path):
    """Sets are dated by their signed record (issue 26): an older genuine set renamed to look newer
    made ``prune --keep 1`` remove the truly newest one; now it is listed as misnamed and kept, and
    the newest by its signed record stays."""
    env, b2, target = two_sets["env"], two_sets["b2"], two_sets["target"]
    older = os.path.join(target, "demo-20200105T000000")
    shutil.copytree(b2, older)
    e2e.reseal(older, lambda data: data.update(runId="demo-20200105T000000", databases=[]))
    renamed = os.path.join(target, "demo-20991230T000000")
    os.rename(older, renamed)
    try:
        listing = decisions(run_json("list", "--env", env, expect=0))
        assert listing["demo-20991230T000000"]["status"] == "misnamed"
        assert "name disagrees with its signed record" in listing["demo-20991230T000000"]["trustProblem"]
        # a dry run: the module's sets stay as the other tests expect them (the decision is what is tested)
        dry = decisions(run_json("prune", "--env", env, "--keep", "1", "--dry-run", expect=0))
        assert dry[os.path.basename(b2)]["keep"] and "newest complete" in dry[os.path.basename(b2)]["reason"]
        assert dry["demo-20991230T000000"]["keep"]
        assert "name disagrees with its signed record" in dry["demo-20991230T000000"]["reason"]
    finally:
        shutil.rmtree(renamed, ignore_errors=True)
