"""A stand-in Component Pack cluster for the fake ``kubectl`` and ``helm`` (``fakes/``).

The state is one JSON file (``FAKEKUBE_STATE``): pods, StatefulSets and deployments of the
namespace, Helm releases with their values, the ``connections-env`` ConfigMap and the secrets,
a MongoDB replica set whose databases hold real documents, and an OpenSearch with indices, fs
repositories and snapshots written as files into the PV folder its ``/backup`` mounts. Every
call is logged (``FAKEKUBE_LOG``, JSON lines). Texts follow ``component-pack.md``: strict where
it marks a behaviour confirmed ([C]), lenient where it marks one unconfirmed ([U]). A PUT of a
snapshot name the repository holds is refused as OpenSearch does (400, ``invalid_snapshot_name_exception``).

Other namespaces (``namespaces``: ``apisix`` with the API gateway's 3-member Bitnami etcd, ``collabora`` with
Collabora Online and ``collabora-admin-secret``) answer the same commands; a namespace the cluster does
not have lists nothing and fails ``create`` and ``exec`` as kubectl does. Helm's release records are
Secrets derived from each release's revisions (``fakehelm``): ``kubectl get secrets -l owner=helm``,
``kubectl create -f`` (JSON only) of saved records, ``helm status``, ``history``, ``uninstall`` (the
history goes) and ``rollback`` (a new revision, "Rollback to N") act on them. PVs (``kubectl get pv``)
and claims name the NFS folders. A pod with ``shell`` (the etcd members) runs ``sh -c`` in a real shell
with its environment and the etcd image's tools (``fakes/pod-bin``, ``fakeetcd``), and ``cat``/``rm`` in
its own file system (``pod_root``). ``kubectl get``/``create`` and ``helm list``/``status``/``history``/
``uninstall``/``rollback`` refuse flags they do not know, as the real ones do.

Switchable faults (``state["faults"]``): ``api_refused`` (the API server refuses connections),
``pod_not_ready`` (a pod name), ``red_index`` (an index name), ``snapshot_partial``,
``dump_dies_after`` (collections dumped before mongodump fails), ``dump_delay`` (seconds mongodump
waits before it writes), ``restore_failed_docs``
(mongorestore exits 0 but reports failed documents), ``etcd_snapshot_fails`` (etcdctl snapshot save exits 5).
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import gzip
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from ..mongo_shell import COUNTS_JS, FCV_JS, PRIMARY_JS  # the expressions the fake mongosh evaluates (a leaf: no heavy imports)
from . import fakehelm

NAMESPACE = "connections"
SEND_REQUEST = "/usr/share/opensearch/probe/sendRequest.sh"
ARCHIVE_MAGIC = b"FAKEMONGOARCHIVE1\n"
USER_DN = "C=IE,ST=Ireland,L=Dublin,O=IBM,OU=Connections-Middleware-Clients,CN=admin,emailAddress=admin@mongodb"
REFUSED = "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?"
SECRET_VALUES = ("c2VjcmV0LW1vbmdvLWtleQ==", "b3BlbnNlYXJjaC1wYXNz", "pemkey-Pass-1234", "etcd-Root-Pw-5678",
                 "Y29vbC1hZG1pbi1wdzkwMTI=")
"""Values no console, log, REPORT, RESTORE, manifest or command line may show: a secret's, a Helm value's,
the etcd root password in the etcd pods' environment, Collabora's admin password."""
POD_BIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fakes", "pod-bin")
"""The programs a pod's shell finds besides the host's (``etcdctl``, ``etcdutl`` of the etcd image)."""


# --------------------------------------------------------------------------- test side


def _pod(name: str, containers: List[str], labels: Dict[str, str], env: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    return {"containers": containers, "labels": labels, "ready": True, "env": env or {}}


def _mw_proxy() -> Dict[str, Any]:
    """A release with three revisions (HCL's upgrade steps ``helm uninstall`` it before reinstalling)."""
    history = [{"revision": n, "status": "deployed" if n == 3 else "superseded",
                "chart": f"mw-proxy-0.1.0-2026{month}01-101010", "values": {"image": {"tag": f"2026{month}01"}, "replicas": n},
                "description": "Install complete" if n == 1 else "Upgrade complete"}
               for n, month in ((1, "06"), (2, "09"), (3, "11"))]
    last = history[-1]
    return {"name": "mw-proxy", "chart": last["chart"], "revision": "3", "status": "deployed", "app_version": "",
            "values": last["values"], "history": history}


def _other_namespaces() -> Dict[str, Dict[str, Any]]:
    """HCL's dedicated namespaces (coverage-component-pack.md §1): ``apisix`` with the API gateway and its
    Bitnami etcd (RBAC on here, so that a root password exists to be kept out of sight; HCL's runs
    without, §5.2), ``collabora`` with Collabora Online and ``collabora-admin-secret`` (§6)."""
    etcd_labels = {"app.kubernetes.io/name": "etcd", "app.kubernetes.io/instance": "apisix",
                   "app.kubernetes.io/managed-by": "Helm"}
    headless = "apisix-etcd-headless.apisix.svc.cluster.local"
    cluster = ",".join(f"apisix-etcd-{i}=http://apisix-etcd-{i}.{headless}:2380" for i in range(3))
    pods = {f"apisix-etcd-{i}": dict(_pod("", ["etcd"], etcd_labels, {
        "BITNAMI_DEBUG": "false", "MY_POD_NAME": f"apisix-etcd-{i}", "MY_STS_NAME": "apisix-etcd", "ETCDCTL_API": "3",
        "ETCD_ON_K8S": "yes", "ETCD_NAME": f"apisix-etcd-{i}", "ETCD_DATA_DIR": "/bitnami/etcd/data",
        "ALLOW_NONE_AUTHENTICATION": "no", "ETCD_ROOT_PASSWORD": SECRET_VALUES[3], "ETCD_AUTH_TOKEN": "simple",
        "ETCD_ADVERTISE_CLIENT_URLS": f"http://apisix-etcd-{i}.{headless}:2379,http://apisix-etcd.apisix.svc.cluster.local:2379",
        "ETCD_LISTEN_CLIENT_URLS": "http://0.0.0.0:2379", "ETCD_INITIAL_CLUSTER_TOKEN": "etcd-cluster-k8s",
        "ETCD_INITIAL_CLUSTER_STATE": "new", "ETCD_INITIAL_CLUSTER": cluster, "ETCD_CLUSTER_DOMAIN": headless}),
        shell=True) for i in range(3)}
    pods["apisix-7d9f8c6b5-k2m4p"] = _pod("", ["apisix"], {"app.kubernetes.io/name": "apisix"})
    apisix = {"pods": pods, "deployments": {"apisix": {"replicas": 1}},
              "statefulsets": {"apisix-etcd": {"replicas": 3, "labels": etcd_labels, "containers": ["etcd"]}},
              "secrets": [{"name": "apisix-admin-secret", "type": "Opaque",
                           "data": {"admin-password": "YWRtaW4tcHc=", "viewer-password": "dmlld2VyLXB3"}},
                          {"name": "apisix-etcd", "type": "Opaque", "data": {"etcd-root-password": "ZXRjZC1yb290"}}],
              "helm": [{"name": "apisix", "chart": "apisix-2.12.0", "revision": "2", "status": "deployed", "app_version": "3.13.0",
                        "values": {"etcd": {"enabled": True, "replicaCount": 3, "auth": {"rbac": {"create": True}}}}},
                       {"name": "hcl-api-gateway", "chart": "hcl-api-gateway-1.0.0", "revision": "1", "status": "deployed",
                        "app_version": "", "values": {"namespace": "apisix"}}],
              "etcd": {"revision": 1207, "keys": {"/apisix/routes/00000000000000000014": '{"uri":"/social/*"}',
                                                  "/apisix/upstreams/00000000000000000007": '{"type":"roundrobin"}'}}}
    collabora = {"pods": {"collabora-online-6c8d7f9b4-q8w2e": _pod("", ["collabora-online"], {"app": "collabora-online"})},
                 "deployments": {"collabora-online": {"replicas": 1}},
                 "secrets": [{"name": "collabora-admin-secret", "type": "Opaque",
                              "data": {"admin-username": "YWRtaW4=", "admin-password": SECRET_VALUES[4]}},
                             {"name": "cnx-tls-secret", "type": "kubernetes.io/tls", "data": {"tls.crt": "LS0tQ0VSVA==",
                                                                                            "tls.key": "LS0tS0VZ"}}],
                 "helm": [{"name": "collabora-online", "chart": "collabora-online-umbrella-1.4.0", "revision": "1",
                           "status": "deployed", "app_version": "", "values": {"collabora-online": {"collabora": {
                               "existingSecret": {"secretName": "collabora-admin-secret", "usernameKey": "admin-username",
                                                  "passwordKey": "admin-password"}}}}}]}
    return {"apisix": apisix, "collabora": collabora}


def _volumes(pv_root: str, mongo: str, members: int) -> List[Dict[str, Any]]:
    """Static NFS PVs (coverage §3): the folder under ``pv_root``, the claim bound to it. Huddo Boards' object
    store by its chart-2.1.0 name too (SeaweedFS, ``huddo-boards-s3``, §7)."""
    bound = [("customizations", NAMESPACE, "customizations-claim"), ("kudos-boards-minio", NAMESPACE, "kudos-boards-minio-claim"),
             ("huddo-boards-s3", NAMESPACE, "huddo-boards-cp-s3"), ("opensearchbackup", NAMESPACE, "opensearchbackup-claim")]
    bound += [(f"{mongo}-node-{i}", NAMESPACE, f"{mongo}-persistent-storage-{mongo}-{i}") for i in range(members)]
    bound += [(f"apisix-apisix-etcd-{i}", "apisix", f"data-apisix-etcd-{i}") for i in range(3)]
    return [{"name": f"pv-{folder}", "path": os.path.join(pv_root, folder), "namespace": namespace, "claim": claim}
            for folder, namespace, claim in bound]


def prepare(folder: str, pv_root: str, *, mongo: str = "mongo7", members: int = 3) -> Dict[str, str]:
    """A fresh cluster state in ``folder`` (its OpenSearch repository in ``pv_root/opensearchbackup``);
    the environment variables the fakes need."""
    os.makedirs(folder, exist_ok=True)
    tls = {"MONGO_net_tls_mode": "requireTLS", "MONGO_net_tls_certificateKeyFile": "/etc/mongodb/x509/user_admin.pem",
           "MONGO_net_tls_CAFile": "/etc/mongodb/x509/mongo-CA-cert.crt"}
    pods = {f"{mongo}-{i}": _pod(f"{mongo}-{i}", [mongo, f"{mongo}-sidecar"], {"app": mongo}, tls) for i in range(members)}
    for role in ("master", "data", "client"):
        pods[f"opensearch-cluster-{role}-0"] = _pod("", ["opensearch"], {"app": f"opensearch-cluster-{role}"})
    pods["mw-proxy-5f7c9-abcde"] = _pod("", ["mw-proxy"], {"app": "mw-proxy"})
    pods["kudos-boards-cp-core-6d9-xyz12"] = _pod("", ["core"], {"app": "kudos-boards-cp-core"})
    docs = {"profiledb": {"profiles": 12, "photos": 3}, "commtpldb": {"CommTemplate": 4, "TemplateCategory": 2},
            "boards-app": {"boards": 5, "cards": 40}, "admin": {"system.users": 2}}
    state: Dict[str, Any] = {
        "namespace": NAMESPACE,
        "pv_root": pv_root,
        "pods": pods,
        "statefulsets": {mongo: {"replicas": members},
                         **{f"opensearch-cluster-{r}": {"replicas": 1} for r in ("master", "data", "client")}},
        "deployments": {"mw-proxy": {"replicas": 2}, "kudos-boards-cp-core": {"replicas": 1}},
        "mongo": {"statefulset": mongo, "version": "7.0.39" if mongo == "mongo7" else "5.0.26", "primary": f"{mongo}-0",
                  "locks": {}, "databases": {db: {c: [{"_id": f"{db}.{c}.{n}", "n": n} for n in range(count)]
                                                  for c, count in colls.items()} for db, colls in docs.items()}},
        "opensearch": {"version": "2.19.2", "repos": {}, "snapshots": {},
                       "indices": {name: {"health": "green", "docs": 10 + i} for i, name in enumerate(
                           ["quickresults", "orient-me-collection", "icmetricscommlist", "icmetricsconfig",
                            "icmetrics_a_2026_2h", ".opendistro_security"])}},
        "helm": [{"name": name, "chart": chart, "revision": "3", "status": "deployed", "app_version": "",
                  "values": values} for name, chart, values in (
                      ("bootstrap", "bootstrap-0.1.0-20261101-101010", {"env": {"set_ic_admin_user": "wasadmin"}}),
                      ("infrastructure", "infrastructure-0.1.0-20261101-101010",
                       {"mongo7": {"enabled": True, "keyPass": SECRET_VALUES[0]}}),
                      ("opensearch-client", "opensearch-2.19.2", {"pemkeyPass": SECRET_VALUES[2]}),
                      ("orientme", "orientme-0.1.0-20261101-101010", None))] + [_mw_proxy()],
        "configmaps": {"connections-env": {"ic-host": "connections.example.com", "mongo7-rs-members-hosts":
                                           ",".join(f"{mongo}-{i}.{mongo}" for i in range(members))}},
        "secrets": [
            {"name": "mongo-secret", "type": "Opaque", "data": {"key": SECRET_VALUES[0]}},
            {"name": "opensearch-secret", "type": "Opaque", "data": {"password": SECRET_VALUES[1]}},
            {"name": "cnx-tls-secret", "type": "kubernetes.io/tls", "data": {"tls.crt": "LS0tQ0VSVA==",
                                                                           "tls.key": "LS0tS0VZ"}},
            {"name": "default-token-abcde", "type": "kubernetes.io/service-account-token", "data": {"token": "ZXlK"}},
        ],
        "namespaces": _other_namespaces(),
        "pvs": _volumes(pv_root, mongo, members),
        "faults": {},
    }
    for namespace, space in [(NAMESPACE, state), *state["namespaces"].items()]:
        for pod, spec in space["pods"].items():
            if spec.get("shell"):  # the pod's own folders its shell and tools write in (kubectl exec ... cat reads)
                os.makedirs(os.path.join(folder, "pods", namespace, pod, "tmp"), exist_ok=True)
    path = os.path.join(folder, "cluster.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=1)
    log = os.path.join(folder, "kube-log.jsonl")
    open(log, "w").close()
    return {"FAKEKUBE_STATE": path, "FAKEKUBE_LOG": log}


def read_log(env: Dict[str, str]) -> List[Dict[str, Any]]:
    with open(env["FAKEKUBE_LOG"], encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def read_state(env: Dict[str, str]) -> Dict[str, Any]:
    with open(env["FAKEKUBE_STATE"], encoding="utf-8") as handle:
        return json.load(handle)


def write_state(env: Dict[str, str], state: Dict[str, Any]) -> None:
    with open(env["FAKEKUBE_STATE"], "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=1)


def set_fault(env: Dict[str, str], name: str, value: Any) -> None:
    state = read_state(env)
    state["faults"][name] = value
    write_state(env, state)


# --------------------------------------------------------------------------- the tools' side


class Exit(Exception):
    def __init__(self, code: int, stderr: str = "") -> None:
        super().__init__(stderr)
        self.code, self.stderr = code, stderr


@contextlib.contextmanager
def _state() -> Iterator[Dict[str, Any]]:
    path = os.environ.get("FAKEKUBE_STATE")
    if not path or not os.path.isfile(path):
        raise Exit(99, "fake kube: FAKEKUBE_STATE is not set or does not name a state file\n")
    with open(path + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
            yield data
            temp = f"{path}.tmp{os.getpid()}"
            with open(temp, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=1)
            os.replace(temp, path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _log(record: Dict[str, Any]) -> None:
    path = os.environ.get("FAKEKUBE_LOG")
    if path:
        record["time"] = time.time()
        with open(path, "a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(json.dumps(record) + "\n")


def _ns(state: Dict[str, Any], namespace: str) -> Optional[Dict[str, Any]]:
    """The objects of ``namespace`` (the main one's at the top of the state, the others' under ``namespaces``);
    None for a namespace the cluster does not have."""
    if namespace == state["namespace"]:
        return state
    space = (state.get("namespaces") or {}).get(namespace)
    if space is not None:
        for key, empty in (("pods", {}), ("statefulsets", {}), ("deployments", {}), ("configmaps", {}), ("secrets", []),
                           ("helm", [])):
            space.setdefault(key, type(empty)())
    return space


def _space(state: Dict[str, Any], namespace: str) -> Dict[str, Any]:
    """``_ns``, an empty namespace for one the cluster does not have (a list there is empty, as kubectl's is)."""
    return _ns(state, namespace) or {"pods": {}, "statefulsets": {}, "deployments": {}, "configmaps": {}, "secrets": [],
                                     "helm": []}


def _out(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _globals(argv: List[str]) -> Tuple[List[str], str, Optional[str]]:
    """argv without the global options; the namespace; the kubeconfig."""
    rest, namespace, kubeconfig = [], NAMESPACE, None
    at = 0
    while at < len(argv):
        arg = argv[at]
        if arg == "--":
            rest += argv[at:]
            break
        if arg in ("-n", "--namespace", "--kubeconfig"):
            if at + 1 >= len(argv):
                raise Exit(1, f"error: flag needs an argument: {arg}\n")
            if arg == "--kubeconfig":
                kubeconfig = argv[at + 1]
            else:
                namespace = argv[at + 1]
            at += 2
            continue
        if arg.startswith(("--namespace=", "--kubeconfig=")):
            key, value = arg.split("=", 1)
            namespace, kubeconfig = (value, kubeconfig) if key == "--namespace" else (namespace, value)
        else:
            rest.append(arg)
        at += 1
    if kubeconfig is not None and not os.path.isfile(kubeconfig):
        raise Exit(1, f"error: stat {kubeconfig}: no such file or directory\n")
    return rest, namespace, kubeconfig


def _yaml(value: Any, indent: int = 0) -> str:
    """The block YAML Helm prints (maps and lists of scalars; enough for the values here)."""
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return "{}\n"
        out = ""
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                out += f"{pad}{key}:\n{_yaml(item, indent + 2)}"
            else:
                out += f"{pad}{key}: {_scalar(item)}\n"
        return out
    if isinstance(value, list):
        return "".join(f"{pad}- {_scalar(item)}\n" for item in value) or "[]\n"
    return f"{_scalar(value)}\n"


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value) if isinstance(value, (int, float)) else json.dumps(str(value))


# --------------------------------------------------------------------------- helm


def _main(body: Callable[[List[str]], int], argv: List[str]) -> int:
    # kubectl and helm are Go programs: a Ctrl-C on the terminal ends them by the signal, silently
    # (Python's default would print a KeyboardInterrupt traceback the driver then quotes)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        return body(argv)
    except Exit as done:
        sys.stderr.write(done.stderr)
        return done.code


def helm_main(argv: List[str]) -> int:
    return _main(_helm, argv)


def _helm(argv: List[str]) -> int:
    rest, namespace, _ = _globals(argv)
    _log({"tool": "helm", "argv": argv})
    if rest[:1] == ["version"]:
        _out('version.BuildInfo{Version:"v3.21.2", GitCommit:"5c1e0f6d1b5a", GitTreeState:"clean", GoVersion:"go1.24.4"}\n')
        return 0
    with _state() as state:
        if state["faults"].get("api_refused"):
            raise Exit(1, 'Error: Kubernetes cluster unreachable: Get "https://127.0.0.1:6443/version": dial tcp '
                          "127.0.0.1:6443: connect: connection refused\n")
        space = _ns(state, namespace)
        releases: List[Dict[str, Any]] = space["helm"] if space is not None else []
        if rest[:1] == ["list"]:
            return _helm_list(state, rest, namespace)
        if rest[:1] in (["status"], ["history"], ["uninstall"], ["rollback"]):
            return _helm_release(releases, rest, namespace)
    if rest[:2] == ["get", "values"] and len(rest) >= 3:
        release = next((r for r in releases if r["name"] == rest[2]), None)
        if release is None:
            raise Exit(1, "Error: release: not found\n")
        values = release["values"]
        if "--all" in rest or "-a" in rest:
            values = {"global": {"namespace": namespace}, **(values or {})}
        if "-o" in rest and rest[rest.index("-o") + 1] == "yaml":
            _out(_yaml(values))
        elif "-o" in rest and rest[rest.index("-o") + 1] == "json":
            _out(json.dumps(values) + "\n")
        else:
            _out(("COMPUTED VALUES:\n" if "--all" in rest or "-a" in rest else "USER-SUPPLIED VALUES:\n") + _yaml(values))
        return 0
    raise Exit(1, f'Error: unknown command "{rest[0] if rest else ""}" for "helm"\n')


UPDATED = "2026-11-01 10:10:10.123456789 +0000 UTC"


def _helm_flags(args: List[str], known: Dict[str, bool]) -> Tuple[List[str], Dict[str, str]]:
    """(positional arguments, flags) of a helm subcommand; ``known``: flag -> takes a value. Others fail as cobra fails."""
    words, flags, at = [], {}, 0
    while at < len(args):
        arg = args[at]
        key, eq, value = arg.partition("=")
        if not arg.startswith("-"):
            words.append(arg)
        elif key not in known:
            raise Exit(1, f"Error: unknown {'shorthand flag' if not arg.startswith('--') else 'flag'}: {key}\n")
        elif known[key] and not eq:
            if at + 1 >= len(args):
                raise Exit(1, f"Error: flag needs an argument: {key}\n")
            flags[key], at = args[at + 1], at + 1
        else:
            flags[key] = value if eq else "true"
        at += 1
    return words, flags


def _helm_list(state: Dict[str, Any], rest: List[str], namespace: str) -> int:
    _, flags = _helm_flags(rest[1:], {"-o": True, "--output": True, "-a": False, "--all": False, "-A": False,
                                      "--all-namespaces": False, "-m": True, "--max": True, "-q": False})
    spaces = [n for n in [state["namespace"], *(state.get("namespaces") or {})]] \
        if "-A" in flags or "--all-namespaces" in flags else [namespace]
    shown = [(n, r) for n in spaces for r in ((_ns(state, n) or {}).get("helm") or [])
             if "-a" in flags or "--all" in flags or r["status"] in ("deployed", "failed")]
    if (flags.get("-o") or flags.get("--output")) != "json":
        _out("NAME\tNAMESPACE\tREVISION\tUPDATED\tSTATUS\tCHART\tAPP VERSION\n"
             + "".join(f"{r['name']}\t{n}\t{r['revision']}\t{UPDATED}\t{r['status']}\t{r['chart']}\t{r['app_version']}\n"
                       for n, r in shown))
        return 0
    _out(json.dumps([{"name": r["name"], "namespace": n, "revision": r["revision"], "updated": UPDATED,
                      "status": r["status"], "chart": r["chart"], "app_version": r["app_version"]} for n, r in shown]) + "\n")
    return 0


def _helm_release(releases: List[Dict[str, Any]], rest: List[str], namespace: str) -> int:
    """``status``, ``history``, ``uninstall`` and ``rollback`` of one release (coverage §4.2, component-pack.md §4.6)."""
    command = rest[0]
    known = {"-o": True, "--output": True, "--max": True} if command in ("status", "history") else \
        {"--wait": False, "--timeout": True, "--keep-history": False, "--history-max": True, "--cleanup-on-fail": False}
    words, flags = _helm_flags(rest[1:], known)
    if not words or len(words) > (2 if command == "rollback" else 1):
        raise Exit(1, f'Error: "helm {command}" requires {"1 or 2 arguments" if command == "rollback" else "1 argument"}\n')
    release = next((r for r in releases if r["name"] == words[0]), None)
    if release is None:
        raise Exit(1, f"Error: uninstall: Release not loaded: {words[0]}: release: not found\n" if command == "uninstall"
                   else "Error: release: not found\n")
    if command == "uninstall":  # without --keep-history its records go too (the history is lost)
        releases.remove(release)
        _log({"event": "helm-uninstall", "release": words[0], "namespace": namespace})
        _out(f'release "{words[0]}" uninstalled\n')
        return 0
    if command == "rollback":
        target = words[1] if len(words) > 1 else "0"
        if not target.isdigit():
            raise Exit(1, f'Error: strconv.Atoi: parsing "{target}": invalid syntax\n')
        failed = fakehelm.rollback(releases, words[0], int(target))
        if failed:
            raise Exit(1, failed)
        _log({"event": "helm-rollback", "release": words[0], "namespace": namespace, "to": int(target)})
        _out("Rollback was a success! Happy Helming!\n")
        return 0
    revisions = fakehelm.history(release)
    if command == "history":
        rows = [{"revision": int(r["revision"]), "updated": UPDATED, "status": r["status"], "chart": r["chart"],
                 "app_version": release.get("app_version", ""), "description": r.get("description", "")} for r in revisions]
        rows = rows[-int(flags["--max"]):] if flags.get("--max", "").isdigit() and int(flags["--max"]) else rows
        if (flags.get("-o") or flags.get("--output")) == "json":
            _out(json.dumps(rows, separators=(",", ":")) + "\n")  # Go's json.Marshal: compact
        else:
            _out("REVISION\tUPDATED\tSTATUS\tCHART\tAPP VERSION\tDESCRIPTION\n" + "".join(
                f"{r['revision']}\t{UPDATED}\t{r['status']}\t{r['chart']}\t{r['app_version']}\t{r['description']}\n"
                for r in rows))
        return 0
    _out(f"NAME: {release['name']}\nLAST DEPLOYED: Sun Nov  1 10:10:10 2026\nNAMESPACE: {namespace}\n"
         f"STATUS: {release['status']}\nREVISION: {release['revision']}\n")
    return 0


# --------------------------------------------------------------------------- kubectl


def kubectl_main(argv: List[str]) -> int:
    return _main(_kubectl, argv)


def _meta(name: str, namespace: str, **extra: Any) -> Dict[str, Any]:
    return {"name": name, "namespace": namespace, "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
            "resourceVersion": "4711", "creationTimestamp": "2026-11-01T10:10:10Z",
            "managedFields": [{"manager": "helm", "operation": "Update"}], **extra}


def _cluster_meta(name: str) -> Dict[str, Any]:
    """A cluster-scoped object's metadata (a PV's): no namespace."""
    return {k: v for k, v in _meta(name, "").items() if k != "namespace"}


def _list(items: List[Dict[str, Any]]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}) + "\n"


def _kubectl(argv: List[str]) -> int:
    rest, namespace, _ = _globals(argv)
    _log({"tool": "kubectl", "argv": argv})
    if rest[:1] == ["version"]:
        client = {"major": "1", "minor": "36", "gitVersion": "v1.36.2"}
        with _state() as state:
            down = state["faults"].get("api_refused")
        if down:
            _out(json.dumps({"clientVersion": client}) + "\n")
            raise Exit(1, REFUSED + "\n")
        _out(json.dumps({"clientVersion": client, "serverVersion": client}) + "\n")
        return 0
    with _state() as state:
        if state["faults"].get("api_refused"):
            raise Exit(1, REFUSED + "\n")
        if rest[:1] == ["get"]:
            return _get(state, rest[1:], namespace)
        if rest[:1] == ["scale"]:
            return _scale(state, rest[1:], namespace)
        if rest[:1] == ["create"]:
            return _create(state, rest[1:], namespace)
    if rest[:1] == ["exec"]:
        return _exec(rest[1:], namespace)
    raise Exit(1, f'error: unknown command "{rest[0] if rest else ""}" for "kubectl"\n')


def _flags(args: List[str], known: Dict[str, bool], command: str) -> Tuple[List[str], Dict[str, str]]:
    """(positional arguments, flags) of a kubectl command; ``known``: flag -> takes a value (``-o json``, ``-ojson``,
    ``--output=json``). An unknown flag fails as kubectl's does."""
    words, flags, at = [], {}, 0
    while at < len(args):
        arg = args[at]
        key, eq, value = arg.partition("=")
        if not arg.startswith("-"):
            words.append(arg)
        elif not arg.startswith("--") and len(arg) > 2 and known.get(arg[:2]):
            flags[arg[:2]] = arg[2:]
        elif key not in known:
            raise Exit(1, (f"error: unknown flag: {key}\n" if arg.startswith("--") else
                           f"error: unknown shorthand flag: '{arg[1:2]}' in {arg}\n")
                       + f"See 'kubectl {command} --help' for usage.\n")
        elif known[key] and not eq:
            if at + 1 >= len(args):
                raise Exit(1, f"error: flag needs an argument: {key}\nSee 'kubectl {command} --help' for usage.\n")
            flags[key], at = args[at + 1], at + 1
        else:
            flags[key] = value if eq else "true"
        at += 1
    return words, flags


GET_FLAGS = {"-o": True, "--output": True, "-l": True, "--selector": True, "-A": False, "--all-namespaces": False}


def _get(state: Dict[str, Any], args: List[str], namespace: str) -> int:
    words, flags = _flags(args, GET_FLAGS, "get")
    output = flags.get("-o") or flags.get("--output") or ""
    if output not in ("json", "name") and not output.startswith("jsonpath="):
        raise Exit(1, "fake kubectl: only -o json, -o name and -o jsonpath={.a.b} are emulated\n")
    kinds = (words[0] if words else "").split(",")
    spaces = [state["namespace"], *(state.get("namespaces") or {})] if {"-A", "--all-namespaces"} & set(flags) \
        else [namespace]
    items: List[Dict[str, Any]] = []
    plural = ""
    for kind in kinds:
        for space in spaces[:1] if kind in ("pv", "pvs", "persistentvolume", "persistentvolumes") else spaces:
            found, plural = _items(state, kind, space)
            items += found
    selector = flags.get("-l") or flags.get("--selector")
    if selector:
        items = [i for i in items if _selects(selector, i["metadata"].get("labels") or {})]
    return _named(items, words[1:], plural, output)


def _items(state: Dict[str, Any], kind: str, namespace: str) -> Tuple[List[Dict[str, Any]], str]:
    """The objects of one kind in one namespace (PVs: of the cluster), as ``kubectl get -o json`` lists them."""
    space, faults = _space(state, namespace), state["faults"]
    if kind in ("pods", "pod", "po"):
        items = []
        for pod, spec in space["pods"].items():
            ready = spec["ready"] and faults.get("pod_not_ready") != pod
            items.append({"metadata": _meta(pod, namespace, labels=spec["labels"]),
                          "spec": {"containers": [{"name": c} for c in spec["containers"]]},
                          "status": {"phase": "Running", "containerStatuses": [
                              {"name": c, "ready": ready} for c in spec["containers"]]}})
        return items, "pods"
    if kind in ("statefulsets", "statefulset", "sts", "deployments", "deployment", "deploy"):
        stateful = kind.startswith(("stateful", "sts"))
        items = []
        for obj, spec in (space["statefulsets"] if stateful else space["deployments"]).items():
            pods = [p for p in space["pods"] if p.startswith(obj + "-")]
            ready = sum(1 for p in pods if space["pods"][p]["ready"] and faults.get("pod_not_ready") != p)
            template = {"metadata": {"labels": spec.get("labels") or {"app": obj}},
                        "spec": {"containers": [{"name": c} for c in spec.get("containers") or [obj]]}}
            items.append({"metadata": _meta(obj, namespace, labels=spec.get("labels") or {"app": obj}),
                          "spec": {"replicas": spec["replicas"], "template": template},
                          "status": {"replicas": spec["replicas"], "readyReplicas": min(ready, spec["replicas"])}})
        return items, "statefulsets.apps" if stateful else "deployments.apps"
    if kind in ("configmap", "configmaps", "cm"):
        return [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(cm, namespace), "data": data}
                for cm, data in space["configmaps"].items()], "configmaps"
    if kind in ("secrets", "secret"):
        plain = [{"apiVersion": "v1", "kind": "Secret", "type": s["type"], "data": s["data"],
                  "metadata": _meta(s["name"], namespace, ownerReferences=[{"kind": "Job", "name": "bootstrap"}])}
                 for s in space["secrets"]]
        helm = [{"apiVersion": "v1", "kind": "Secret", "type": r["type"], "data": r["data"],
                 "metadata": _meta(r["name"], namespace, labels=r["labels"])}
                for r in fakehelm.records(space["helm"], namespace)]
        return plain + helm, "secrets"
    if kind in ("pv", "pvs", "persistentvolume", "persistentvolumes"):
        return [{"apiVersion": "v1", "kind": "PersistentVolume", "metadata": _cluster_meta(v["name"]),
                 "spec": {"nfs": {"server": "nfs.example.com", "path": v["path"]}, "persistentVolumeReclaimPolicy": "Retain",
                          "claimRef": {"kind": "PersistentVolumeClaim", "namespace": v["namespace"], "name": v["claim"]},
                          "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany"]},
                 "status": {"phase": "Bound"}} for v in state.get("pvs") or []], "persistentvolumes"
    if kind in ("pvc", "pvcs", "persistentvolumeclaim", "persistentvolumeclaims"):
        return [{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": _meta(v["claim"], namespace),
                 "spec": {"volumeName": v["name"], "accessModes": ["ReadWriteMany"]}, "status": {"phase": "Bound"}}
                for v in state.get("pvs") or [] if v["namespace"] == namespace], "persistentvolumeclaims"
    raise Exit(1, f'error: the server doesn\'t have a resource type "{kind}"\n')


def _selects(selector: str, labels: Dict[str, str]) -> bool:
    """An equality-based label selector (``a=b,c!=d,e,!f``)."""
    for term in selector.split(","):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _named(items: List[Dict[str, Any]], names: List[str], plural: str, output: str = "json") -> int:
    """What ``kubectl get`` prints: the list, the one object named, or a List of those named (each one missing is an
    error on stderr, exit 1, the others printed)."""
    found = [i for n in names for i in items if i["metadata"]["name"] == n]
    missing = [n for n in names if not any(i["metadata"]["name"] == n for i in items)]
    shown: Any = found[0] if len(names) == 1 and found else json.loads(_list(found if names else items))
    if names and not found:
        shown = None
    if output == "name":
        singular = plural.split(".", 1)[0][:-1] + ("." + plural.split(".", 1)[1] if "." in plural else "")
        _out("".join(f"{singular}/{i['metadata']['name']}\n" for i in (found if names else items)))
    elif output == "json" and shown is not None:
        _out(json.dumps(shown) + "\n")
    elif shown is not None:
        _out(_jsonpath(shown, output[len("jsonpath="):]))
    if missing:
        raise Exit(1, "".join(f'Error from server (NotFound): {plural} "{n}" not found\n' for n in missing))
    return 0


def _jsonpath(value: Any, template: str) -> str:
    """``-o jsonpath={.a.b}``: the value as kubectl prints it (a string as it is, no newline after)."""
    if not (template.startswith("{.") and template.endswith("}")) or "[" in template:
        raise Exit(1, "fake kubectl: only -o jsonpath={.a.b} is emulated\n")
    for key in template[2:-1].split("."):
        if not isinstance(value, dict) or key not in value:
            raise Exit(1, f'error: error executing jsonpath "{template}": Error executing template: {key} is not found\n')
        value = value[key]
    return value if isinstance(value, str) else json.dumps(value)


def _scale(state: Dict[str, Any], args: List[str], namespace: str) -> int:
    target = args[0] if args else ""
    kind, _, name = target.partition("/")
    replicas = next((a.split("=", 1)[1] for a in args if a.startswith("--replicas=")), None)
    if replicas is None and "--replicas" in args:
        replicas = args[args.index("--replicas") + 1]
    if not name or replicas is None or not replicas.isdigit():
        raise Exit(1, "error: --replicas=COUNT RESOURCE is required\n")
    space = _space(state, namespace)
    table = space["statefulsets"] if kind in ("statefulset", "sts") else space["deployments"]
    plural = "statefulset.apps" if kind in ("statefulset", "sts") else "deployment.apps"
    if name not in table:
        raise Exit(1, f'Error from server (NotFound): {plural.split(".")[0]}s.apps "{name}" not found\n')
    table[name]["replicas"] = int(replicas)
    _log({"event": "scale", "kind": kind, "name": name, "replicas": int(replicas)})
    _out(f"{plural}/{name} scaled\n")
    return 0


def _create(state: Dict[str, Any], args: List[str], namespace: str) -> int:
    """``kubectl create -f FILE|-``: Secrets (a ``List`` of them too); a Helm release record joins its release's
    history. Errors per object as kubectl words them; exit 1 when one failed. The fake reads JSON only
    (which is YAML; real YAML it cannot read)."""
    words, flags = _flags(args, {"-f": True, "--filename": True, "--save-config": False}, "create")
    source = flags.get("-f") or flags.get("--filename")
    if words or not source:
        raise Exit(1, "error: must specify one of -f and -k\n" if not words else "fake kubectl: only create -f is emulated\n")
    try:
        text = sys.stdin.read() if source == "-" else open(source, encoding="utf-8").read()
    except FileNotFoundError:
        raise Exit(1, f'error: the path "{source}" does not exist\n') from None
    try:
        document = json.loads(text)
    except ValueError as error:
        raise Exit(1, f"error: error parsing {source}: the fake reads JSON only ({error})\n") from None
    objects = document.get("items") or [] if document.get("kind") == "List" else [document]
    space, errors, created = _ns(state, namespace), [], []
    for obj in objects:
        meta = obj.get("metadata") or {}
        name = str(meta.get("name"))
        where = f'error when creating "{source}"'
        if meta.get("namespace") not in (None, namespace):
            raise Exit(1, f'error: the namespace from the provided object "{meta["namespace"]}" does not match the namespace '
                          f'"{namespace}". You must pass \'--namespace={meta["namespace"]}\' to perform this operation.\n')
        if obj.get("kind") != "Secret":
            raise Exit(1, f"fake kubectl: create of a {obj.get('kind')} is not emulated\n")
        if space is None:
            errors.append(f'Error from server (NotFound): {where}: namespaces "{namespace}" not found')
        elif "resourceVersion" in meta:
            errors.append(f"Error from server (BadRequest): {where}: resourceVersion should not be set on objects to be created")
        elif name in {s["name"] for s in space["secrets"]} | {r["name"] for r in fakehelm.records(space["helm"], namespace)}:
            errors.append(f'Error from server (AlreadyExists): {where}: secrets "{name}" already exists')
        elif obj.get("type") == fakehelm.TYPE:
            try:
                fakehelm.add_record(space["helm"], name, meta.get("labels") or {}, str((obj.get("data") or {}).get("release")))
            except ValueError as error:
                raise Exit(1, f"fake kubectl: {error}\n") from None
            created.append(name)
        else:
            space["secrets"].append({"name": name, "type": obj.get("type", "Opaque"), "data": obj.get("data") or {}})
            created.append(name)
    _log({"event": "create", "namespace": namespace, "created": created, "errors": len(errors)})
    _out("".join(f"secret/{name} created\n" for name in created))
    sys.stderr.write("".join(e + "\n" for e in errors))  # what was created stays (the state is saved)
    return 1 if errors else 0


def _exec(args: List[str], namespace: str) -> int:
    if "--" not in args:
        raise Exit(1, "error: you must specify at least one command for the container\n")
    split = args.index("--")
    options, command = args[:split], args[split + 1:]
    if "-t" in options or "-ti" in options or "-it" in options:
        raise Exit(1, "fake kubectl: a TTY would mix stderr into stdout: never -t here\n")
    pods = [o for o in options if not o.startswith("-") and options[options.index(o) - 1] != "-c"]
    container = options[options.index("-c") + 1] if "-c" in options else None
    with _state() as state:
        pod = pods[0] if pods else ""
        spec = _space(state, namespace)["pods"].get(pod)
        if spec is None:
            raise Exit(1, f'Error from server (NotFound): pods "{pod}" not found\n')
        if container is not None and container not in spec["containers"]:
            raise Exit(1, f'error: unable to upgrade connection: container not found ("{container}")\n')
    _log({"event": "exec", "pod": pod, "container": container, "command": command[:1], "stdin": "-i" in options})
    program = os.path.basename(command[0]) if command else ""
    if program == "printenv":
        env = spec["env"]
        values = [env[name] for name in command[1:] if name in env]
        _out("".join(v + "\n" for v in values))
        return 0 if len(values) == len(command[1:]) else 1
    if spec.get("shell") and (program in ("sh", "bash") and command[1:2] == ["-c"] or program in ("cat", "rm")):
        return _in_pod(namespace, pod, spec, command)
    try:
        if program == "mongosh":
            return _mongosh(pod, command[1:])
        if program in ("mongodump", "mongorestore"):
            return (_mongodump if program == "mongodump" else _mongorestore)(pod, command[1:], "-i" in options)
        if program == "bash" and command[1:2] == ["-c"] and len(command) == 3:
            return _send_request(pod, command[2])
    except Exit as failed:
        sys.stderr.write(failed.stderr)
        sys.stderr.write(f"command terminated with exit code {failed.code}\n")
        return failed.code
    sys.stderr.write(f'OCI runtime exec failed: exec failed: unable to start container process: exec: "{program}": '
                     "executable file not found in $PATH: unknown\ncommand terminated with exit code 127\n")
    return 127


def pod_root(namespace: str, pod: str, state_file: str = "") -> str:
    """The folder that stands for a pod's file system (its ``/tmp`` is ``<root>/tmp``)."""
    folder = os.path.dirname(state_file or os.environ["FAKEKUBE_STATE"])
    return os.path.join(folder, "pods", namespace, pod)


def in_pod_path(root: str, path: str) -> str:
    """A path of the pod's file system on the host (absolute in the pod; nothing outside its root)."""
    if not path.startswith("/"):
        path = "/" + path  # the container's working directory is / here
    return os.path.join(root, os.path.normpath(path).lstrip("/"))


def _in_pod(namespace: str, pod: str, spec: Dict[str, Any], command: List[str]) -> int:
    """A pod with a shell (the etcd image): ``sh -c`` runs a real shell with the pod's environment and its
    tools (``POD_BIN``: ``etcdctl``, ``etcdutl``, which write in the pod's file system); ``cat`` and ``rm``
    read and delete there."""
    root = pod_root(namespace, pod)
    program, args = os.path.basename(command[0]), command[1:]
    if program in ("sh", "bash"):
        env = {"PATH": POD_BIN + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/", **spec["env"],
               "FAKEKUBE_STATE": os.environ["FAKEKUBE_STATE"], "FAKEKUBE_LOG": os.environ.get("FAKEKUBE_LOG", ""),
               "FAKEKUBE_NAMESPACE": namespace, "FAKEKUBE_POD": pod}
        sys.stdout.flush()
        code = subprocess.call(["/bin/sh", *args], env=env, stdin=subprocess.DEVNULL)
    else:
        code = _cat(root, args) if program == "cat" else _rm(root, args)
    if code:
        sys.stderr.write(f"command terminated with exit code {code}\n")
    return code


def _cat(root: str, paths: List[str]) -> int:
    code = 0
    with contextlib.suppress(BrokenPipeError):
        for path in paths:
            try:
                with open(in_pod_path(root, path), "rb") as handle:
                    while True:
                        chunk = handle.read(1 << 16)
                        if not chunk:
                            break
                        sys.stdout.buffer.write(chunk)
            except (FileNotFoundError, IsADirectoryError) as error:
                sys.stderr.write(f"cat: {path}: {error.strerror}\n")
                code = 1
        sys.stdout.buffer.flush()
    _log({"event": "cat", "paths": paths, "rc": code})
    return code


def _rm(root: str, args: List[str]) -> int:
    force = "-f" in args
    code = 0
    for path in [a for a in args if not a.startswith("-")]:
        try:
            os.unlink(in_pod_path(root, path))
        except FileNotFoundError:
            if not force:
                sys.stderr.write(f"rm: cannot remove '{path}': No such file or directory\n")
                code = 1
    _log({"event": "rm", "paths": [a for a in args if not a.startswith("-")], "rc": code})
    return code


# --------------------------------------------------------------------------- MongoDB


def _ts() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def _member_of(state: Dict[str, Any], host: str) -> str:
    name = host.split(":", 1)[0]
    sts = state["mongo"]["statefulset"]
    member = name.split(".", 1)[0]
    if not member.startswith(sts + "-") or member not in state["pods"] or (
            "." in name and name != f"{member}.{sts}.{state['namespace']}.svc.cluster.local"):
        raise Exit(1, f"MongoServerSelectionError: getaddrinfo ENOTFOUND {name}\n")
    return member


def _check_tls(state: Dict[str, Any], pod: str, options: Dict[str, str], flags: List[str]) -> None:
    """x509 as the pod's env vars name it (--tls* for mongosh; --ssl* or --tls* for the tools: [U])."""
    env = state["pods"][pod]["env"]
    key = options.get("--tlsCertificateKeyFile") or options.get("--sslPEMKeyFile")
    ca = options.get("--tlsCAFile") or options.get("--sslCAFile")
    if not ({"--tls", "--ssl"} & set(flags)) or key != env.get("MONGO_net_tls_certificateKeyFile") or \
            ca != env.get("MONGO_net_tls_CAFile"):
        raise Exit(1, "MongoNetworkError: connection closed (the server requires TLS with a client certificate)\n")
    if options.get("--authenticationMechanism") != "MONGODB-X509" or options.get("--authenticationDatabase") != "$external" \
            or options.get("-u", USER_DN) != USER_DN:
        raise Exit(1, "MongoServerError: Authentication failed.\n")


def _parse(args: List[str], with_value: Tuple[str, ...]) -> Tuple[Dict[str, str], List[str]]:
    options: Dict[str, str] = {}
    flags: List[str] = []
    at = 0
    while at < len(args):
        arg = args[at]
        if "=" in arg and arg.split("=", 1)[0] in with_value:
            key, value = arg.split("=", 1)
            options[key] = value
        elif arg in with_value:
            if at + 1 >= len(args):
                raise Exit(1, f"error parsing command line options: expected argument for flag `{arg}'\n")
            options[arg] = args[at + 1]
            at += 1
        elif arg.startswith("-"):
            flags.append(arg)
        else:
            raise Exit(1, f"error parsing positional arguments: unexpected {arg!r}\n")
        at += 1
    return options, flags


MONGO_VALUE_OPTIONS = ("--tlsCertificateKeyFile", "--tlsCAFile", "--sslPEMKeyFile", "--sslCAFile", "--host",
                       "--authenticationDatabase", "--authenticationMechanism", "-u", "--username", "--eval", "--uri",
                       "--readPreference", "--db", "--json")


def _mongosh(pod: str, args: List[str]) -> int:
    options, flags = _parse(args, MONGO_VALUE_OPTIONS)
    expression = options.get("--eval", "")
    with _state() as state:
        _check_tls(state, pod, options, flags)
        member = _member_of(state, options.get("--host", ""))
        mongo = state["mongo"]
        locks = mongo["locks"]
        admin = "db.getSiblingDB('admin')."
        if expression == "EJSON.stringify(rs.status())":
            sts = mongo["statefulset"]
            result: Any = {"set": "rs0", "ok": 1, "members": [
                {"_id": i, "name": f"{p}.{sts}.{state['namespace']}.svc.cluster.local:27017",
                 "health": 0 if state["faults"].get("pod_not_ready") == p else 1,
                 "stateStr": "PRIMARY" if p == mongo["primary"] else "SECONDARY"}
                for i, p in enumerate(sorted(q for q in state["pods"] if q.startswith(sts + "-")))]}
        elif expression == f"EJSON.stringify({admin}fsyncLock())":
            locks[member] = locks.get(member, 0) + 1
            _log({"event": "fsyncLock", "member": member, "lockCount": locks[member]})
            result = {"info": "now locked against writes, use db.fsyncUnlock() to unlock", "lockCount": locks[member],
                      "ok": 1}
        elif expression == f"EJSON.stringify({admin}fsyncUnlock())":
            if not locks.get(member):
                raise Exit(1, "MongoServerError: fsyncUnlock called when not locked\n")
            locks[member] -= 1
            _log({"event": "fsyncUnlock", "member": member, "lockCount": locks[member]})
            result = {"info": "fsyncUnlock completed", "lockCount": locks[member], "ok": 1}
        elif expression == f"EJSON.stringify({admin}currentOp().fsyncLock === true)":
            result = bool(locks.get(member))
        elif expression == PRIMARY_JS:  # RESTORE.md: a string result, printed as it is
            primary = mongo["primary"] if mongo["primary"] in state["pods"] else None
            if primary is None:
                raise Exit(1, "TypeError: Cannot read properties of undefined (reading 'name')\n")
            _out(primary + "\n")
            return 0
        elif expression == "EJSON.stringify(db.version())":
            result = mongo["version"]
        elif expression == f"EJSON.stringify({FCV_JS})":
            result = mongo.get("fcv") or ".".join(mongo["version"].split(".")[:2])
        elif expression == f"EJSON.stringify({COUNTS_JS})":
            result = {db: {c: len(docs) for c, docs in colls.items()} for db, colls in mongo["databases"].items()}
        else:
            raise Exit(1, f"SyntaxError: the fake mongosh does not know {expression[:60]!r}\n")
    _out(json.dumps(result) + "\n")
    return 0


def _target(state: Dict[str, Any], options: Dict[str, str]) -> str:
    """The member a tool reads: the URI's host when directConnection=true; otherwise the replica set
    is discovered and the read preference picks (a secondary other than the seed, to be strict)."""
    uri = options.get("--uri", "")
    if not uri.startswith("mongodb://"):
        raise Exit(1, f"error parsing uri: scheme must be \"mongodb\" or \"mongodb+srv\" ({uri[:40]!r})\n")
    hosts, _, query = uri[len("mongodb://"):].partition("/")
    params = dict(p.split("=", 1) for p in query.lstrip("?").split("&") if "=" in p)
    seed = _member_of(state, hosts.split(",")[0])
    if params.get("directConnection") == "true":
        return seed
    preference = params.get("readPreference") or options.get("--readPreference", "primary")
    mongo = state["mongo"]
    secondaries = sorted(p for p in state["pods"] if p.startswith(mongo["statefulset"] + "-") and p != mongo["primary"])
    if preference.startswith("secondary"):
        others = [s for s in secondaries if s != seed]
        return (others or secondaries or [mongo["primary"]])[0]
    return mongo["primary"]


def _mongodump(pod: str, args: List[str], _stdin: bool) -> int:
    options, flags = _parse(args, MONGO_VALUE_OPTIONS)
    if "--archive" not in flags or "--gzip" not in flags:
        raise Exit(1, "fake mongodump: only --archive --gzip to stdout is emulated\n")
    with _state() as state:
        _check_tls(state, pod, options, flags)
        member = _target(state, options)
        databases = state["mongo"]["databases"]
        dies_after = state["faults"].get("dump_dies_after")
        delay = float(state["faults"].get("dump_delay") or 0)
        locked = state["mongo"]["locks"].get(member, 0)
    _log({"event": "mongodump", "member": member, "lockCount": locked, "oplog": "--oplog" in flags})
    time.sleep(delay)
    out = gzip.GzipFile(fileobj=sys.stdout.buffer, mode="wb")
    out.write(ARCHIVE_MAGIC)
    dumped = 0
    for db, collections in databases.items():
        for coll, docs in collections.items():
            if dies_after is not None and dumped >= dies_after:
                out.flush()
                sys.stdout.buffer.flush()
                raise Exit(1, f"{_ts()}\tFailed: error writing data for collection `{db}.{coll}` to disk: "
                              "connection reset by peer\n")
            sys.stderr.write(f"{_ts()}\twriting {db}.{coll} to archive on stdout\n")
            out.write(json.dumps({"db": db, "collection": coll, "documents": docs}).encode() + b"\n")
            sys.stderr.write(f"{_ts()}\tdone dumping {db}.{coll} ({len(docs)} document{'' if len(docs) == 1 else 's'})\n")
            dumped += 1
    out.close()
    sys.stdout.buffer.flush()
    return 0


def _repeated(args: List[str], name: str) -> List[Tuple[str, str]]:
    """Every value of an option given more than once (``--nsExclude X --nsExclude Y``)."""
    out = []
    for at, arg in enumerate(args):
        if arg == name and at + 1 < len(args):
            out.append((name, args[at + 1]))
        elif arg.startswith(name + "="):
            out.append((name, arg.split("=", 1)[1]))
    return out


def _mongorestore(pod: str, args: List[str], stdin: bool) -> int:
    args = [a for i, a in enumerate(args) if a != "--nsExclude" and not a.startswith("--nsExclude=")
            and not (i > 0 and args[i - 1] == "--nsExclude")] + [f"--nsExclude={v}" for _, v in _repeated(args, "--nsExclude")]
    options, flags = _parse([a for a in args if not a.startswith("--nsExclude=")], MONGO_VALUE_OPTIONS)
    if not stdin:
        raise Exit(1, f"{_ts()}\tFailed: stream or file does not appear to be a mongodump archive\n")
    with _state() as state:
        _check_tls(state, pod, options, flags)
        _target(state, options)
        failed = int(state["faults"].get("restore_failed_docs") or 0)
    try:
        raw = gzip.decompress(sys.stdin.buffer.read())
    except (OSError, EOFError):
        raise Exit(1, f"{_ts()}\tFailed: stream or file does not appear to be a mongodump archive\n") from None
    if not raw.startswith(ARCHIVE_MAGIC):
        raise Exit(1, f"{_ts()}\tFailed: stream or file does not appear to be a mongodump archive\n")
    excluded = [value for key, value in _repeated(args, "--nsExclude")]
    entries = [json.loads(line) for line in raw[len(ARCHIVE_MAGIC):].splitlines()]
    entries = [e for e in entries if not any(_match(p, f"{e['db']}.{e['collection']}") for p in excluded)]
    total = 0
    for entry in entries:
        count = len(entry["documents"])
        total += count
        sys.stderr.write(f"{_ts()}\tfinished restoring {entry['db']}.{entry['collection']} ({count} documents, 0 failures)\n")
    restored = 0 if "--dryRun" in flags else total - failed
    if "--dryRun" not in flags:
        with _state() as state:
            member = _target(state, options)
            if member != state["mongo"]["primary"]:
                raise Exit(1, f"{_ts()}\tFailed: (NotWritablePrimary) not primary\n")
            databases = state["mongo"]["databases"]
            for entry in entries:
                collections = databases.setdefault(entry["db"], {})
                if "--drop" in flags or entry["collection"] not in collections:
                    collections[entry["collection"]] = entry["documents"]
                else:
                    known = {d["_id"] for d in collections[entry["collection"]]}
                    collections[entry["collection"]] += [d for d in entry["documents"] if d["_id"] not in known]
    _log({"event": "mongorestore", "dryRun": "--dryRun" in flags, "documents": total, "drop": "--drop" in flags,
          "excluded": excluded})
    sys.stderr.write(f"{_ts()}\t{restored} document(s) restored successfully. {failed} document(s) failed to restore.\n")
    return 0


# --------------------------------------------------------------------------- OpenSearch


def _send_request(pod: str, script: str) -> int:
    words = shlex.split(script)
    if not words or words[0] != SEND_REQUEST or len(words) < 3:
        raise Exit(127, f"bash: {words[0] if words else ''}: No such file or directory\n")
    if not pod.startswith(("opensearch-cluster-client", "opensearch-cluster-master")):
        raise Exit(127, f"bash: {SEND_REQUEST}: No such file or directory\n")
    method, path = words[1], words[2]
    body = json.loads(words[words.index("-d") + 1]) if "-d" in words else None
    with _state() as state:
        search = state["opensearch"]
        _log({"event": "sendRequest", "method": method, "path": path, "body": body})
        result = _opensearch(state, search, method, path.split("?", 1)[0], path, body)
    # the curl meter sendRequest.sh may print before the JSON ([C] HCL-CP2, stream not known: [U])
    _out("  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"
         + (result if isinstance(result, str) else json.dumps(result)) + "\n")
    return 0


def _opensearch(state: Dict[str, Any], search: Dict[str, Any], method: str, path: str, full: str,
                body: Optional[Dict[str, Any]]) -> Any:
    parts = [p for p in path.split("/") if p]
    if method == "GET" and not parts:
        return {"name": "opensearch-cluster-client-0", "version": {"distribution": "opensearch", "number": search["version"]}}
    if method == "GET" and parts == ["_cat", "indices"]:
        red = state["faults"].get("red_index")
        rows = [{"health": "red" if name == red else idx["health"], "status": idx.get("status", "open"), "index": name,
                 "docs.count": str(idx["docs"])} for name, idx in search["indices"].items()]
        return rows if "format=json" in full else _cat_text(rows, full)
    if parts[:1] == ["_snapshot"] and len(parts) == 2 and method == "PUT":
        if not body or body.get("type") != "fs" or body.get("settings", {}).get("location") != "/backup":
            return {"error": {"type": "repository_exception", "reason": "[fs] location is missing"}, "status": 500}
        search["repos"][parts[1]] = body["settings"]
        return {"acknowledged": True}
    if parts[:1] == ["_snapshot"] and len(parts) == 1 or parts == ["_snapshot", "_all"]:
        return {name: {"type": "fs", "settings": {k: str(v).lower() if isinstance(v, bool) else v for k, v in s.items()}}
                for name, s in search["repos"].items()}
    if parts[:1] == ["_snapshot"] and len(parts) == 3 and method == "PUT":
        repo, name = parts[1], parts[2]
        if repo not in search["repos"]:
            return {"error": {"type": "repository_missing_exception", "reason": f"[{repo}] missing"}, "status": 404}
        if name in search["snapshots"]:
            return _name_taken(repo, name)
        if "wait_for_completion=true" not in full:
            return {"accepted": True}
        wanted = [i for i in str((body or {}).get("indices", "*")).split(",") if i]
        indices = [i for i in search["indices"] if any(_match(w, i) for w in wanted)]
        partial = bool(state["faults"].get("snapshot_partial"))
        snap_uuid = uuid.uuid4().hex[:22]
        folder = os.path.join(state["pv_root"], "opensearchbackup")
        os.makedirs(os.path.join(folder, "indices"), exist_ok=True)
        with open(os.path.join(folder, f"snap-{snap_uuid}.dat"), "w", encoding="utf-8") as handle:
            json.dump({"snapshot": name, "indices": {i: search["indices"][i] for i in indices}}, handle)
        with open(os.path.join(folder, f"meta-{snap_uuid}.dat"), "w", encoding="utf-8") as handle:
            handle.write(name)
        generation = len(search["snapshots"])
        with open(os.path.join(folder, f"index-{generation}"), "w", encoding="utf-8") as handle:
            json.dump({"snapshots": [{"name": n, "uuid": s["uuid"]} for n, s in search["snapshots"].items()]
                       + [{"name": name, "uuid": snap_uuid}]}, handle)
        with open(os.path.join(folder, "index.latest"), "wb") as handle:
            handle.write(generation.to_bytes(8, "big"))
        shards = {"total": 2 * len(indices), "failed": 1 if partial else 0,
                  "successful": 2 * len(indices) - (1 if partial else 0)}
        record = {"snapshot": name, "uuid": snap_uuid, "version": search["version"], "indices": indices,
                  "include_global_state": bool((body or {}).get("include_global_state", True)),
                  "state": "PARTIAL" if partial else "SUCCESS",
                  "failures": [{"index": indices[0], "shard_id": 0, "reason": "IndexShardSnapshotFailedException"}]
                  if partial and indices else [], "shards": shards}
        search["snapshots"][name] = record
        return {"snapshot": record}
    if method == "POST" and len(parts) == 2 and parts[1] == "_close":
        if parts[0] in ("_all", "*"):
            return {"error": {"type": "illegal_argument_exception", "reason": "closing _all is not what cnxbackup does"},
                    "status": 400}
        for name in parts[0].split(","):
            if name not in search["indices"]:
                return {"error": {"type": "index_not_found_exception", "reason": f"no such index [{name}]"}, "status": 404}
            search["indices"][name]["status"] = "close"
        return {"acknowledged": True, "shards_acknowledged": True}
    if method == "POST" and len(parts) == 4 and parts[0] == "_snapshot" and parts[3] == "_restore":
        repo, name = parts[1], parts[2]
        if repo not in search["repos"]:
            return {"error": {"type": "repository_missing_exception", "reason": f"[{repo}] missing"}, "status": 404}
        folder = os.path.join(state["pv_root"], "opensearchbackup")
        held = None
        for entry in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if entry.startswith("snap-") and entry.endswith(".dat"):
                with open(os.path.join(folder, entry), encoding="utf-8") as handle:
                    data = json.load(handle)
                if data.get("snapshot") == name:
                    held = data
        if held is None:
            return {"error": {"type": "snapshot_missing_exception", "reason": f"[{repo}:{name}] is missing"}, "status": 404}
        wanted = [i for i in str((body or {}).get("indices", "")).split(",") if i] or list(held["indices"])
        for index in wanted:
            current = search["indices"].get(index)
            if current is not None and current.get("status", "open") == "open":
                return {"error": {"type": "snapshot_restore_exception", "reason": f"cannot restore index [{index}] "
                                  "because an open index with same name already exists in the cluster"}, "status": 500}
        for index in wanted:
            search["indices"][index] = dict(held["indices"][index], status="open")
        return {"snapshot": {"snapshot": name, "indices": wanted,
                             "shards": {"total": 2 * len(wanted), "failed": 0, "successful": 2 * len(wanted)}}}
    if parts[:1] == ["_snapshot"] and len(parts) == 3 and method == "DELETE":
        # DELETE /_snapshot/REPO/NAME: {"acknowledged": true}, or snapshot_missing_exception (404)
        repo, name = parts[1], parts[2]
        if repo not in search["repos"]:
            return {"error": {"type": "repository_missing_exception", "reason": f"[{repo}] missing"}, "status": 404}
        if name not in search["snapshots"]:
            return {"error": {"type": "snapshot_missing_exception", "reason": f"[{repo}:{name}] is missing"}, "status": 404}
        gone = search["snapshots"].pop(name)
        folder = os.path.join(state["pv_root"], "opensearchbackup")
        for leftover in (f"snap-{gone['uuid']}.dat", f"meta-{gone['uuid']}.dat"):
            if os.path.exists(os.path.join(folder, leftover)):
                os.unlink(os.path.join(folder, leftover))
        return {"acknowledged": True}
    if parts[:1] == ["_snapshot"] and len(parts) == 3 and method == "GET":
        repo, name = parts[1], parts[2]
        found = [s for n, s in search["snapshots"].items() if name in ("_all", n)]
        return {"snapshots": found}
    return {"error": {"type": "invalid_request", "reason": f"no handler for {method} {path}"}, "status": 400}


def _cat_text(rows: List[Dict[str, str]], full: str) -> str:
    """A ``_cat`` answer without ``format=json``: a text table, the ``h=`` columns (all without), padded as
    OpenSearch pads them, a header line only with ``v``."""
    query = {p.partition("=")[0]: p.partition("=")[2] for p in full.partition("?")[2].split("&") if p}
    columns = [c for c in query.get("h", "").split(",") if c] or ["health", "status", "index", "docs.count"]
    table = [[str(row.get(c, "")) for c in columns] for row in rows]
    if "v" in query:
        table.insert(0, columns)
    widths = [max([len(r[i]) for r in table] + [0]) for i in range(len(columns))]
    return "\n".join(" ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)) for r in table)


def _name_taken(repo: str, name: str) -> Dict[str, Any]:
    """OpenSearch's answer to a PUT of a snapshot name the repository holds (coverage §8: type, 400 and the
    reason's words [C]; the ``[repo:name]`` prefix and the body's shape [U])."""
    reason = f"[{repo}:{name}] Invalid snapshot name [{name}], snapshot with the same name already exists"
    error = {"type": "invalid_snapshot_name_exception", "reason": reason}
    return {"error": {"root_cause": [dict(error)], **error}, "status": 400}


def _match(pattern: str, name: str) -> bool:
    if pattern.startswith("-"):
        return False
    return name == pattern or (pattern.endswith("*") and name.startswith(pattern[:-1]))
