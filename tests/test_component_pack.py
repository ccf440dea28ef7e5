"""The Component Pack half, end to end on the fake kubectl and helm (cnxbackup.demo.fakekube).

Each test drives the real CLI on the small demo with a ``component_pack`` section: the inventory,
the MongoDB dump from a fsync-locked secondary, the OpenSearch snapshot and the PV folders land in
the set; a failed part fails alone (the WebSphere half completes, the set is partial, ``--resume``
redoes only that part); the member is unlocked after a failed dump and after Ctrl-C; no secret
value reaches a log, a report or the console.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

import e2e
from cnxbackup.demo import fakedb, fakekube, mockcell
from restorekit import stops

CP = """\
component_pack:
  pv_root: "{demo_root}/tree/pv-connections"
  quiesce: [kudos-boards-cp-core]
  command:
    kubectl: "{demo_kit}/fakes/kubectl"
    helm: "{demo_kit}/fakes/helm"
"""


def setup(tmp: str, **faults) -> tuple:
    env_file = e2e.write_env(tmp, extra=CP)
    folder = os.path.join(tmp, "demo", "fakekube")
    kube = fakekube.prepare(folder, os.path.join(tmp, "demo", "tree", "pv-connections"))
    json.dump(kube, open(os.path.join(folder, "env.json"), "w"))
    for name, value in faults.items():
        fakekube.set_fault(kube, name, value)
    return env_file, kube


def events(kube: dict, name: str) -> list:
    return [e for e in fakekube.read_log(kube) if e.get("event") == name]


def no_secret_in(tmp: str, set_dir: str, *outputs: str) -> None:
    texts = list(outputs) + [open(os.path.join(set_dir, n), encoding="utf-8").read()
                             for n in ("cnxbackup.log", "REPORT.md", "RESTORE.md") if os.path.exists(os.path.join(set_dir, n))]
    texts.append(json.dumps(e2e.manifest(set_dir)) if os.path.exists(os.path.join(set_dir, "manifest.json")) else "")
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
    no_secret_in(tmp, set_dir, proc.stdout, proc.stderr)
    check = e2e.cli("verify", set_dir, "--deep", "--env", env_file)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "read whole by mongorestore --dryRun" in check.stdout and f"snap-{snap['uuid']}.dat) is in" in check.stdout
    # prune removes an older set's OpenSearch snapshot from the repository (this copy names no image)
    older = os.path.join(tmp, "backups", "demo-20200101T000000")
    shutil.copytree(set_dir, older)
    e2e.reseal(older, lambda data: data.update(databases=[]))
    pruned = e2e.cli("--plain", "prune", "--env", env_file, "--keep", "1")
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    assert f"OpenSearch snapshot os_snaps_repo/{snap['snapshot']}: deleted" in pruned.stdout
    assert not os.path.exists(older) and os.path.isdir(set_dir)
    assert snap["snapshot"] not in fakekube.read_state(kube)["opensearch"]["snapshots"]
    assert [e["method"] for e in events(kube, "sendRequest") if e["path"].startswith("/_snapshot/os_snaps_repo/")][-1] == "DELETE"


def test_a_dump_that_dies_is_unlocked_fails_alone_and_the_resume_redoes_only_it(tmp_path):
    tmp = str(tmp_path)
    env_file, kube = setup(tmp, dump_dies_after=2)
    proc = e2e.cli("--plain", "backup", "--env", env_file)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "component pack mongodb: mongodump on" in proc.stdout and "connection reset by peer" in proc.stdout
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
    fakekube.set_fault(kube, "dump_dies_after", None)
    calls_before = len(fakekube.read_log(kube))
    dbs_before = len(fakedb.read_log(e2e.fakedb_env(tmp)))
    resumed = e2e.cli("--plain", "backup", "--env", env_file, "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert e2e.manifest(set_dir)["componentPack"]["mongodb"]["status"] == "done"
    again = fakekube.read_log(kube)[calls_before:]
    assert not any(e.get("tool") == "helm" for e in again)  # the inventory was not taken again
    assert not any(e.get("path", "").endswith("wait_for_completion=true") for e in again)  # nor the snapshot
    assert not [c for c in fakedb.read_log(e2e.fakedb_env(tmp))[dbs_before:] if "backup" in c["argv"]]


def test_ctrl_c_during_the_dump_unlocks_the_member(tmp_path):
    tmp = str(tmp_path)
    env_file, kube = setup(tmp, dump_delay=30)
    child = e2e.popen("--plain", "backup", "--env", env_file)
    deadline = time.monotonic() + 120
    while not events(kube, "mongodump") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert events(kube, "mongodump"), "the dump never started"
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 130, out + err
    assert len(events(kube, "fsyncUnlock")) == len(events(kube, "fsyncLock")) == 1
    assert not any(fakekube.read_state(kube)["mongo"]["locks"].values())
    assert fakekube.read_state(kube)["deployments"]["kudos-boards-cp-core"]["replicas"] == 1  # scaled back


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
    assert manifest["componentPack"]["opensearch"]["state"] == "SUCCESS"
    assert next(a for a in manifest["archives"] if a["name"] == "cp-opensearchbackup")["status"] == "done"
    assert len(events(kube, "mongodump")) == 1  # not dumped again
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


# --------------------------------------------------------------------------- restore (part 2)


def backed_up(tmp: str):
    env_file, kube = setup(tmp)
    proc = e2e.cli("--plain", "backup", "--env", env_file)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [set_dir] = e2e.sets(os.path.join(tmp, "backups"))
    return env_file, kube, set_dir


def tree(root: str) -> dict:
    return {os.path.relpath(os.path.join(f, n), root): open(os.path.join(f, n), "rb").read()
            for f, _, names in os.walk(root) for n in names}


def test_restore_round_trips_the_mongo_data_the_indices_and_the_folders_and_leaves_websphere_running(tmp_path):
    tmp = str(tmp_path)
    env_file, kube, set_dir = backed_up(tmp)
    at_backup = fakekube.read_state(kube)
    custom = os.path.join(tmp, "demo", "tree", "pv-connections", "customizations")
    files_before = tree(custom)
    # a rebuilt cluster: data lost or changed, no repository, an index gone, the folders changed
    state = fakekube.read_state(kube)
    del state["mongo"]["databases"]["profiledb"]
    state["mongo"]["databases"]["commtpldb"]["CommTemplate"] = [{"_id": "new", "n": -1}]
    state["mongo"]["databases"]["admin"]["system.users"] = [{"_id": "admin.cluster-own-user", "n": 0}]
    state["opensearch"]["repos"], state["opensearch"]["snapshots"] = {}, {}
    del state["opensearch"]["indices"]["quickresults"]
    state["opensearch"]["indices"]["orient-me-collection"]["docs"] = 0
    fakekube.write_state(kube, state)
    os.unlink(os.path.join(custom, "themes", "custom.css"))
    open(os.path.join(custom, "stray.txt"), "w").write("new since the backup")
    mock_before = len(mockcell.read_log(e2e.mock_env(tmp)))
    dry = e2e.cli("--plain", "restore", set_dir, "--env", env_file, "--only", "component-pack", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    lines = dry.stdout.splitlines()
    order = [next(i for i, line in enumerate(lines) if marker in line) for marker in (
        "kubectl apply -n connections -f", "helm upgrade bootstrap", "helm upgrade infrastructure",
        "helm upgrade opensearch-client", "helm upgrade orientme")]
    assert order == sorted(order)  # the secrets before bootstrap, then HCL's chart order
    assert "SKIPPED: the Component Pack alone: WebSphere is not stopped" in dry.stdout
    runbook = open(os.path.join(set_dir, "RESTORE.md")).read()
    assert runbook.index("kubectl apply -n connections -f") < runbook.index("helm upgrade bootstrap") \
        < runbook.index("helm upgrade infrastructure")
    halves = e2e.cli("--plain", "restore", set_dir, "--env", env_file, "--only", "databases", "--dry-run")
    assert "database HOMEPAGE is restored from this set but the Component Pack is not" in halves.stdout, halves.stdout
    proc = e2e.cli("--plain", "restore", set_dir, "--env", env_file, "--only", "component-pack")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "the Component Pack is restored from this set but database HOMEPAGE is not" in proc.stdout
    after = fakekube.read_state(kube)
    for db, colls in at_backup["mongo"]["databases"].items():
        if db != "admin":
            assert after["mongo"]["databases"][db] == colls, db
    assert after["mongo"]["databases"]["admin"]["system.users"] == [{"_id": "admin.cluster-own-user", "n": 0}]
    [restore] = [e for e in events(kube, "mongorestore") if not e["dryRun"]]
    assert restore["drop"] and sorted(restore["excluded"]) == ["admin.*", "config.*", "local.*"]
    assert {n: i["docs"] for n, i in after["opensearch"]["indices"].items() if not n.startswith(".")} == \
        {n: i["docs"] for n, i in at_backup["opensearch"]["indices"].items() if not n.startswith(".")}
    closes = [e["path"] for e in events(kube, "sendRequest") if e["path"].endswith("/_close")]
    assert len(closes) == 1 and "quickresults" not in closes[0] and "_all" not in closes[0]
    assert ".opendistro_security" not in closes[0]
    assert tree(custom) == files_before
    scales = [(e["name"], e["replicas"]) for e in events(kube, "scale")]
    assert scales[-2:] == [("kudos-boards-cp-core", 0), ("kudos-boards-cp-core", 1)]
    assert "every collection's count as in the set" in proc.stdout
    assert not stops(mockcell.read_log(e2e.mock_env(tmp))[mock_before:])  # WebSphere kept running


@pytest.mark.parametrize("fault, value, reason", [
    ("fcv", "8.0", "featureCompatibilityVersion is 8.0, the dump is of MongoDB 7.0.39"),
    ("dump_changed", None, "componentpack/mongodb.archive.gz does not match its SHA-256 and size in the manifest"),
    ("snapshot_renamed", "x/../_all", "the set names the snapshot or index 'x/../_all', not an OpenSearch name"),
    ("restore_failed_docs", 2, "exited 0 but 2 document(s) failed to restore"),
])
def test_a_wrong_version_is_refused_before_any_change_and_failed_documents_fail_the_restore(tmp_path, fault, value,
                                                                                            reason):
    tmp = str(tmp_path)
    env_file, kube, set_dir = backed_up(tmp)
    if fault == "fcv":
        state = fakekube.read_state(kube)
        state["mongo"]["fcv"] = value
        fakekube.write_state(kube, state)
    elif fault == "snapshot_renamed":  # signed again with the trusted key: the name is still not used as it is
        e2e.reseal(set_dir, lambda m: m["componentPack"]["opensearch"].update(snapshot=value))
    elif fault == "dump_changed":
        with open(os.path.join(set_dir, "componentpack", "mongodb.archive.gz"), "ab") as handle:
            handle.write(b"appended on the backup disk")
    else:
        fakekube.set_fault(kube, fault, value)
    scales_before = len(events(kube, "scale"))
    proc = e2e.cli("--plain", "restore", set_dir, "--env", env_file, "--only", "component-pack")
    assert proc.returncode == 1 and reason in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    scales = [(e["name"], e["replicas"]) for e in events(kube, "scale")[scales_before:]]
    if fault != "restore_failed_docs":  # refused in the checks: nothing scaled, nothing restored
        assert scales == [] and not [e for e in events(kube, "mongorestore") if not e["dryRun"]]
        assert "nothing was stopped or changed" in proc.stdout + proc.stderr
    else:  # the consumers are scaled back after the failure
        assert scales == [("kudos-boards-cp-core", 0), ("kudos-boards-cp-core", 1)]
        assert fakekube.read_state(kube)["deployments"]["kudos-boards-cp-core"]["replicas"] == 1


def test_scale_back_trusts_only_the_environments_own_consumers(tmp_path):
    """The restore journal lives in the set, where others may write: a name or count put there is not used."""
    from cnxbackup.actions.restore import component_pack as cp_restore
    from cnxbackup.config import load_environment

    env_file = e2e.write_env(str(tmp_path), extra=CP.replace("quiesce: [kudos-boards-cp-core]", "quiesce: []"))

    class Journal:
        data = {"cpScaled": {"kube-apiserver": 0, "kudos-boards-cp-core": "9; rm -rf /"}}

        def save(self):
            pass

    env = load_environment(env_file)
    assert cp_restore.scale_back(env, None, Journal()) == "nothing to scale back"
