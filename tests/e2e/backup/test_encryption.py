"""Encryption at rest (archive.encrypt): an encrypted demo set verifies without the key, deep-verifies
and restores with it, is refused with a clear error with a wrong one or none, and holds no plaintext
of a known file."""
from __future__ import annotations

import os

import pytest

import e2e
from gpgkeys import encrypt_yaml, make_key
from jsonresult import run_json
from restorekit import snapshot

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("encrypted"))
    keys = os.path.join(tmp, "gpgkeys")
    os.makedirs(keys)
    right = make_key(os.path.join(tmp, "gpghome"), "backupteam", keys)
    wrong = make_key(os.path.join(tmp, "gpghome2"), "stranger", keys)
    env_file = e2e.write_env(tmp, extra=encrypt_yaml(right, f"{keys}/backupteam.pub.asc"))
    document = run_json("backup", "--env", env_file, expect=0)
    return {"tmp": tmp, "env": env_file, "set": document["set"], "right": f"{keys}/backupteam.sec.asc",
            "wrong": f"{keys}/stranger.sec.asc", "fingerprint": right, "wrong_fingerprint": wrong}


def test_the_set_records_its_recipients_and_every_archive_and_copy_is_an_openpgp_message(encrypted):
    manifest = e2e.manifest(encrypted["set"])
    assert manifest["format"] == 5 and manifest["encryption"] == {"tool": "gnupg", "recipients": [encrypted["fingerprint"]]}
    archives = [a for a in manifest["archives"] if a["status"] in ("done", "warning")]
    assert archives and all(a["encrypted"] is True for a in archives)
    for record in archives:
        for rel in [record["path"]] + ([record["level1"]["path"]] if record.get("level1") else []):
            with open(os.path.join(encrypted["set"], rel), "rb") as handle:
                head = handle.read(4)
            assert head != ZSTD_MAGIC and head[0] & 0x80, (rel, head)  # an OpenPGP packet, not a zstd frame
            assert e2e.sha256(os.path.join(encrypted["set"], rel)) in (record["sha256"], (record.get("level1") or {}).get("sha256"))


def test_the_set_holds_no_plaintext_of_a_known_file(encrypted):
    manifest = e2e.manifest(encrypted["set"])
    copy = next(a for a in manifest["archives"] if a["name"] == "profileRegistry")
    with open(copy["source"], "rb") as handle:
        known = handle.read()
    assert len(known) > 64
    needle = known[:64]
    for folder, _dirs, names in os.walk(encrypted["set"]):
        for name in names:
            with open(os.path.join(folder, name), "rb") as handle:
                assert needle not in handle.read(), os.path.join(folder, name)


def test_verify_needs_no_key_and_deep_verify_needs_the_right_one(encrypted):
    keys = e2e.trusted_keys_of(encrypted["set"])
    plain = run_json("verify", encrypted["set"], "--trusted-keys", keys, expect=0)
    assert any("checked as stored" in c["text"] for c in plain["details"]["checks"])
    missing = run_json("verify", encrypted["set"], "--deep", "--trusted-keys", keys, expect=2)
    assert "--identity FILE" in missing["errors"][0] and encrypted["fingerprint"] in missing["errors"][0]
    wrong = run_json("verify", encrypted["set"], "--deep", "--trusted-keys", keys, "--identity", encrypted["wrong"],
                     expect=2)
    assert "not a key of this set" in wrong["errors"][0] and encrypted["wrong_fingerprint"] in wrong["errors"][0]
    deep = run_json("verify", encrypted["set"], "--deep", "--trusted-keys", keys, "--identity", encrypted["right"],
                    expect=0)
    checks = [c["text"] for c in deep["details"]["checks"]]
    assert any("decrypted with the identity given" in c for c in checks)
    assert any("entries" in c for c in checks) and any("decrypts whole" in c for c in checks)
    by_env = e2e.cli("verify", encrypted["set"], "--deep", "--trusted-keys", keys,
                     env={"CNXBACKUP_IDENTITY": encrypted["right"]})
    assert by_env.returncode == 0, by_env.stdout + by_env.stderr


def test_restore_decrypts_with_the_identity_and_refuses_without_it(encrypted, tmp_path):
    side = str(tmp_path / "side")
    args = ["restore", encrypted["set"], "--env", encrypted["env"], "--only", "profileRegistry", "dmgr-profile",
            "--target-root", side]
    refused = e2e.cli(*args)
    assert refused.returncode == 2 and "needs the identity" in refused.stderr and not os.path.exists(side)
    wrong = e2e.cli(*args, "--identity", encrypted["wrong"])
    assert wrong.returncode == 2 and "not a key of this set" in wrong.stderr and not os.path.exists(side)
    done = e2e.cli(*args, "--identity", encrypted["right"])
    assert done.returncode in (0, 3), done.stdout + done.stderr
    manifest = e2e.manifest(encrypted["set"])
    for name in ("profileRegistry", "dmgr-profile"):
        record = next(a for a in manifest["archives"] if a["name"] == name)
        source = record["source"]
        if record["kind"] == "copy":
            with open(source, "rb") as live, open(side + source, "rb") as restored:
                assert live.read() == restored.read()
        else:
            assert snapshot(side + source) == snapshot(source)
    runbook = open(os.path.join(encrypted["set"], "RESTORE.md"), encoding="utf-8").read()
    assert "gpg --decrypt" in runbook
