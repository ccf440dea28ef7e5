"""``etcdctl`` and ``etcdutl`` of the fake cluster's etcd image (``fakes/pod-bin``), run by a pod's shell.

A pod's shell (``kubectl exec POD -- sh -c ...``, ``fakekube``) runs them with the pod's environment and
``FAKEKUBE_NAMESPACE``/``FAKEKUBE_POD``; paths are in the pod's file system (``fakekube.pod_root``).
What they answer follows coverage-component-pack.md §5 [C]: options from the command line or from
``ETCDCTL_*`` variables; ``snapshot save`` to one endpoint only (``snapshot must be requested to one
selected node, not multiple [..]``, exit 128), ``Snapshot saved at PATH`` on stdout, zap's JSON lines on
stderr, ``Error: ...`` and exit 5 when the save fails; with the etcd's RBAC on (Bitnami's
``ALLOW_NONE_AUTHENTICATION=no``) the root user and password are required. ``etcdutl --write-out=json
snapshot status`` prints ``{"hash":..,"revision":..,"totalKey":..,"totalSize":..}`` (etcd's etcdutl README).
A snapshot file ends with the SHA-256 of what precedes it, as etcd's do: a changed byte is found.
Every call is logged (``tool``, ``argv`` with a password masked, ``secret_in_argv``, the names of the
``ETCDCTL_*`` variables it used).
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from typing import Any, Dict, List, Tuple

from . import fakekube
from .fakekube import Exit

MAGIC = b"FAKEETCDSNAPSHOT1\n"
VERSION = "3.5.21"
VALUE_FLAGS = ("--endpoints", "--user", "--password", "--cacert", "--cert", "--key", "-w", "--write-out",
               "--dial-timeout", "--command-timeout", "--data-dir")
BARE_FLAGS = ("--insecure-skip-tls-verify", "--insecure-transport", "--debug", "--hex")


def etcdctl_main(argv: List[str]) -> int:
    return fakekube._main(_etcdctl, argv)


def etcdutl_main(argv: List[str]) -> int:
    return fakekube._main(_etcdutl, argv)


def _options(tool: str, argv: List[str]) -> Tuple[List[str], Dict[str, str]]:
    """(words, options); an option not given on the command line comes from its ``ETCDCTL_`` variable."""
    words, options, at, masked = [], {}, 0, list(argv)
    while at < len(argv):
        arg = argv[at]
        key, eq, value = arg.partition("=")
        if not arg.startswith("-"):
            words.append(arg)
        elif key in VALUE_FLAGS:
            if not eq:
                at += 1
                value = argv[at] if at < len(argv) else ""
            options[key.replace("-w", "--write-out") if key == "-w" else key] = value
            if key in ("--user", "--password"):
                masked[at] = f"{key}=***" if eq else "***"
        elif key in BARE_FLAGS:
            options[key] = "true"
        else:
            raise Exit(1, f"Error: unknown flag: {key}\n")
        at += 1
    fakekube._log({"tool": tool, "pod": os.environ.get("FAKEKUBE_POD"), "argv": masked,
                   "secret_in_argv": masked != argv, "env_used": sorted(k for k in os.environ if k.startswith("ETCDCTL_"))})
    for name in ("endpoints", "user", "password", "cacert", "cert", "key", "write-out"):
        if f"--{name}" not in options and os.environ.get("ETCDCTL_" + name.upper().replace("-", "_")):
            options[f"--{name}"] = os.environ["ETCDCTL_" + name.upper().replace("-", "_")]
    return words, options


def _zap(message: str, **fields: Any) -> None:
    sys.stderr.write(json.dumps({"level": "info", "ts": f"{time.time():.6f}", "caller": "snapshot/v3_snapshot.go:65",
                                 "msg": message, **fields}) + "\n")


def _etcdctl(argv: List[str]) -> int:
    words, options = _options("etcdctl", argv)
    if words == ["version"]:
        sys.stdout.write(f"etcdctl version: {VERSION}\nAPI version: 3.5\n")
        return 0
    if words[:2] == ["snapshot", "status"]:
        sys.stderr.write("Deprecated: Use `etcdutl snapshot status` instead.\n\n")
        return _status(words[2:], options)
    if words[:2] != ["snapshot", "save"]:
        raise Exit(1, f'Error: unknown command "{" ".join(words[:2])}" for "etcdctl"\n')
    if len(words) != 3:
        raise Exit(128, "Error: snapshot save expects one argument\n")
    endpoints = [e for e in options.get("--endpoints", "127.0.0.1:2379").split(",") if e]
    if len(endpoints) != 1:
        raise Exit(128, f"Error: snapshot must be requested to one selected node, not multiple [{' '.join(endpoints)}]\n")
    namespace, pod = os.environ["FAKEKUBE_NAMESPACE"], os.environ["FAKEKUBE_POD"]
    with fakekube._state() as state:
        space = fakekube._space(state, namespace)
        env, data, fails = space["pods"][pod]["env"], space.get("etcd") or {}, state["faults"].get("etcd_snapshot_fails")
    _check_endpoint(endpoints[0], pod, env)
    _check_user(options, env)
    if fails:
        raise Exit(5, "Error: rpc error: code = Unavailable desc = error reading from server: EOF\n")
    target = fakekube.in_pod_path(fakekube.pod_root(namespace, pod), words[2])
    part = target + ".part"
    _zap("created temporary db file", path=words[2] + ".part")
    try:
        with open(part, "wb") as handle:
            body = MAGIC + json.dumps({"member": pod, "revision": data.get("revision", 1), "keys": data.get("keys") or {}},
                                      sort_keys=True).encode() + b"\n"
            handle.write(body + hashlib.sha256(body).digest())
    except OSError as error:
        raise Exit(5, f"Error: could not open {words[2]}.part ({error.strerror})\n") from None
    _zap("fetching snapshot", endpoint=endpoints[0])
    _zap("fetched snapshot", endpoint=endpoints[0], size=f"{os.path.getsize(part)} B")
    os.replace(part, target)
    _zap("saved", path=words[2])
    sys.stdout.write(f"Snapshot saved at {words[2]}\n")
    return 0


def _check_endpoint(endpoint: str, pod: str, env: Dict[str, str]) -> None:
    """This member's own client URL, or the loopback (plain HTTP: the fake etcd has no client TLS)."""
    scheme, _, rest = endpoint.rpartition("://")
    host, _, port = rest.partition(":")
    own = {u.split("://", 1)[-1].split(":", 1)[0] for u in env.get("ETCD_ADVERTISE_CLIENT_URLS", "").split(",") if u}
    if scheme not in ("", "http") or port != "2379" or host not in own | {"127.0.0.1", "localhost"}:
        _zap("retrying of unary invoker failed", target=endpoint)
        raise Exit(5, "Error: context deadline exceeded\n")


def _check_user(options: Dict[str, str], env: Dict[str, str]) -> None:
    """With RBAC on, ``root`` and the root password (``--user root:PW`` or ``--user root --password PW``)."""
    if env.get("ALLOW_NONE_AUTHENTICATION") != "no":
        return
    user = options.get("--user", "")
    name, _, password = user.partition(":")
    password = password or options.get("--password", "")
    if not name:
        raise Exit(5, "Error: etcdserver: user name is empty\n")
    if name != "root" or password != env.get("ETCD_ROOT_PASSWORD"):
        raise Exit(5, "Error: etcdserver: authentication failed, invalid user ID or password\n")


def _etcdutl(argv: List[str]) -> int:
    words, options = _options("etcdutl", argv)
    if words == ["version"]:
        sys.stdout.write(f"etcdutl version: {VERSION}\nAPI version: 3.5\n")
        return 0
    if words[:2] == ["snapshot", "status"]:
        return _status(words[2:], options)
    raise Exit(1, f'Error: unknown command "{" ".join(words[:2])}" for "etcdutl"\n')


def _status(words: List[str], options: Dict[str, str]) -> int:
    if len(words) != 1:
        raise Exit(1, "Error: snapshot status requires exactly one argument\n")
    path = fakekube.in_pod_path(fakekube.pod_root(os.environ["FAKEKUBE_NAMESPACE"], os.environ["FAKEKUBE_POD"]), words[0])
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as error:
        raise Exit(1, f"Error: stat {words[0]}: {str(error.strerror).lower()}\n") from None
    body, digest = raw[:-32], raw[-32:]
    if not body.startswith(MAGIC) or hashlib.sha256(body).digest() != digest:
        raise Exit(1, "Error: snapshot file integrity check failed\n")  # [U]: the exact words are not confirmed
    data = json.loads(body[len(MAGIC):])
    status = {"hash": int.from_bytes(digest[:4], "big"), "revision": data["revision"], "totalKey": len(data["keys"]),
              "totalSize": len(raw)}
    if options.get("--write-out") == "json":
        sys.stdout.write(json.dumps(status, separators=(",", ":")) + "\n")
    else:
        sys.stdout.write(f"{status['hash']:x}, {status['revision']}, {status['totalKey']}, {status['totalSize']} B\n")
    return 0
