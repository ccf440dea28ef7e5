"""Multi-host backups over real sshd "hosts" on loopback ports: a Dmgr host, node hosts, a DB host.

The hosts are separate sshd instances (tests/sshhosts.py) with their own trees; one test takes
a node host down in the middle of a backup and resumes after it comes back.
"""
from __future__ import annotations

import json
import os
import shutil
import time

import pytest

import e2e
import sshhosts
from cnxbackup.demo import fakedb, mockcell
from gpgkeys import encrypt_yaml, make_key
from restorekit import stops


def _loopback_hosts(tmp_path, count: int):
    try:
        hosts = sshhosts.start_hosts(count, str(tmp_path / "ssh"))
    except sshhosts.SshHostsUnavailable as error:
        pytest.skip(f"sshd cannot run here: {error}")
    known = sshhosts.write_known_hosts(hosts, tmp_path / "known_hosts")
    yield hosts, str(known)
    sshhosts.stop_all(hosts)


@pytest.fixture()
def five_hosts(tmp_path):
    yield from _loopback_hosts(tmp_path, 5)


@pytest.fixture()
def three_hosts(tmp_path):
    yield from _loopback_hosts(tmp_path, 3)


def _prepare_db(tmp, delay=0.0):
    fake = fakedb.prepare(os.path.join(tmp, "demo", "fakedb"), "db2", databases=["OPNACT", "FILES"], delay_seconds=delay)
    json.dump(fake, open(os.path.join(tmp, "demo", "fakedb", "env.json"), "w"))
    return fake


def test_multihost_backup(tmp_path, five_hosts):
    hosts, known = five_hosts
    tmp = str(tmp_path)
    env_file = e2e.write_multihost_env(tmp, hosts, 3, known)
    fake = _prepare_db(tmp)
    proc = e2e.cli("backup", "--env", env_file)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [set_dir] = e2e.sets(os.path.join(tmp, "backups"))
    manifest = e2e.manifest(set_dir)
    assert manifest["status"] == "complete"
    by_name = {a["name"]: a for a in manifest["archives"]}
    for node in ("node1", "node2", "node3"):
        for item in ("profile-AppSrv01", "local-data", "profileRegistry", "im-data"):
            assert by_name[f"{node}-{item}"]["host"] == node
            assert f"/nodes/{node}/" in by_name[f"{node}-{item}"]["source"]
    # shared data once, from the dmgr/nfs host; no node archives it
    assert [a["host"] for a in manifest["archives"] if a["name"].endswith("shared-data")] == ["dmgr"]
    for item in manifest["archives"]:
        path = os.path.join(set_dir, item["path"])
        assert e2e.sha256(path) == item["sha256"]
    # DB tools ran on the DB host (the sshd session marks its environment), images copied back
    calls = fakedb.read_log(fake)
    backups = [c for c in calls if "backup" in c["argv"]]
    assert len(backups) == 2
    assert {c["host"] for c in backups} == {hosts[4].name}  # the DB host's sshd, not this process
    for db in manifest["databases"]:
        assert db["host"] == "db" and db["status"] == "done"
        for image in db["images"]:
            assert e2e.sha256(os.path.join(set_dir, image["copy"])) == image["sha256"]
    assert sum(1 for e in mockcell.read_log(e2e.mock_env(tmp)) if e.get("event") == "launch") == 1
    check = e2e.cli("verify", set_dir, "--env", env_file)
    assert check.returncode == 0, check.stdout

    # an image changed on the DB host since the backup: refused there, before anything is stopped;
    # in the same run, a node item under a folder another user owns (issue 26, item 3): root on
    # node2 would work through names that user can change, so the restore refuses it, naming it
    image = manifest["databases"][0]["images"][0]["path"]
    original_image = open(image, "rb").read()
    with open(image, "ab") as handle:
        handle.write(b"appended on the DB host")
    theirs = os.path.dirname(by_name["node2-local-data"]["source"])
    owner = os.stat(theirs)
    os.chown(theirs, 54321, 54321)
    before = len(fakedb.read_log(fake))
    try:
        proc = e2e.cli("restore", set_dir, "--env", env_file, "--yes")
    finally:
        os.chown(theirs, owner.st_uid, owner.st_gid)
    assert proc.returncode == 1 and f"db:{image}" in proc.stderr and "copy it back" in proc.stderr, proc.stderr
    assert "nothing was stopped or changed" in proc.stderr, proc.stderr
    assert f"host node2: {theirs} is owned by uid 54321, not the ssh user" in proc.stderr, proc.stderr
    assert "node2-local-data" in proc.stderr and "by hand (RESTORE.md)" in proc.stderr, proc.stderr
    assert [c for c in fakedb.read_log(fake)[before:] if "restore" in c["argv"]] == []
    with open(image, "wb") as handle:
        handle.write(original_image)

    # restore across hosts: a node's local data and the shared data are put back over ssh
    node2_local = by_name["node2-local-data"]["source"]
    victim = next(os.path.join(d, f) for d, _, fs in os.walk(node2_local) for f in fs)
    original = open(victim, "rb").read()
    with open(victim, "wb") as handle:
        handle.write(b"changed after the backup")
    shared = by_name["dmgr-shared-data"]["source"]
    gone = next(os.path.join(d, f) for d, _, fs in os.walk(shared) for f in fs)
    os.unlink(gone)
    before = len(fakedb.read_log(fake))
    proc = e2e.cli("restore", set_dir, "--env", env_file, "--yes")
    assert proc.returncode in (0, 3), proc.stdout + proc.stderr
    assert open(victim, "rb").read() == original and os.path.exists(gone)
    assert [p for p in os.listdir(os.path.dirname(node2_local)) if ".cnxrestore-" in p]
    restores = [c for c in fakedb.read_log(fake)[before:] if "restore" in c["argv"]]
    assert len(restores) == 2 and {c["host"] for c in restores} == {hosts[4].name}
    # each image's media header was read on the DB host, before the restore
    headers = [c for c in fakedb.read_log(fake)[before:] if c["tool"] == "db2ckbkp" and "-H" in c["argv"]]
    assert len(headers) == 2 and {c["host"] for c in headers} == {hosts[4].name}


def _journal(set_dir):
    try:
        return json.load(open(os.path.join(set_dir, "journal.json")))
    except (OSError, ValueError):
        return {"steps": {}}


def test_host_down_midway_then_resume(tmp_path, five_hosts):
    hosts, known = five_hosts
    tmp = str(tmp_path)
    env_file = e2e.write_multihost_env(tmp, hosts, 3, known)
    _prepare_db(tmp, delay=3)
    child = e2e.popen("backup", "--env", env_file)
    target = os.path.join(tmp, "backups")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        sets = e2e.sets(target)
        # while the servers stop: every level 0 is in the set, the level 1s and the databases follow
        # the stop, so node2's level 1s meet a host that is gone (the stop takes seconds: no race)
        if sets and _journal(sets[-1])["steps"].get("wsadmin:stop_servers", {}).get("status") == "running":
            break
        time.sleep(0.05)
    node2 = hosts[2]
    sshhosts.stop_host(node2)  # after preflight opened its connection: node2 dies mid-backup
    out, err = child.communicate(timeout=300)
    assert child.returncode == 1, out + err
    [set_dir] = e2e.sets(target)
    manifest = e2e.manifest(set_dir)
    assert manifest["status"] == "partial"
    status = {a["name"]: a["status"] for a in manifest["archives"]}
    failed = sorted(n for n, s in status.items() if s == "failed")
    assert failed and all(n.startswith("node2-") for n in failed), status
    assert all(s == "done" for n, s in status.items() if not n.startswith("node2-"))
    assert "node2" in out and ("unreachable" in out.lower() or "connection" in out.lower())

    sshhosts.restart_host(node2)
    # an image no set lists, on the DB host: the resume finds it there, over ssh
    orphan = os.path.join(tmp, "demo", "db2-backups", "FILES.0.db2inst1.DBPART000.20200101000000.001")
    open(orphan, "wb").write(b"image")
    proc = e2e.cli("backup", "--env", env_file, "--resume")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"belong to no set (5 B; left by an interrupted or failed backup): db:{orphan};" in proc.stdout, proc.stdout
    manifest = e2e.manifest(set_dir)
    assert manifest["status"] == "complete"
    assert all(a["status"] == "done" for a in manifest["archives"])


def test_unreachable_host_fails_only_its_items(tmp_path, five_hosts):
    hosts, known = five_hosts
    tmp = str(tmp_path)
    env_file = e2e.write_multihost_env(tmp, hosts, 3, known)
    _prepare_db(tmp)
    sshhosts.stop_host(hosts[3])  # node3 is down before the run starts
    # the gate: plan says no, backup refuses before a set folder exists and before any stop
    plan = e2e.cli("plan", "--env", env_file)
    assert plan.returncode == 1 and "UNREACHABLE" in plan.stderr and "node3" in plan.stderr, plan.stdout + plan.stderr
    refused = e2e.cli("backup", "--env", env_file)
    assert refused.returncode == 1 and "UNREACHABLE" in refused.stderr, refused.stdout + refused.stderr
    assert e2e.sets(os.path.join(tmp, "backups")) == []
    assert stops(mockcell.read_log(e2e.mock_env(tmp))) == []
    # accepted on purpose: node3's items fail, the other hosts go on, the override is recorded
    proc = e2e.cli("backup", "--env", env_file, "--allow-partial")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "node3" in proc.stdout and "connection refused" in proc.stdout
    [set_dir] = e2e.sets(os.path.join(tmp, "backups"))
    manifest = e2e.manifest(set_dir)
    assert manifest["status"] == "partial"
    status = {a["name"]: a["status"] for a in manifest["archives"]}
    assert {n for n, s in status.items() if s != "done"} == {n for n in status if n.startswith("node3-")}
    assert all(d["status"] == "done" for d in manifest["databases"])
    assert manifest["overrides"] == ["--allow-partial"]


def _is_openpgp(path: str) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(4)
    return head[:4] != b"\x28\xb5\x2f\xfd" and bool(head[0] & 0x80)


def test_an_encrypted_set_over_ssh_restores_a_node_item_and_prune_removes_its_images_on_the_db_host(tmp_path, three_hosts):
    hosts, known = three_hosts
    tmp = str(tmp_path)
    keys = os.path.join(tmp, "gpgkeys")
    os.makedirs(keys)
    fingerprint = make_key(os.path.join(tmp, "gpghome"), "backupteam", keys)
    env_file = e2e.write_multihost_env(tmp, hosts, 1, known)
    with open(env_file, "a", encoding="utf-8") as handle:
        handle.write(encrypt_yaml(fingerprint, f"{keys}/backupteam.pub.asc"))
    _prepare_db(tmp)
    proc = e2e.cli("backup", "--env", env_file)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [set_dir] = e2e.sets(os.path.join(tmp, "backups"))
    manifest = e2e.manifest(set_dir)
    by_name = {a["name"]: a for a in manifest["archives"]}
    # the node's archives came over ssh and its copied file too: encrypted here, as they landed
    for name in ("node1-local-data", "node1-profileRegistry"):
        assert by_name[name]["host"] == "node1" and by_name[name]["encrypted"] is True
        assert _is_openpgp(os.path.join(set_dir, by_name[name]["path"]))
    images = [image for db in manifest["databases"] for image in db["images"]]
    assert images and all(i["encrypted"] and _is_openpgp(os.path.join(set_dir, i["copy"])) for i in images)
    identity = f"{keys}/backupteam.sec.asc"
    check = e2e.cli("verify", set_dir, "--deep", "--env", env_file, "--identity", identity)
    assert check.returncode == 0, check.stdout + check.stderr

    # a node item restored over ssh: read, decrypted and gated here, unpacked on the node
    local = by_name["node1-local-data"]["source"]
    victim = next(os.path.join(d, f) for d, _, fs in os.walk(local) for f in fs)
    original = open(victim, "rb").read()
    with open(victim, "wb") as handle:
        handle.write(b"changed after the backup")
    proc = e2e.cli("restore", set_dir, "--env", env_file, "--yes", "--only", "node1-local-data", "--identity", identity)
    assert proc.returncode in (0, 3), proc.stdout + proc.stderr
    assert open(victim, "rb").read() == original

    # prune: an older set naming the same images removes them on the DB host, checked there first
    older = os.path.join(tmp, "backups", "demo-20200101T000000")
    shutil.copytree(set_dir, older)
    e2e.reseal(older, lambda data: data.update(runId="demo-20200101T000000"))  # its signed record names it so
    proc = e2e.cli("--plain", "prune", "--env", env_file, "--keep", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count(": image db:") == len(images) and not os.path.exists(older)
    assert not any(os.path.exists(i["path"]) for i in images) and os.path.isdir(set_dir)
