"""``verify`` without ``--env`` (issue 28): a good set is never recorded as failed. A signature that
cannot be checked with the trusted keys given (a signer not among them, no signature) proves
nothing against the set: it is refused, pointing to ``--trusted-keys`` first, and no result is
recorded beside the set. A path that is no set folder is named (exit 2), not "manifest.json:
missing". Small signed sets made in-process from the format-1 fixture's record."""
from __future__ import annotations

import json
import os

import pytest

from cnxbackup.actions.sets.trust import open_set
from cnxbackup.actions.sets.verify_record import VERIFY_RESULT
from cnxbackup.manifest import MUTABLE_FILES, SIGNATURE_ALGORITHM, write_manifest_data
from cnxbackup.signing import UntrustedKey, ensure_signing_key, fingerprint, public_key_of, sign
from format1kit import FIXTURE
from inprocess import run_cli


def _key(folder) -> tuple:
    key, trusted = str(folder / "key.pem"), str(folder / "trusted-keys")
    ensure_signing_key(key, trusted)
    return key, trusted


@pytest.fixture
def signed_set(tmp_path):
    """A set whose manifest names no archive, file or database: whole as it is, signed by ``key``."""
    key, trusted = _key(tmp_path / "ours")
    set_dir = tmp_path / "backups" / "demo-20260101T000000"
    set_dir.mkdir(parents=True)
    with open(os.path.join(FIXTURE, "set", "manifest.json"), encoding="utf-8") as handle:
        data = {k: v for k, v in json.load(handle).items() if k not in ("format", "manifestSha256")}
    data.update(runId=set_dir.name, status="complete", archives=[], files=[], databases=[],
                mutableFiles=list(MUTABLE_FILES),
                signing={"keyFingerprint": fingerprint(public_key_of(key)), "algorithm": SIGNATURE_ALGORITHM})
    write_manifest_data(str(set_dir), data, lambda text: sign(key, text))
    _, foreign = _key(tmp_path / "theirs")
    return str(set_dir), trusted, foreign


def test_a_good_set_verified_with_its_signer_s_key_alone_passes_and_is_recorded(signed_set, capsys) -> None:
    set_dir, trusted, _ = signed_set
    proc = run_cli(capsys, "--plain", "verify", set_dir, "--trusted-keys", trusted)
    assert proc.returncode == 0 and "verify passed" in proc.stdout, proc.stdout + proc.stderr
    with open(os.path.join(set_dir, VERIFY_RESULT), encoding="utf-8") as handle:
        assert json.load(handle)["ok"] is True


def test_an_untrusted_signer_is_refused_without_recording_a_failed_verify(signed_set, capsys) -> None:
    set_dir, _, foreign = signed_set
    proc = run_cli(capsys, "--plain", "verify", set_dir, "--trusted-keys", foreign)
    assert proc.returncode == 1 and "which is not among the 1 trusted key(s)" in proc.stderr
    assert not os.path.lexists(os.path.join(set_dir, VERIFY_RESULT))  # nothing was checked: nothing recorded
    assert "verify FAILED" not in proc.stdout and "OK " not in proc.stdout  # refused before any check


def test_an_untrusted_signer_s_message_points_to_trusted_keys_first(signed_set) -> None:
    set_dir, _, foreign = signed_set
    with pytest.raises(UntrustedKey) as refused:
        open_set(set_dir, foreign, trust_unsealed=False)
    message = str(refused.value)
    assert "--trusted-keys FILE" in message and "key card" in message
    assert message.index("--trusted-keys FILE") < message.index("--trust-unsealed")
    assert "last resort" in message


@pytest.mark.parametrize("make", ["missing", "file", "empty folder"])
def test_a_path_that_is_no_set_is_named_with_exit_2(tmp_path, capsys, make) -> None:
    path = tmp_path / "nonexistent"
    if make == "file":
        path.write_text("x")
    elif make == "empty folder":
        path.mkdir()
    proc = run_cli(capsys, "--plain", "verify", str(path), "--trusted-keys", str(tmp_path / "none"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    expected = {"missing": "does not exist", "file": "is not a folder", "empty folder": "not a backup set"}[make]
    assert f"{path}: {expected}" in proc.stderr and "manifest.json: missing" not in proc.stderr + proc.stdout
