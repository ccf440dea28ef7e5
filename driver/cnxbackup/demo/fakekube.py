"""A stand-in Component Pack cluster for the fake ``kubectl`` and ``helm`` (``fakes/``).

The state is one JSON file (``FAKEKUBE_STATE``): pods, StatefulSets and deployments of the
namespace, Helm releases with their values, the ``connections-env`` ConfigMap and the secrets,
a MongoDB replica set whose databases hold real documents, and an OpenSearch with indices, fs
repositories and snapshots written as files into the PV folder its ``/backup`` mounts. Every
call is logged (``FAKEKUBE_LOG``, JSON lines). Texts follow ``component-pack.md``: strict where
it marks a behaviour confirmed ([C]), lenient where it marks one unconfirmed ([U]). A PUT of a
snapshot name the repository holds is refused as OpenSearch does (400, ``invalid_snapshot_name_exception``).

Switchable faults (``state["faults"]``): ``api_refused`` (the API server refuses connections),
``pod_not_ready`` (a pod name), ``red_index`` (an index name), ``snapshot_partial``,
``dump_dies_after`` (collections dumped before mongodump fails), ``dump_delay`` (seconds mongodump
waits before it writes), ``restore_failed_docs``
(mongorestore exits 0 but reports failed documents).
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import gzip
import json
import os
import shlex
import sys
import time
import uuid
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from ..mongo_shell import COUNTS_JS, FCV_JS, PRIMARY_JS  # the expressions the fake mongosh evaluates (a leaf: no heavy imports)

NAMESPACE = "connections"
SEND_REQUEST = "/usr/share/opensearch/probe/sendRequest.sh"
ARCHIVE_MAGIC = b"FAKEMONGOARCHIVE1\n"
USER_DN = "C=IE,ST=Ireland,L=Dublin,O=IBM,OU=Connections-Middleware-Clients,CN=admin,emailAddress=admin@mongodb"
REFUSED = "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?"
SECRET_VALUES = ("c2VjcmV0LW1vbmdvLWtleQ==", "b3BlbnNlYXJjaC1wYXNz", "pemkey-Pass-1234")


# --------------------------------------------------------------------------- test side


def _pod(name: str, containers: List[str], labels: Dict[str, str], env: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    return {"containers": containers, "labels": labels, "ready": True, "env": env or {}}


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
                      ("orientme", "orientme-0.1.0-20261101-101010", None))],
        "configmaps": {"connections-env": {"ic-host": "connections.example.com", "mongo7-rs-members-hosts":
                                           ",".join(f"{mongo}-{i}.{mongo}" for i in range(members))}},
        "secrets": [
            {"name": "mongo-secret", "type": "Opaque", "data": {"key": SECRET_VALUES[0]}},
            {"name": "opensearch-secret", "type": "Opaque", "data": {"password": SECRET_VALUES[1]}},
            {"name": "cnx-tls-secret", "type": "kubernetes.io/tls", "data": {"tls.crt": "LS0tQ0VSVA==",
                                                                           "tls.key": "LS0tS0VZ"}},
            {"name": "sh.helm.release.v1.bootstrap.v3", "type": "helm.sh/release.v1", "data": {"release": "H4sI"}},
            {"name": "default-token-abcde", "type": "kubernetes.io/service-account-token", "data": {"token": "ZXlK"}},
        ],
        "faults": {},
    }
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
        releases = state["helm"] if namespace == state["namespace"] else []
    if rest[:1] == ["list"]:
        if "-o" not in rest or rest[rest.index("-o") + 1:rest.index("-o") + 2] != ["json"]:
            _out("NAME\tNAMESPACE\tREVISION\tUPDATED\tSTATUS\tCHART\tAPP VERSION\n")
            return 0
        shown = [r for r in releases if "-a" in rest or "--all" in rest or r["status"] in ("deployed", "failed")]
        _out(json.dumps([{"name": r["name"], "namespace": namespace, "revision": r["revision"],
                          "updated": "2026-11-01 10:10:10.123456789 +0000 UTC", "status": r["status"],
                          "chart": r["chart"], "app_version": r["app_version"]} for r in shown]) + "\n")
        return 0
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


# --------------------------------------------------------------------------- kubectl


def kubectl_main(argv: List[str]) -> int:
    return _main(_kubectl, argv)


def _meta(name: str, namespace: str, **extra: Any) -> Dict[str, Any]:
    return {"name": name, "namespace": namespace, "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
            "resourceVersion": "4711", "creationTimestamp": "2026-11-01T10:10:10Z",
            "managedFields": [{"manager": "helm", "operation": "Update"}], **extra}


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
    if rest[:1] == ["exec"]:
        return _exec(rest[1:], namespace)
    raise Exit(1, f'error: unknown command "{rest[0] if rest else ""}" for "kubectl"\n')


def _output_json(args: List[str]) -> None:
    if "-o" not in args or args[args.index("-o") + 1:args.index("-o") + 2] != ["json"]:
        raise Exit(1, "fake kubectl: only -o json is emulated\n")


def _get(state: Dict[str, Any], args: List[str], namespace: str) -> int:
    _output_json(args)
    kind = args[0] if args else ""
    name = args[1] if len(args) > 1 and not args[1].startswith("-") else None
    here = namespace == state["namespace"]
    faults = state["faults"]
    items: List[Dict[str, Any]] = []
    if kind in ("pods", "pod", "po"):
        for pod, spec in (state["pods"].items() if here else []):
            ready = spec["ready"] and faults.get("pod_not_ready") != pod
            items.append({"metadata": _meta(pod, namespace, labels=spec["labels"]),
                          "spec": {"containers": [{"name": c} for c in spec["containers"]]},
                          "status": {"phase": "Running", "containerStatuses": [
                              {"name": c, "ready": ready} for c in spec["containers"]]}})
        return _named(items, name, "pods", namespace)
    if kind in ("statefulsets", "statefulset", "sts", "deployments", "deployment", "deploy"):
        table = state["statefulsets"] if kind.startswith(("stateful", "sts")) else state["deployments"]
        for obj, spec in (table.items() if here else []):
            pods = [p for p in state["pods"] if p.startswith(obj + "-")]
            ready = sum(1 for p in pods if state["pods"][p]["ready"] and faults.get("pod_not_ready") != p)
            items.append({"metadata": _meta(obj, namespace), "spec": {"replicas": spec["replicas"]},
                          "status": {"replicas": spec["replicas"], "readyReplicas": min(ready, spec["replicas"])}})
        return _named(items, name, "statefulsets.apps" if kind.startswith(("stateful", "sts")) else "deployments.apps",
                      namespace)
    if kind in ("configmap", "configmaps", "cm"):
        items = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(cm, namespace), "data": data}
                 for cm, data in (state["configmaps"].items() if here else [])]
        return _named(items, name, "configmaps", namespace)
    if kind in ("secrets", "secret"):
        items = [{"apiVersion": "v1", "kind": "Secret", "type": s["type"], "data": s["data"],
                  "metadata": _meta(s["name"], namespace, ownerReferences=[{"kind": "Job", "name": "bootstrap"}])}
                 for s in (state["secrets"] if here else [])]
        return _named(items, name, "secrets", namespace)
    raise Exit(1, f'error: the server doesn\'t have a resource type "{kind}"\n')


def _named(items: List[Dict[str, Any]], name: Optional[str], plural: str, namespace: str) -> int:
    if name is None:
        _out(_list(items))
        return 0
    found = next((i for i in items if i["metadata"]["name"] == name), None)
    if found is None:
        raise Exit(1, f'Error from server (NotFound): {plural} "{name}" not found\n')
    _out(json.dumps(found) + "\n")
    return 0


def _scale(state: Dict[str, Any], args: List[str], namespace: str) -> int:
    target = args[0] if args else ""
    kind, _, name = target.partition("/")
    replicas = next((a.split("=", 1)[1] for a in args if a.startswith("--replicas=")), None)
    if replicas is None and "--replicas" in args:
        replicas = args[args.index("--replicas") + 1]
    if not name or replicas is None or not replicas.isdigit():
        raise Exit(1, "error: --replicas=COUNT RESOURCE is required\n")
    table = state["statefulsets"] if kind in ("statefulset", "sts") else state["deployments"]
    plural = "statefulset.apps" if kind in ("statefulset", "sts") else "deployment.apps"
    if namespace != state["namespace"] or name not in table:
        raise Exit(1, f'Error from server (NotFound): {plural.split(".")[0]}s.apps "{name}" not found\n')
    table[name]["replicas"] = int(replicas)
    _log({"event": "scale", "kind": kind, "name": name, "replicas": int(replicas)})
    _out(f"{plural}/{name} scaled\n")
    return 0


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
        spec = state["pods"].get(pod) if namespace == state["namespace"] else None
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
