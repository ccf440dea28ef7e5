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
import re
import subprocess

import pytest

import e2e
from cnxbackup.demo import fakehelm, fakekube, mockcell
from cpkit import CP, events, tree
from restorekit import stops

FAKES = os.path.join(e2e.DRIVER, "cnxbackup", "demo", "fakes")  # kubectl and helm of the fake cluster


def runbook_cp_blocks(set_dir: str) -> list:
    """(title, commands) of each step of RESTORE.md's Component Pack section."""
    text = open(os.path.join(set_dir, "RESTORE.md"), encoding="utf-8").read()
    section = text[text.index("\n# The Component Pack"):]
    return re.findall(r"^## C\d+\. (.*?)\n.*?^(`{3,})sh\n(.*?)^\2$", section, re.S | re.M)


def test_restore_round_trips_the_mongo_data_the_indices_and_the_folders_and_leaves_websphere_running(cp_set):
    tmp, env_file, kube, set_dir = cp_set
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
    unasked = e2e.cli("--plain", "restore", set_dir, "--env", env_file, "--only", "component-pack")
    assert unasked.returncode == 2 and "no terminal to ask on" in unasked.stderr and "--yes" in unasked.stderr
    assert "change the Kubernetes cluster:" in unasked.stdout and "nothing was changed" in unasked.stderr
    assert fakekube.read_state(kube) == state  # without a terminal and without --yes: the cluster untouched
    proc = e2e.cli("--plain", "restore", set_dir, "--env", env_file, "--yes", "--only", "component-pack")
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


def test_the_runbooks_component_pack_section_run_by_bash_restores_the_data(cp_set):
    """RESTORE.md's Component Pack section, run block by block with ``bash -euo pipefail`` and the fake
    kubectl on PATH, restores what the tool restores: MongoDB, the indices, the consumers' replica counts.
    The chart block (cp-manual, a rebuilt cluster's ``helm upgrade -i`` from hclcr.io and ``kubectl apply``)
    is not run: the fake cluster has its charts and emulates neither ``helm upgrade`` nor ``kubectl apply``; nor is
    the etcd block (``etcdutl snapshot restore`` on the NFS master). The Helm history block runs: every release's
    history is in the cluster, so it changes nothing."""
    tmp, _env_file, kube, set_dir = cp_set
    at_backup = fakekube.read_state(kube)
    recorded = json.load(open(os.path.join(set_dir, "manifest.json")))["componentPack"]
    assert recorded["inventory"]["consumers"] == {"kudos-boards-cp-core": 1}
    custom = os.path.join(tmp, "demo", "tree", "pv-connections", "customizations")
    files_before = tree(custom)
    state = fakekube.read_state(kube)  # as the tool's own restore test damages it, and the consumer scaled up
    del state["mongo"]["databases"]["profiledb"]
    state["mongo"]["databases"]["commtpldb"]["CommTemplate"] = [{"_id": "new", "n": -1}]
    state["mongo"]["databases"]["admin"]["system.users"] = [{"_id": "admin.cluster-own-user", "n": 0}]
    state["mongo"]["primary"] = "mongo7-1"  # the primary moved since the backup: found by rs.status(), not assumed
    state["opensearch"]["repos"], state["opensearch"]["snapshots"] = {}, {}
    del state["opensearch"]["indices"]["quickresults"]
    state["opensearch"]["indices"]["orient-me-collection"]["docs"] = 0
    state["deployments"]["kudos-boards-cp-core"]["replicas"] = 3
    fakekube.write_state(kube, state)
    os.unlink(os.path.join(custom, "themes", "custom.css"))
    blocks = runbook_cp_blocks(set_dir)
    assert [t for t, _, _ in blocks if "scale the consumers" in t] and all(body.strip() for _, _, body in blocks)
    env = dict(os.environ, **kube, PATH=FAKES + os.pathsep + os.environ["PATH"], SET=set_dir)
    ran = []
    for title, _, body in blocks:
        if "by hand" in title:  # the charts (helm upgrade -i from hclcr.io) and the etcd restore (etcdutl on the NFS master)
            continue
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", body], env=env, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, f"{title}:\n{body}\n{proc.stdout}{proc.stderr}"
        ran.append(title)
    assert len(ran) == len(blocks) - 2
    after = fakekube.read_state(kube)
    for db, colls in at_backup["mongo"]["databases"].items():
        if db != "admin":
            assert after["mongo"]["databases"][db] == colls, db
    assert after["mongo"]["databases"]["admin"]["system.users"] == [{"_id": "admin.cluster-own-user", "n": 0}]
    [restore] = [e for e in events(kube, "mongorestore") if not e["dryRun"]][-1:]
    assert restore["drop"] and sorted(restore["excluded"]) == ["admin.*", "config.*", "local.*"]
    assert {n: (i["docs"], i.get("status", "open")) for n, i in after["opensearch"]["indices"].items()} == \
        {n: (i["docs"], "open") for n, i in at_backup["opensearch"]["indices"].items()}
    closes = [e["path"] for e in events(kube, "sendRequest") if e["path"].endswith("/_close")]
    assert closes[-1] == "/orient-me-collection,icmetricscommlist,icmetricsconfig,icmetrics_a_2026_2h/_close"
    assert tree(custom) == files_before
    scales = [(e["name"], e["replicas"]) for e in events(kube, "scale")]
    assert scales[-2:] == [("kudos-boards-cp-core", 0), ("kudos-boards-cp-core", 1)]  # back to the set's count
    assert after["deployments"] == at_backup["deployments"]
    # strict as the real tools: the placeholders the runbook used to print do not run
    kubectl = [os.path.join(FAKES, "kubectl"), "exec", "-i", "-n", "connections"]
    for pod, words, said in (("<primary>", [], 'pods "<primary>" not found'),
                             ("mongo7-0", ["<x509 options>"], "error parsing positional arguments")):
        proc = subprocess.run(kubectl + [pod, "-c", "mongo7", "--", "mongorestore", *words, "--archive", "--gzip"],
                              env=env, input=b"", capture_output=True, timeout=60)
        assert proc.returncode != 0 and said in proc.stderr.decode(), proc.stderr


def test_the_runbooks_helm_steps_put_an_uninstalled_release_back_with_its_history_and_roll_it_back(cp_set):
    """HCL's upgrade steps ``helm uninstall`` mw-proxy and reinstall it: its history is gone (the reinstalled one is
    at revision 1). RESTORE.md's Helm history block, run by bash on the fake cluster, uninstalls the reinstalled
    one, creates the saved records and rolls back to the revision deployed at backup; every other release, whose
    history the cluster holds, is left alone, and a second run changes nothing."""
    _tmp, _env_file, kube, set_dir = cp_set
    env = dict(os.environ, **kube, PATH=FAKES + os.pathsep + os.environ["PATH"], SET=set_dir)
    at_backup = fakekube.read_state(kube)
    saved = {r["release"]: r for r in e2e.manifest(set_dir)["componentPack"]["inventory"]["helmRecords"]}
    assert saved["mw-proxy"]["revisions"] == [1, 2, 3] and saved["mw-proxy"]["deployed"] == 3
    assert {"apisix", "hcl-api-gateway", "collabora-online"} <= set(saved)  # the other namespaces' releases too
    records = os.path.join(set_dir, "componentpack", saved["mw-proxy"]["file"])
    assert oct(os.stat(records).st_mode & 0o777) == "0o600"
    assert [i["metadata"]["name"] for i in json.load(open(records))["items"]] == \
        [f"sh.helm.release.v1.mw-proxy.v{n}" for n in (1, 2, 3)]
    secrets = json.load(open(os.path.join(set_dir, "componentpack", "secrets.json")))["items"]
    assert not [s for s in secrets if s["type"] == "helm.sh/release.v1"]  # never among the secrets the runbook applies
    uninstalled = subprocess.run([os.path.join(FAKES, "helm"), "uninstall", "mw-proxy", "-n", "connections"], env=env,
                                 capture_output=True, text=True)
    assert uninstalled.returncode == 0, uninstalled.stderr
    state = fakekube.read_state(kube)  # reinstalled as HCL's steps do: a new release, revision 1
    state["helm"].append({"name": "mw-proxy", "chart": "mw-proxy-0.2.0-20261201-101010", "revision": "1",
                          "status": "deployed", "app_version": "", "values": {"image": {"tag": "20261201"}}})
    fakekube.write_state(kube, state)
    [(title, body)] = [(t, b) for t, _, b in runbook_cp_blocks(set_dir) if "Helm history" in t]
    ran = subprocess.run(["bash", "-euo", "pipefail", "-c", body], env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, f"{title}:\n{body}\n{ran.stdout}{ran.stderr}"
    assert "mw-proxy: the cluster holds" not in ran.stdout and "orientme: the cluster holds its history" in ran.stdout
    after = fakekube.read_state(kube)
    [release] = [r for r in after["helm"] if r["name"] == "mw-proxy"]
    history = fakehelm.history(release)
    backup = fakehelm.history(next(r for r in at_backup["helm"] if r["name"] == "mw-proxy"))
    assert [(h["revision"], h["status"]) for h in history] == [(1, "superseded"), (2, "superseded"), (3, "superseded"),
                                                                (4, "deployed")]
    assert history[-1]["description"] == "Rollback to 3"
    assert (history[-1]["chart"], history[-1]["values"]) == (backup[2]["chart"], backup[2]["values"])
    assert [(h["chart"], h["values"]) for h in history[:3]] == [(h["chart"], h["values"]) for h in backup]
    untouched = [r["name"] for r in at_backup["helm"] if r["name"] != "mw-proxy"]
    assert {r["name"]: fakehelm.history(r) for r in after["helm"] if r["name"] in untouched} == \
        {r["name"]: fakehelm.history(r) for r in at_backup["helm"] if r["name"] in untouched}
    assert [e["release"] for e in events(kube, "helm-uninstall")] == ["mw-proxy", "mw-proxy"]
    again = subprocess.run(["bash", "-euo", "pipefail", "-c", body], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "mw-proxy: the cluster holds its history of the backup" in again.stdout, again.stderr
    assert fakekube.read_state(kube)["helm"] == after["helm"]
    # strict as the real tools: a record that exists is not created again, and apply is not what the runbook uses
    dup = subprocess.run([os.path.join(FAKES, "kubectl"), "create", "-n", "connections", "-f", records], env=env,
                         capture_output=True, text=True)
    assert dup.returncode == 1 and 'secrets "sh.helm.release.v1.mw-proxy.v1" already exists' in dup.stderr
    assert "kubectl apply" not in body and "kubectl create -n connections -f" in body


@pytest.mark.parametrize("fault, value, reason", [
    ("fcv", "8.0", "featureCompatibilityVersion is 8.0, the dump is of MongoDB 7.0.39"),
    ("dump_changed", None, "componentpack/mongodb.archive.gz does not match its SHA-256 and size in the manifest"),
    ("snapshot_renamed", "x/../_all", "the set names the snapshot or index 'x/../_all', not an OpenSearch name"),
    ("restore_failed_docs", 2, "exited 0 but 2 document(s) failed to restore"),
])
def test_a_wrong_version_is_refused_before_any_change_and_failed_documents_fail_the_restore(cp_set, fault, value,
                                                                                            reason):
    tmp, env_file, kube, set_dir = cp_set
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
    proc = e2e.cli("--plain", "restore", set_dir, "--env", env_file, "--yes", "--only", "component-pack")
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
