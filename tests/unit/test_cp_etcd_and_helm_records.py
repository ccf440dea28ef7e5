"""The API gateway's etcd and Helm's release records (issue 31, items 2 and 3), in process.

The snapshot script runs in a shell with a stand-in ``etcdctl`` that writes down what it was given: the
endpoint, the user and the TLS files come from the pod's environment as ``ETCDCTL_*`` variables, never as
arguments. The etcd StatefulSet is found by label or name in the namespaces named. Helm's records go to one
file per release, cleaned, with the digest RESTORE.md compares; the runbook writes no hostile name out.
(End to end on the fake cluster: tests/e2e/backup/test_component_pack.py and tests/e2e/restore/test_component_pack.py.)
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import shlex
import subprocess

import pytest

from cnxbackup.actions.restore import component_pack as cp_restore
from cnxbackup.componentpack import etcd, inventory
from cnxbackup.componentpack.kube import KubeError
from cnxbackup.demo import fakehelm
from cnxbackup.manifest import Manifest, ToolRecord

STUB = """#!/bin/sh
if [ "$1" = version ]; then echo "etcdctl version: 3.5.9"; echo "API version: 3.5"; exit 0; fi
python3 - "$@" <<'EOF'
import json, os, sys
keys = ("ETCDCTL_ENDPOINTS", "ETCDCTL_USER", "ETCDCTL_CERT", "ETCDCTL_KEY", "ETCDCTL_CACERT", "ETCDCTL_INSECURE_SKIP_TLS_VERIFY")
with open(os.environ["RECORD"], "w") as handle:
    json.dump({"argv": sys.argv[1:], "env": {k: os.environ[k] for k in keys if k in os.environ}}, handle)
EOF
echo "Snapshot saved at $3"
"""


def save_in_shell(tmp_path, pod_env: dict) -> tuple:
    """SAVE run by sh with ``pod_env`` as the pod's environment: (what etcdctl got, the key=value lines)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "etcdctl").write_text(STUB)
    (bin_dir / "etcdctl").chmod(0o755)
    record = tmp_path / "etcdctl.json"
    name = etcd.temp_name(f"unit-{os.getpid()}")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "RECORD": str(record), **pod_env}
    proc = subprocess.run(["/bin/sh", "-c", etcd.SAVE, "cnxbackup-etcd", name], env=env, capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0, proc.stderr
    facts = dict(line.split("=", 1) for line in proc.stdout.splitlines())
    return json.loads(record.read_text()), facts, name


ADVERTISED = "http://apisix-etcd-1.apisix-etcd-headless.apisix.svc.cluster.local:2379,http://apisix-etcd.apisix.svc:2379"


@pytest.mark.parametrize("pod_env, endpoint, user", [
    ({"ETCD_ADVERTISE_CLIENT_URLS": ADVERTISED, "ETCD_ROOT_PASSWORD": "s3cret:pw"}, ADVERTISED.split(",")[0], "root:s3cret:pw"),
    ({"ETCD_ADVERTISE_CLIENT_URLS": ADVERTISED, "ETCDCTL_ENDPOINTS": "http://127.0.0.1:2379"}, "http://127.0.0.1:2379", None),
    ({"ETCD_ADVERTISE_CLIENT_URLS": ADVERTISED, "ETCDCTL_ENDPOINTS": "a:2379,b:2379"}, ADVERTISED.split(",")[0], None),
    ({}, "http://127.0.0.1:2379", None),
])
def test_the_snapshot_takes_endpoint_and_user_from_the_pods_environment_never_as_arguments(tmp_path, pod_env, endpoint,
                                                                                           user):
    got, facts, name = save_in_shell(tmp_path, pod_env)
    assert got["argv"] == ["snapshot", "save", f"/tmp/{name}"]  # nothing else: no endpoint, user or password
    assert got["env"].get("ETCDCTL_ENDPOINTS") == endpoint and got["env"].get("ETCDCTL_USER") == user
    assert facts["file"] == f"/tmp/{name}" and facts["endpoint"] == endpoint and facts["version"] == "3.5.9"
    assert "s3cret" not in json.dumps(facts)


def test_the_root_password_file_and_the_tls_files_of_the_pod_are_used(tmp_path):
    (tmp_path / "pw").write_text("from-file")
    for name in ("crt", "key", "ca"):
        (tmp_path / name).write_text(name)
    got, _, _ = save_in_shell(tmp_path, {"ETCD_ROOT_PASSWORD_FILE": str(tmp_path / "pw"), "ETCD_CERT_FILE": str(tmp_path / "crt"),
                                         "ETCD_KEY_FILE": str(tmp_path / "key"), "ETCD_TRUSTED_CA_FILE": str(tmp_path / "ca")})
    assert got["env"] == {"ETCDCTL_ENDPOINTS": "http://127.0.0.1:2379", "ETCDCTL_USER": "root:from-file",
                          "ETCDCTL_CERT": str(tmp_path / "crt"), "ETCDCTL_KEY": str(tmp_path / "key"),
                          "ETCDCTL_CACERT": str(tmp_path / "ca")}
    got, _, _ = save_in_shell(tmp_path, {"ETCD_AUTO_TLS": "true", "ETCD_DATA_DIR": "/bitnami/etcd/data"})
    assert got["env"]["ETCDCTL_CERT"] == "/bitnami/etcd/data/fixtures/client/cert.pem"
    assert got["env"]["ETCDCTL_INSECURE_SKIP_TLS_VERIFY"] == "true"


class Cluster:
    """kubectl's answers per namespace (``at`` and ``items``, what ``etcd.find`` asks)."""

    def __init__(self, objects: dict, namespace: str = "connections", asked: list = None) -> None:
        self.objects, self.namespace, self.asked = objects, namespace, [] if asked is None else asked

    def at(self, namespace):
        return Cluster(self.objects, namespace, self.asked)

    def items(self, kind):
        return list(self.objects.get(self.namespace, {}).get(kind, []))

    def json(self, tool, args):
        self.asked.append((self.namespace, tuple(args)))
        return {"items": self.items("secrets")}


def sts(name: str, labels: dict, replicas: int = 3, containers=("etcd",)) -> dict:
    return {"metadata": {"name": name}, "spec": {"replicas": replicas, "template": {
        "metadata": {"labels": labels}, "spec": {"containers": [{"name": c} for c in containers]}}}}


def pod(name: str, ready: bool = True) -> dict:
    return {"metadata": {"name": name}, "status": {"containerStatuses": [{"ready": ready}]}}


def test_an_etcd_statefulset_is_found_by_label_or_name_in_the_namespaces_named_only():
    kube = Cluster({
        "apisix": {"statefulsets": [sts("gw-store", {"app.kubernetes.io/name": "etcd"}), sts("apisix", {"app": "apisix"})],
                   "pods": [pod("gw-store-1"), pod("gw-store-0", ready=False), pod("gw-store-10"), pod("apisix-0")]},
        "connections": {"statefulsets": [sts("core-apisix-etcd", {}, 1, ("sidecar", "main")), sts("mongo7", {"app": "mongo7"})],
                        "pods": [pod("core-apisix-etcd-0", ready=False)]},
        "elsewhere": {"statefulsets": [sts("etcd", {})]},
    })
    found = etcd.find(kube, ["connections", "apisix", "connections", "missing"])
    assert [(s.label, s.container, s.replicas, s.pods, s.ready) for s in found] == [
        ("connections/core-apisix-etcd", "sidecar", 1, ["core-apisix-etcd-0"], []),
        ("apisix/gw-store", "etcd", 3, ["gw-store-0", "gw-store-1", "gw-store-10"], ["gw-store-1", "gw-store-10"])]
    assert etcd.problems(kube, ["connections"], "auto") == [
        "etcd StatefulSet connections/core-apisix-etcd has no ready member pod (core-apisix-etcd-0)"]
    assert etcd.problems(kube, ["missing"], "auto") == []
    assert "no etcd StatefulSet" in etcd.problems(kube, ["missing"], "on")[0]
    assert etcd.temp_name("demo-2026 12/../x") == "cnxbackup-etcd-demo-2026-12-..-x.db"


def helm_record(name: str, version: int, status: str) -> dict:
    data = fakehelm.encode(name, "connections", {"revision": version, "status": status, "chart": f"{name}-1.0.{version}",
                                                 "values": {"v": version}})
    return {"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1", "data": {"release": data},
            "metadata": {"name": f"sh.helm.release.v1.{name}.v{version}", "namespace": "connections", "uid": "u",
                         "resourceVersion": "7", "creationTimestamp": "t", "managedFields": [{}],
                         "labels": {"name": name, "owner": "helm", "status": status, "version": str(version)}}}


def test_helm_records_go_to_one_file_per_release_cleaned_with_the_deployed_ones_digest():
    records = [helm_record("mw-proxy", 2, "deployed"), helm_record("mw-proxy", 1, "superseded"),
               {"type": "Opaque", "metadata": {"name": "other", "labels": {"owner": "helm"}}}]
    kube = Cluster({"connections": {"secrets": records}, "apisix": {"secrets": [helm_record("apisix", 1, "deployed")]}})
    kube.settings = {"namespaces": ["apisix", "connections"]}
    written = {}
    summary = inventory.helm_records(kube, lambda rel, data: written.update({rel: data}))
    assert [(n, a) for n, a in kube.asked] == [(ns, ("get", "secrets", "-l", "owner=helm", "-o", "json"))
                                              for ns in ("connections", "apisix")]
    assert sorted(written) == ["helm-records/apisix/apisix.yaml", "helm-records/mw-proxy.yaml"]
    saved = json.loads(written["helm-records/mw-proxy.yaml"])
    assert saved["kind"] == "List" and [i["metadata"]["name"] for i in saved["items"]] == [
        "sh.helm.release.v1.mw-proxy.v1", "sh.helm.release.v1.mw-proxy.v2"]
    assert set(saved["items"][0]["metadata"]) == {"name", "labels"}  # no namespace, uid, resourceVersion, ...
    [mw] = [s for s in summary if s["release"] == "mw-proxy"]
    assert (mw["revisions"], mw["deployed"], mw["file"]) == ([1, 2], 2, "helm-records/mw-proxy.yaml")
    assert mw["deployedSha256"] == hashlib.sha256(records[0]["data"]["release"].encode()).hexdigest()
    # Helm's encoding as coverage §4.1 says it, read without fakehelm: base64 (the API) of base64 of gzip of JSON
    release = json.loads(gzip.decompress(base64.b64decode(base64.b64decode(records[0]["data"]["release"]))))
    assert (release["name"], release["version"], release["config"]) == ("mw-proxy", 2, {"v": 2})
    broken = Cluster({"connections": {"secrets": [{**records[0], "metadata": {"name": "x", "labels": {"owner": "helm"}}}]}})
    broken.settings = {}
    with pytest.raises(KubeError, match="no plain release name and revision"):
        inventory.helm_records(broken, lambda rel, data: None)


def test_a_rollback_makes_a_new_revision_and_never_rewrites_history():
    releases: list = []
    for version, status in ((1, "superseded"), (2, "deployed")):
        record = helm_record("mw-proxy", version, status)
        fakehelm.add_record(releases, record["metadata"]["name"], record["metadata"]["labels"], record["data"]["release"])
    assert fakehelm.rollback(releases, "mw-proxy", 5) == "Error: release has no 5 version\n"
    assert fakehelm.rollback(releases, "mw-proxy", 1) is None
    assert [(r["revision"], r["status"], r["description"]) for r in fakehelm.history(releases[0])][1:] == [
        (2, "superseded", ""), (3, "deployed", "Rollback to 1")]
    assert releases[0]["values"] == {"v": 1} and releases[0]["revision"] == "3"


def _manifest(records: list, snapshots: list, encrypted: bool = False) -> Manifest:
    return Manifest(tool=ToolRecord("cnxbackup", "t"), environment="demo", run_id="demo-20261208T010000",
                    connections={"version": "8.0.0.0 CR15", "release": "8.0", "exact": "8.0.0.0 CR15"}, status="complete",
                    encryption={"recipients": ["A" * 40]} if encrypted else None,
                    component_pack={"namespace": "connections", "folders": [], "inventory": {
                        "status": "done", "releases": [], "helmRecords": records},
                        "etcd": {"status": "done", "snapshots": snapshots}})


GOOD = {"release": "mw-proxy", "namespace": "connections", "file": "helm-records/mw-proxy.yaml", "revisions": [1, 2, 3],
        "deployed": 3, "deployedSha256": "a" * 64}
SNAP = {"namespace": "apisix", "statefulset": "apisix-etcd", "pod": "apisix-etcd-0", "container": "etcd", "replicas": 3,
        "members": ["apisix-etcd-0", "apisix-etcd-1", "apisix-etcd-2"], "path": "componentpack/etcd/apisix.apisix-etcd.db",
        "sha256": "b" * 64, "version": "3.5.21"}


def test_the_runbook_writes_no_name_of_the_set_that_is_not_a_kubernetes_name():
    hostile = "x; touch /tmp/owned"
    records = [GOOD, {**GOOD, "release": hostile}, {**GOOD, "namespace": "$(id)"}, {**GOOD, "deployed": 9},
               {**GOOD, "release": "ok", "deployedSha256": "$(id)"}]
    history = cp_restore._history_commands(_manifest(records, [{**SNAP, "members": [hostile]}]), "/backups/set")
    assert [line for line in history if line.startswith("#") and "not put back" in line] and len(
        [line for line in history if line.startswith("if [")]) == 1
    assert not [line for line in history if not line.startswith("#") and ("touch" in line or "$(id)" in line)]
    for line in history:
        shlex.split(line, comments=True)
    etcd_lines = cp_restore._etcd_commands(_manifest([], [{**SNAP, "members": [hostile]}]), "/backups/set")
    assert len(etcd_lines) == 1 and etcd_lines[0].startswith("#")


def test_an_encrypted_sets_records_and_snapshot_are_decrypted_on_the_way():
    manifest = _manifest([GOOD], [SNAP], encrypted=True)
    history = cp_restore._history_commands(manifest, "/backups/set")
    assert "  gpg --decrypt /backups/set/componentpack/helm-records/mw-proxy.yaml | kubectl create -n connections -f -" \
        in [line.split("   #")[0] for line in history]
    lines = cp_restore._etcd_commands(manifest, "/backups/set")
    assert "(umask 077; gpg --decrypt /backups/set/componentpack/etcd/apisix.apisix-etcd.db > /root/cnxrestore-etcd.db)" \
        in [line.split("   #")[0] for line in lines]
    restores = [line for line in lines if line.startswith("etcdutl snapshot restore /root/cnxrestore-etcd.db --name ")]
    assert [line.split("--name ")[1].split()[0] for line in restores] == SNAP["members"]
    assert lines[-2] == "kubectl scale statefulset/apisix-etcd --replicas=3 -n apisix"
    assert lines[-4] == "rm -f /root/cnxrestore-etcd.db"
