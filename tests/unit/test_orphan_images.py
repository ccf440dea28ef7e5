"""Database images no set lists (issue 28, "after Ctrl-C"): ``list`` reports them and ``cleanup``
removes them after asking -- only files directly in ``database.backup_dir``, named as the
environment's backups name them, that no set whose signature holds lists; an image an unfinished
set's journal or a set whose signature does not hold names is kept and said so. Real signed sets,
made in-process from the format-1 fixture's record."""
from __future__ import annotations

import argparse
import builtins
import io
import json
import os
import sys

import pytest

from cnxbackup.actions.cleanup_cmd import _cleanup
from cnxbackup.actions.list_cmd import run_list
from cnxbackup.actions.sets.orphans import find_orphan_images
from cnxbackup.journal import Journal
from cnxbackup.manifest import SIGNATURE_ALGORITHM, write_manifest_data
from cnxbackup.progress import Progress
from cnxbackup.signing import ensure_signing_key, fingerprint, public_key_of, sign
from cnxbackup.transport import LocalTransport
from envfiles import load
from format1kit import FIXTURE

ENV = """\
    connections: {{version: 8.0.0.0_CR14}}
    target: {{dir: {root}/backups, restore_state: {root}/restores}}
    database: {{vendor: db2, backup_dir: {root}/db2, databases: [BLOGS, FILES]}}
    signing: {{key: {root}/key.pem, trusted_keys: {root}/trusted-keys}}
    """


def image(stamp: str, name: str = "BLOGS") -> str:
    return f"{name}.0.db2inst1.DBPART000.{stamp}.001"


@pytest.fixture
def scene(tmp_path):
    """backup_dir with a listed image, two orphans, one an unfinished set names, one an unsigned set
    names, and files that are not orphans by name, kind or place."""
    root = str(tmp_path)
    env = load(tmp_path, ENV.format(root=root))
    key, trusted = os.path.join(root, "key.pem"), os.path.join(root, "trusted-keys")
    ensure_signing_key(key, trusted)
    db2 = os.path.join(root, "db2")
    os.makedirs(os.path.join(db2, "sub"))
    os.makedirs(os.path.join(root, "backups"))
    names = {"listed": image("20260101000000"), "orphan1": image("20260102000000"),
             "orphan2": image("20260102000001", "FILES"), "journal": image("20260103000000"),
             "untrusted": image("20260104000000"), "other_db": image("20260102000000", "OTHERDB"),
             "other_name": "BLOGS.notes.txt"}
    for name in names.values():
        with open(os.path.join(db2, name), "wb") as handle:
            handle.write(b"x" * 100)
    os.symlink("/etc/hostname", os.path.join(db2, image("20260105000000")))  # a link is never an image
    open(os.path.join(db2, "sub", image("20260106000000")), "wb").close()  # not directly in backup_dir
    with open(os.path.join(FIXTURE, "set", "manifest.json"), encoding="utf-8") as handle:
        base = json.load(handle)

    def make_set(folder: str, listed: str, signer: str = key) -> str:
        path = os.path.join(root, "backups", folder)
        os.mkdir(path)
        data = {k: v for k, v in base.items() if k not in ("format", "manifestSha256")}
        record = dict(base["databases"][0], name="BLOGS", images=[{"path": os.path.join(db2, listed), "size": 100}])
        data.update(runId=folder, status="complete", databases=[record],
                    signing={"keyFingerprint": fingerprint(public_key_of(signer)), "algorithm": SIGNATURE_ALGORITHM})
        write_manifest_data(path, data, lambda text: sign(signer, text))
        return path

    make_set("unit-20260101T000000", names["listed"])
    stranger = os.path.join(root, "stranger.pem")
    ensure_signing_key(stranger, os.path.join(root, "stranger-trusted"))
    make_set("unit-20260104T000000", names["untrusted"], signer=stranger)
    unfinished = os.path.join(root, "backups", "unit-20260103T000000")
    os.mkdir(unfinished)
    journal = Journal.create(unfinished, environment="unit")
    journal.set("db:BLOGS", "done", result={"images": [{"path": os.path.join(db2, names["journal"])}]})
    journal.set("db:FILES", "failed", result={"images": [{"path": os.path.join(db2, names["orphan2"])}]},
                error="interrupted")
    return env, trusted, db2, names


def test_only_files_named_as_the_environment_s_images_that_no_trusted_set_lists_are_orphans(scene) -> None:
    env, trusted, db2, names = scene
    found = find_orphan_images(env, LocalTransport(), trusted)
    assert [os.path.basename(o.path) for o in found.orphans] == [names["orphan1"], names["orphan2"]]
    assert all(o.host is None and o.size == 100 for o in found.orphans)
    kept = "\n".join(found.kept)
    assert names["journal"] in kept and "unfinished set" in kept
    assert names["untrusted"] in kept and "signature does not hold" in kept
    assert len(found.kept) == 2


def test_list_reports_the_orphans_and_the_cleanup_that_removes_them(scene) -> None:
    env, trusted, _db2, names = scene
    out = io.StringIO()
    progress = Progress(out, plain=True)
    run_list(argparse.Namespace(trusted_keys=trusted), env, progress)
    text = out.getvalue()
    assert f"2 database image(s) in {env.section('database')['backup_dir']} belong to no set" in text
    assert names["orphan1"] in text and names["orphan2"] in text and "cleanup --env" in text
    assert names["listed"] not in text.split("belong to no set")[1].split("\n")[0]
    assert [os.path.basename(o["path"]) for o in progress.outcome.details["orphanImages"]] == [names["orphan1"],
                                                                                             names["orphan2"]]


def _cleanup_answering(scene, monkeypatch, answer: str) -> tuple:
    env, trusted, db2, names = scene
    asked = []
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(builtins, "input", lambda prompt: asked.append(prompt) or answer)
    out = io.StringIO()
    search = find_orphan_images(env, LocalTransport(), trusted, own_lock=True)
    code = _cleanup(argparse.Namespace(yes=False), env, {}, LocalTransport(), [], search, Progress(out, plain=True))
    return code, asked, out.getvalue(), sorted(os.listdir(db2))


def test_cleanup_asks_then_removes_the_orphans_and_nothing_else(scene, monkeypatch) -> None:
    _env, _trusted, db2, names = scene
    before = sorted(os.listdir(db2))
    code, asked, text, after = _cleanup_answering(scene, monkeypatch, "y")
    assert code == 0 and asked == ["remove these 2 database image(s)? [y/N] "]
    assert sorted(set(before) - set(after)) == sorted([names["orphan1"], names["orphan2"]])
    assert f"removed {os.path.join(db2, names['orphan1'])}" in text
    assert os.path.islink(os.path.join(db2, image("20260105000000")))
    assert os.path.exists(os.path.join(db2, "sub", image("20260106000000")))


def test_cleanup_answered_no_removes_nothing(scene, monkeypatch) -> None:
    _env, _trusted, db2, _names = scene
    before = sorted(os.listdir(db2))
    code, asked, text, after = _cleanup_answering(scene, monkeypatch, "n")
    assert code == 0 and len(asked) == 1 and after == before and "nothing removed" in text


def test_an_image_outside_backup_dir_is_never_an_orphan(scene, tmp_path) -> None:
    env, trusted, db2, names = scene
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / image("20260107000000")).write_bytes(b"y")
    os.symlink(str(elsewhere), os.path.join(db2, "linked"))  # a linked folder inside is not walked either
    found = find_orphan_images(env, LocalTransport(), trusted)
    assert all(os.path.dirname(o.path) == db2 for o in found.orphans) and len(found.orphans) == 2
