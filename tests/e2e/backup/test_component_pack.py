"""The Component Pack half, end to end on the fake kubectl and helm (cnxbackup.demo.fakekube).

Each test drives the real CLI on the small demo with a ``component_pack`` section: the inventory,
the MongoDB dump from a fsync-locked secondary, the OpenSearch snapshot and the PV folders land in
the set; a failed part fails alone (the WebSphere half completes, the set is partial, ``--resume``
redoes only that part); the member is unlocked after a failed dump and after Ctrl-C, and after a
SIGKILL by the resume (a lock the run did not take still stops the gate); a resume deletes a snapshot
that ended PARTIAL before taking its name again; the API gateway's etcd snapshot and every release's Helm
records are in the set, the snapshot's digest verified; no secret value reaches a log, a report, the console
or a command line.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess

import pytest

import e2e
from cnxbackup.demo import fakedb, fakeetcd, fakehelm, fakekube
from cpkit import backup_until_the_dump, events, setup


def no_secret_in(tmp: str, set_dir: str, *outputs: str, kube: dict = None) -> None:
    """No secret value in the console, the log, REPORT, RESTORE, the manifest, nor (``kube``: the fake cluster's log of
    every call) on any command line: kubectl's, helm's, nor etcdctl's in the etcd pod."""
    texts = list(outputs) + [open(os.path.join(set_dir, n), encoding="utf-8").read()
                             for n in ("cnxbackup.log", "REPORT.md", "RESTORE.md") if os.path.exists(os.path.join(set_dir, n))]
    texts.append(json.dumps(e2e.manifest(set_dir)) if os.path.exists(os.path.join(set_dir, "manifest.json")) else "")
    if kube is not None:
        calls = fakekube.read_log(kube)
        assert calls and not [c for c in calls if c.get("secret_in_argv")]
        texts.append(json.dumps(calls))
    for secret in fakekube.SECRET_VALUES:
        assert not any(secret in text for text in texts), secret


def test_a_backup_holds_the_inventory_the_dump_the_snapshot_and_the_folders(tmp_path):
    tmp = str(tmp_path)
    env_file, kube = setup(tmp)
    proc = e2e.cli("--plain", "backup", "--env", env_file)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [set_dir] = e2e.sets(os.path.join(tmp, "backups"))
    manifest = e2e.manifest(set_dir)
    cp = manifest["componentPack"]
    assert {cp[p]["status"] for p in ("inventory", "mongodb", "opensearch")} == {"done"}
    # the inventory: releases and their values, the ConfigMap, secrets cleaned of Helm's and tokens
    recorded = {f["path"] for f in manifest["files"]}
    assert {"componentpack/helm-releases.json", "componentpack/helm-values/infrastructure.yaml",
            "componentpack/configmap-connections-env.json", "componentpack/secrets.json"} <= recorded
    secrets = json.load(open(os.path.join(set_dir, "componentpack", "secrets.json")))
    assert {s["metadata"]["name"] for s in secrets["items"]} == {"mongo-secret", "opensearch-secret", "cnx-tls-secret"}
    assert not any(k in s["metadata"] for s in secrets["items"]
                   for k in ("uid", "resourceVersion", "creationTimestamp", "managedFields", "ownerReferences"))
    assert oct(os.stat(os.path.join(set_dir, "componentpack", "secrets.json")).st_mode & 0o777) == "0o600"
    values = open(os.path.join(set_dir, "componentpack", "helm-values", "opensearch-client.yaml")).read()
    assert values == 'pemkeyPass: "pemkey-Pass-1234"\n'
    # MongoDB: the member dumped is the member locked, a secondary, unlocked after; counts recorded
    locks, dumps, unlocks = events(kube, "fsyncLock"), events(kube, "mongodump"), events(kube, "fsyncUnlock")
    assert len(locks) == len(unlocks) == len(dumps) == 1
    assert locks[0]["member"] == dumps[0]["member"] == unlocks[0]["member"] == cp["mongodb"]["member"]
    assert dumps[0]["lockCount"] == 1 and unlocks[0]["lockCount"] == 0
    assert cp["mongodb"]["member"] != fakekube.read_state(kube)["mongo"]["primary"]
    assert locks[0]["time"] < dumps[0]["time"] < unlocks[0]["time"]
    state = fakekube.read_state(kube)
    assert cp["mongodb"]["counts"] == {db: {c: len(d) for c, d in colls.items()}
                                       for db, colls in state["mongo"]["databases"].items()}
    dump = os.path.join(set_dir, cp["mongodb"]["path"])
    assert e2e.sha256(dump) == cp["mongodb"]["sha256"]
    # quiesced for the dump, scaled back after
    scales = [(e["name"], e["replicas"]) for e in events(kube, "scale")]
    assert scales == [("kudos-boards-cp-core", 0), ("kudos-boards-cp-core", 1)]
    assert state["deployments"]["kudos-boards-cp-core"]["replicas"] == 1
    # OpenSearch: a whole snapshot of the Connections indices, no security index, no global state
    snap = cp["opensearch"]
    assert snap["state"] == "SUCCESS" and ".opendistro_security" not in snap["indices"] and snap["indices"]
    request = next(e for e in events(kube, "sendRequest") if e["path"].endswith("wait_for_completion=true"))
    assert request["body"]["include_global_state"] is False
    # the PV folders are items; the repository folder was archived after the snapshot ended
    names = {a["name"] for a in manifest["archives"] if a["status"] == "done"}
    assert {"cp-customizations", "cp-kudos-boards-minio", "cp-opensearchbackup"} <= names
    steps = json.load(open(os.path.join(set_dir, "journal.json")))["steps"]
    assert steps["level1:cp-opensearchbackup"]["started"] >= steps["cp:opensearch"]["ended"]
    # databases and the component pack ran beside each other, after the stop
    stop = steps["wsadmin:stop_servers"]["ended"]
    assert stop <= steps["cp:mongodb"]["started"] and stop <= min(s["started"] for k, s in steps.items()
                                                                   if k.startswith("db:"))
    report = open(os.path.join(set_dir, "REPORT.md")).read()
    assert "## Component Pack" in report and "| profiledb | profiles | 12 |" in report
    # the API gateway's etcd (namespace apisix): snapshot saved in a ready member with the pod's own endpoint and root
    # user (read there by its shell, never on a command line), streamed into the set, then deleted in the pod
    [taken] = cp["etcd"]["snapshots"]
    assert (taken["namespace"], taken["statefulset"], taken["pod"]) == ("apisix", "apisix-etcd", "apisix-etcd-0")
    etcd_file = os.path.join(set_dir, taken["path"])
    assert taken["path"] in recorded and e2e.sha256(etcd_file) == taken["sha256"]
    assert oct(os.stat(etcd_file).st_mode & 0o777) == "0o600"
    assert open(etcd_file, "rb").read().startswith(fakeetcd.MAGIC) and taken["status"]["revision"] == 1207
    [save] = [c for c in fakekube.read_log(kube) if c.get("tool") == "etcdctl" and "save" in c["argv"]]
    assert {"ETCDCTL_USER", "ETCDCTL_ENDPOINTS"} <= set(save["env_used"]) and not save["secret_in_argv"]
    assert os.listdir(fakekube.pod_root("apisix", "apisix-etcd-0", kube["FAKEKUBE_STATE"]) + "/tmp") == []
    assert "componentpack/helm-records/mw-proxy.yaml" in recorded and "componentpack/helm-records/apisix/apisix.yaml" in recorded
    assert "cp-huddo-boards-s3" in names  # Boards' SeaweedFS store (chart 2.1.0), beside MinIO's
    no_secret_in(tmp, set_dir, proc.stdout, proc.stderr, kube=kube)
    check = e2e.cli("verify", set_dir, "--deep", "--env", env_file)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "read whole by mongorestore --dryRun" in check.stdout and f"snap-{snap['uuid']}.dat) is in" in check.stdout
    assert f"OK  component pack etcd snapshot of apisix/apisix-etcd (SHA-256 as it landed): {taken['path']}" in check.stdout
    # prune removes an older set's OpenSearch snapshot from the repository (this copy names no image)
    older = os.path.join(tmp, "backups", "demo-20200101T000000")
    shutil.copytree(set_dir, older)
    e2e.reseal(older, lambda data: data.update(databases=[], runId="demo-20200101T000000"))
    pruned = e2e.cli("--plain", "prune", "--env", env_file, "--keep", "1")
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    assert f"OpenSearch snapshot os_snaps_repo/{snap['snapshot']}: deleted" in pruned.stdout
    assert not os.path.exists(older) and os.path.isdir(set_dir)
    assert snap["snapshot"] not in fakekube.read_state(kube)["opensearch"]["snapshots"]
    assert [e["method"] for e in events(kube, "sendRequest") if e["path"].startswith("/_snapshot/os_snaps_repo/")][-1] == "DELETE"
    with open(etcd_file, "r+b") as handle:  # one byte of the etcd snapshot changed on the backup disk
        handle.seek(30)
        byte = handle.read(1)
        handle.seek(30)
        handle.write(bytes([byte[0] ^ 1]))
    damaged = e2e.cli("verify", set_dir, "--env", env_file)
    assert damaged.returncode == 1 and f"BAD component pack etcd snapshot of apisix/apisix-etcd (SHA-256 as it landed): " \
        f"{taken['path']}: {taken['size']:,} bytes, SHA-256" in damaged.stdout, damaged.stdout


def test_a_dump_that_dies_is_unlocked_fails_alone_and_the_resume_redoes_only_it(tmp_path):
    tmp = str(tmp_path)
    env_file, kube = setup(tmp, dump_dies_after=2, etcd_snapshot_fails=True)
    proc = e2e.cli("--plain", "backup", "--env", env_file)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "component pack mongodb: mongodump on" in proc.stdout and "connection reset by peer" in proc.stdout
    assert "component pack etcd: etcdctl snapshot save in apisix/apisix-etcd-0 failed (exit 5): Error: rpc error" \
        in proc.stdout
    [set_dir] = e2e.sets(os.path.join(tmp, "backups"))
    manifest = e2e.manifest(set_dir)
    assert manifest["status"] == "partial" and manifest["componentPack"]["mongodb"]["status"] == "failed"
    assert all(a["status"] == "done" for a in manifest["archives"])  # the WebSphere half completed
    assert all(d["status"] == "done" for d in manifest["databases"])
    assert manifest["componentPack"]["opensearch"]["status"] == "done"
    assert not os.path.exists(os.path.join(set_dir, "componentpack", "mongodb.archive.gz"))
    [unlock] = events(kube, "fsyncUnlock")
    assert unlock["lockCount"] == 0 and unlock["time"] > events(kube, "mongodump")[0]["time"]
    assert not any(fakekube.read_state(kube)["mongo"]["locks"].values())
    assert manifest["componentPack"]["etcd"]["status"] == "failed" and not os.listdir(
        os.path.join(set_dir, "componentpack", "etcd"))  # nothing half-written; the file in the pod deleted
    assert [e["paths"] for e in events(kube, "rm")] == [["/tmp/cnxbackup-etcd-" + os.path.basename(set_dir) + ".db"]]
    fakekube.set_fault(kube, "dump_dies_after", None)
    fakekube.set_fault(kube, "etcd_snapshot_fails", None)
    calls_before = len(fakekube.read_log(kube))
    dbs_before = len(fakedb.read_log(e2e.fakedb_env(tmp)))
    resumed = e2e.cli("--plain", "backup", "--env", env_file, "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert e2e.manifest(set_dir)["componentPack"]["mongodb"]["status"] == "done"
    [taken] = e2e.manifest(set_dir)["componentPack"]["etcd"]["snapshots"]  # the etcd snapshot redone too
    assert e2e.sha256(os.path.join(set_dir, taken["path"])) == taken["sha256"]
    again = fakekube.read_log(kube)[calls_before:]
    assert not any(e.get("tool") == "helm" for e in again)  # the inventory was not taken again
    assert not any(e.get("path", "").endswith("wait_for_completion=true") for e in again)  # nor the snapshot
    assert not [c for c in fakedb.read_log(e2e.fakedb_env(tmp))[dbs_before:] if "backup" in c["argv"]]


def test_ctrl_c_during_the_dump_unlocks_the_member(tmp_path):
    tmp = str(tmp_path)
    env_file, kube = setup(tmp, dump_delay=30)
    child = backup_until_the_dump(env_file, kube)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 130, out + err
    assert len(events(kube, "fsyncUnlock")) == len(events(kube, "fsyncLock")) == 1
    assert not any(fakekube.read_state(kube)["mongo"]["locks"].values())
    assert fakekube.read_state(kube)["deployments"]["kudos-boards-cp-core"]["replicas"] == 1  # scaled back
    # the dump cut short is interrupted, not failed, and said as such: no FAILED line, no traceback text
    [set_dir] = e2e.sets(os.path.join(tmp, "backups"))
    assert json.load(open(os.path.join(set_dir, "journal.json")))["steps"]["cp:mongodb"]["error"] == "interrupted"
    assert "FAILED" not in out and "Traceback" not in out + err and "KeyboardInterrupt" not in out + err, out + err
    assert "backup --env" in err.splitlines()[-3] and err.rstrip().endswith(f"start --env {env_file}")


def test_a_run_killed_during_the_dump_is_unlocked_and_scaled_back_by_its_resume_only(tmp_path):
    tmp = str(tmp_path)
    env_file, kube = setup(tmp, dump_delay=30)
    child = backup_until_the_dump(env_file, kube)
    child.kill()  # SIGKILL: no finally runs, the member stays locked and Boards at 0
    child.communicate(timeout=60)
    [set_dir] = e2e.sets(os.path.join(tmp, "backups"))
    [lock] = events(kube, "fsyncLock")
    record = json.load(open(os.path.join(set_dir, "journal.json")))["cpLock"]
    assert record["member"] == lock["member"] and record["runId"] == os.path.basename(set_dir)
    assert fakekube.read_state(kube)["deployments"]["kudos-boards-cp-core"]["replicas"] == 0
    fakekube.set_fault(kube, "dump_delay", 0)
    # a lock this run did not take (no set to resume records it) still stops a new backup, named with its unlock
    refused = e2e.cli("--plain", "backup", "--env", env_file)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"MongoDB member {lock['member']} is fsync-locked" in refused.stdout + refused.stderr
    assert f"db.getSiblingDB('admin').fsyncUnlock() on {lock['member']}" in refused.stdout + refused.stderr
    resumed = e2e.cli("--plain", "backup", "--env", env_file, "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"MongoDB member {lock['member']}: unlocked, its lock was this set's" in resumed.stdout
    state = fakekube.read_state(kube)
    assert not any(state["mongo"]["locks"].values()) and len(events(kube, "fsyncUnlock")) == 2
    assert state["deployments"]["kudos-boards-cp-core"]["replicas"] == 1
    manifest = e2e.manifest(set_dir)
    assert manifest["status"] == "complete" and manifest["componentPack"]["mongodb"]["status"] == "done"
    assert "cpLock" not in json.load(open(os.path.join(set_dir, "journal.json")))


def test_a_partial_snapshot_fails_that_part_and_its_folder_waits_for_the_resume(tmp_path):
    tmp = str(tmp_path)
    env_file, kube = setup(tmp, snapshot_partial=True)
    proc = e2e.cli("--plain", "backup", "--env", env_file)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "ended PARTIAL (1 of" in proc.stdout
    [set_dir] = e2e.sets(os.path.join(tmp, "backups"))
    manifest = e2e.manifest(set_dir)
    item = next(a for a in manifest["archives"] if a["name"] == "cp-opensearchbackup")
    assert manifest["status"] == "partial" and item["status"] != "done"
    assert manifest["componentPack"]["mongodb"]["status"] == "done"
    fakekube.set_fault(kube, "snapshot_partial", False)
    resumed = e2e.cli("--plain", "backup", "--env", env_file, "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    manifest = e2e.manifest(set_dir)
    snap = manifest["componentPack"]["opensearch"]
    assert snap["state"] == "SUCCESS" and manifest["status"] == "complete"
    assert next(a for a in manifest["archives"] if a["name"] == "cp-opensearchbackup")["status"] == "done"
    assert len(events(kube, "mongodump")) == 1  # not dumped again
    # the earlier PARTIAL attempt, found by the name in the journal, was deleted before the same name was taken
    # again (a PUT of a name the repository holds is a 400): the repository and the set name one snapshot
    calls = [(e["method"], e["path"].split("?")[0]) for e in events(kube, "sendRequest")
             if e["path"].startswith(f"/_snapshot/os_snaps_repo/{snap['snapshot']}")]
    assert calls[-3:-2] == [("DELETE", f"/_snapshot/os_snaps_repo/{snap['snapshot']}")] and calls[-1][0] == "PUT"
    held = fakekube.read_state(kube)["opensearch"]["snapshots"]
    assert list(held) == [snap["snapshot"]] and held[snap["snapshot"]]["state"] == "SUCCESS"
    fakekube.set_fault(kube, "restore_failed_docs", 3)  # mongorestore exits 0 and still reports failures
    check = e2e.cli("verify", set_dir, "--deep", "--env", env_file)
    assert check.returncode == 1 and "the dry-run restore reports 3 failed documents" in check.stdout


@pytest.mark.parametrize("fault, value, reason", [
    ("red_index", "quickresults", "OpenSearch index quickresults is red"),
    ("pod_not_ready", "mongo7-1", "pod mongo7-1 is not ready"),
])
def test_an_unhealthy_cluster_stops_the_gate_or_with_allow_partial_fails_only_that_part(tmp_path, fault, value, reason):
    tmp = str(tmp_path)
    env_file, kube = setup(tmp, **{fault: value})
    refused = e2e.cli("--plain", "backup", "--env", env_file)
    assert refused.returncode == 1 and reason in refused.stdout + refused.stderr
    assert e2e.sets(os.path.join(tmp, "backups")) == [] and not events(kube, "fsyncLock")
    proc = e2e.cli("--plain", "backup", "--env", env_file, "--allow-partial")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    [set_dir] = e2e.sets(os.path.join(tmp, "backups"))
    manifest = e2e.manifest(set_dir)
    failed = [p for p in ("mongodb", "opensearch") if manifest["componentPack"][p]["status"] == "failed"]
    assert failed == (["opensearch"] if fault == "red_index" else ["mongodb"])
    assert all(d["status"] == "done" for d in manifest["databases"])


def test_what_cannot_be_backed_up_is_refused_with_its_reason(tmp_path):
    tmp = str(tmp_path)
    env_file, kube = setup(tmp)
    state = fakekube.read_state(kube)
    state["statefulsets"] = {"mongo": {"replicas": 1}}
    fakekube.write_state(kube, state)
    proc = e2e.cli("plan", "--env", env_file)
    assert proc.returncode == 1 and "MongoDB 3, Component Pack 7" in proc.stdout + proc.stderr
    text = open(env_file).read().replace("  quiesce:", "  folders: [customizations, mongo7-node-0]\n  quiesce:")
    open(env_file, "w").write(text)
    proc = e2e.cli("plan", "--env", env_file)
    assert proc.returncode == 2 and "key 'component_pack.folders': 'mongo7-node-0' is a live database folder" in \
        proc.stdout + proc.stderr
    fakekube.set_fault(kube, "api_refused", True)
    text = text.replace("folders: [customizations, mongo7-node-0]", "folders: []")
    open(env_file, "w").write(text)
    proc = e2e.cli("plan", "--env", env_file)
    assert proc.returncode == 1 and "kubectl does not reach the cluster" in proc.stdout + proc.stderr
    assert "was refused - did you specify the right host or port?" in proc.stdout + proc.stderr


def test_the_fakes_answer_as_the_real_tools_do(tmp_path):
    tmp = str(tmp_path)
    kube = fakekube.prepare(tmp, os.path.join(tmp, "pv"))
    env = {**os.environ, **kube}
    tools = os.path.join(os.path.dirname(fakekube.__file__), "fakes")

    def run(tool, *args, data=None):
        return subprocess.run([os.path.join(tools, tool), *args], capture_output=True, env=env, input=data)

    missing = run("kubectl", "-n", "connections", "exec", "nope-0", "--", "true")
    assert missing.returncode == 1 and missing.stderr == b'Error from server (NotFound): pods "nope-0" not found\n'
    failing = run("kubectl", "-n", "connections", "exec", "mongo7-0", "-c", "mongo7", "--", "mongosh", "--eval", "x")
    assert failing.returncode == 1 and failing.stderr.endswith(b"command terminated with exit code 1\n")
    assert run("kubectl", "exec", "-ti", "mongo7-0", "--", "true").returncode == 1  # never a TTY
    assert run("helm", "-n", "connections", "get", "values", "nope").stderr == b"Error: release: not found\n"
    listed = json.loads(run("helm", "-n", "connections", "list", "-o", "json").stdout)
    assert set(listed[0]) == {"name", "namespace", "revision", "updated", "status", "chart", "app_version"}
    assert isinstance(listed[0]["revision"], str)
    assert json.loads(run("helm", "-n", "other", "list", "-o", "json").stdout) == []
    assert run("helm", "-n", "connections", "get", "values", "orientme").stdout == b"USER-SUPPLIED VALUES:\nnull\n"
    scaled = run("kubectl", "-n", "connections", "scale", "deployment/mw-proxy", "--replicas=0")
    assert scaled.stdout == b"deployment.apps/mw-proxy scaled\n"
    # the other namespaces, strict flags, Helm's records and history, the etcd pod's tools
    assert run("kubectl", "get", "pods", "--bogus", "-o", "json").stderr.startswith(b"error: unknown flag: --bogus\n")
    assert json.loads(run("kubectl", "-n", "nope", "get", "pods", "-o", "json").stdout)["items"] == []
    assert run("kubectl", "-n", "nope", "create", "-f", "-", data=b'{"kind": "Secret", "metadata": {"name": "x"}}').stderr \
        == b'Error from server (NotFound): error when creating "-": namespaces "nope" not found\n'
    [etcd_set] = json.loads(run("kubectl", "-n", "apisix", "get", "sts", "-o", "json").stdout)["items"]
    assert etcd_set["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == "etcd"
    assert {s["metadata"]["name"] for s in json.loads(run("kubectl", "-n", "collabora", "get", "secrets", "-o", "json")
                                                           .stdout)["items"]} >= {"collabora-admin-secret"}
    records = json.loads(run("kubectl", "-n", "connections", "get", "secrets", "-l", "owner=helm,name=mw-proxy", "-o",
                             "json").stdout)["items"]
    assert [(r["metadata"]["name"], r["type"], r["metadata"]["labels"]["status"]) for r in records] == [
        (f"sh.helm.release.v1.mw-proxy.v{n}", "helm.sh/release.v1", "deployed" if n == 3 else "superseded") for n in (1, 2, 3)]
    assert fakehelm.decode(records[2]["data"]["release"])["config"] == {"image": {"tag": "20261101"}, "replicas": 3}
    assert run("helm", "-n", "connections", "rollback", "mw-proxy", "9").stderr == b"Error: release has no 9 version\n"
    assert run("helm", "-n", "apisix", "status", "mw-proxy").stderr == b"Error: release: not found\n"
    assert {(r["namespace"], r["name"]) for r in json.loads(run("helm", "list", "-A", "-o", "json").stdout)} >= {
        ("apisix", "apisix"), ("collabora", "collabora-online"), ("connections", "mw-proxy")}

    def etcdctl(*words, env_line=""):
        return run("kubectl", "-n", "apisix", "exec", "apisix-etcd-1", "-c", "etcd", "--", "sh", "-c",
                   f"{env_line} etcdctl {' '.join(words)}")
    several = etcdctl("snapshot", "save", "/tmp/s.db", env_line="ETCDCTL_ENDPOINTS=a:2379,b:2379")
    assert several.returncode == 128 and b"snapshot must be requested to one selected node, not multiple [a:2379 b:2379]" \
        in several.stderr and several.stderr.endswith(b"command terminated with exit code 128\n")
    assert etcdctl("snapshot", "save", "/tmp/s.db").stderr.startswith(b"Error: etcdserver: user name is empty\n")
    saved = etcdctl("snapshot", "save", "/tmp/s.db", env_line='ETCDCTL_USER="root:$ETCD_ROOT_PASSWORD"')
    assert saved.stdout == b"Snapshot saved at /tmp/s.db\n", saved.stderr
    assert run("kubectl", "-n", "apisix", "exec", "apisix-etcd-1", "--", "cat", "/tmp/s.db").stdout.startswith(fakeetcd.MAGIC)
