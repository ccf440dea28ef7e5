"""``list`` and ``prune`` date and order sets by their signed record, not by the folder's name
(issue 26): an older genuine set renamed with a newer stamp must not make ``--keep 1`` remove the
truly newest set; a folder whose name disagrees with its signed record is "misnamed", never
counted and never removed. Real signed sets, made in-process from the format-1 fixture's record."""

from __future__ import annotations

import json
import os
import types

import pytest

from cnxbackup.actions.sets.retention import decide, scan_sets
from cnxbackup.manifest import SIGNATURE_ALGORITHM, write_manifest_data
from cnxbackup.signing import ensure_signing_key, fingerprint, public_key_of, sign
from format1kit import FIXTURE

NOW = 1_900_000_000.0


@pytest.fixture
def signed(tmp_path):
    key, trusted = str(tmp_path / "key.pem"), str(tmp_path / "trusted-keys")
    ensure_signing_key(key, trusted)
    target = tmp_path / "backups"
    target.mkdir()
    with open(os.path.join(FIXTURE, "set", "manifest.json"), encoding="utf-8") as handle:
        base = json.load(handle)

    def make(folder: str, run_id: str) -> str:
        path = str(target / folder)
        os.mkdir(path)
        data = {k: v for k, v in base.items() if k not in ("format", "manifestSha256")}
        data.update(runId=run_id, status="complete", databases=[],
                    signing={"keyFingerprint": fingerprint(public_key_of(key)), "algorithm": SIGNATURE_ALGORITHM})
        write_manifest_data(path, data, lambda text: sign(key, text))
        return path

    sections = {"target": {"dir": str(target), "restore_state": str(target) + "-restores"}}
    env = types.SimpleNamespace(name="demo", section=lambda name: sections.get(name, {}))
    return make, env, trusted


def test_an_older_set_renamed_newer_is_misnamed_and_the_newest_by_record_is_kept(signed) -> None:
    make, env, trusted = signed
    make("demo-20260101T000000", "demo-20260101T000000")
    make("demo-20260301T000000", "demo-20260301T000000")  # the truly newest
    make("demo-20991231T000000", "demo-20260201T000000")  # an older genuine set, renamed to look newest
    entries = scan_sets(env, trusted)
    by_name = {e.name: e for e in entries}
    assert by_name["demo-20991231T000000"].state == "misnamed"
    assert "name disagrees with its signed record" in by_name["demo-20991231T000000"].trust_problem
    # ordered by the signed record: the renamed one sits where its record puts it
    assert [e.name for e in entries] == ["demo-20260101T000000", "demo-20991231T000000", "demo-20260301T000000"]
    decisions = {d.entry.name: d for d in decide(entries, 1, None, NOW)}
    assert decisions["demo-20260301T000000"].keep and "newest complete" in decisions["demo-20260301T000000"].reason
    assert decisions["demo-20991231T000000"].keep and "disagrees" in decisions["demo-20991231T000000"].reason
    assert not decisions["demo-20260101T000000"].keep


def test_a_newer_set_renamed_older_is_dated_by_its_record_and_not_counted(signed) -> None:
    make, env, trusted = signed
    make("demo-20260101T000000", "demo-20260101T000000")
    make("demo-20200101T000000", "demo-20260301T000000")  # the newest, renamed to look oldest
    entries = scan_sets(env, trusted)
    assert [e.name for e in entries] == ["demo-20260101T000000", "demo-20200101T000000"]
    decisions = {d.entry.name: d for d in decide(entries, 1, None, NOW)}
    assert all(d.keep for d in decisions.values())  # the genuine one is the newest complete; the misnamed one stays
    assert decisions["demo-20200101T000000"].entry.state == "misnamed"


def test_a_record_with_another_environment_s_or_no_stamp_is_misnamed(signed) -> None:
    make, env, trusted = signed
    make("demo-20260101T000000", "other-20260101T000000")
    make("demo-20260102T000000", "demo-\x1b[2J")
    entries = scan_sets(env, trusted)
    assert [e.state for e in entries] == ["misnamed", "misnamed"]
    assert "\x1b" not in entries[-1].trust_problem and "\\x1b" in "".join(e.trust_problem for e in entries)
