"""The API gateway's etcd (APISIX, 8.0 CR12 and later): a snapshot taken in one member, streamed out.

HCL deploys APISIX with the Bitnami etcd chart as a 3-member StatefulSet, in the Component Pack's
namespace or a dedicated one (``apisix``), on the NFS folders ``<namespace>-apisix-etcd-<n>``
(coverage-component-pack.md §1, §5). The StatefulSet is found by its pods' label
``app.kubernetes.io/name=etcd`` (Bitnami's standard labels) or a name ending ``-etcd``, in the
namespaces the environment names. ``etcdctl snapshot save`` runs in a ready member and writes a file
there (``/tmp``, else beside the data folder); ``kubectl exec ... cat`` streams it into the set,
hashed (and encrypted) as it lands; the file in the pod is then deleted, whatever happened.

The endpoint, the user and the TLS files come from the pod's own environment, read by the shell in the
pod (``SAVE``, as Bitnami's own ``etcdctl_auth_flags`` reads them) and handed to etcdctl as ``ETCDCTL_*``
variables: no value of them is on kubectl's command line, nor on etcdctl's, nor in a log.
"""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from ..archive import Cipher, CopyResult, receive
from ..errors import CnxBackupError
from .kube import ExecStream, Kube, pod_ready, tail

NAME_LABEL = "app.kubernetes.io/name"
SAVE = r"""set -eu
name="$1"
dir=
for d in /tmp "${ETCD_DATA_DIR:-/bitnami/etcd/data}/.." "${HOME:-/}"; do
  if [ -d "$d" ] && [ -w "$d" ]; then dir="$d"; break; fi
done
if [ -z "$dir" ]; then echo "no writable folder for the snapshot (/tmp, beside the data folder, HOME)" >&2; exit 1; fi
file="$dir/$name"
endpoint="${ETCDCTL_ENDPOINTS:-}"
case "$endpoint" in ""|*,*) urls="${ETCD_ADVERTISE_CLIENT_URLS:-http://127.0.0.1:2379}"; endpoint="${urls%%,*}";; esac
ETCDCTL_ENDPOINTS="$endpoint"; export ETCDCTL_ENDPOINTS
password="${ETCD_ROOT_PASSWORD:-}"
if [ -z "$password" ] && [ -n "${ETCD_ROOT_PASSWORD_FILE:-}" ] && [ -r "$ETCD_ROOT_PASSWORD_FILE" ]; then
  password="$(cat "$ETCD_ROOT_PASSWORD_FILE")"
fi
if [ -n "$password" ]; then ETCDCTL_USER="root:$password"; export ETCDCTL_USER; fi
if [ "${ETCD_AUTO_TLS:-}" = true ]; then
  ETCDCTL_CERT="$ETCD_DATA_DIR/fixtures/client/cert.pem"; ETCDCTL_KEY="$ETCD_DATA_DIR/fixtures/client/key.pem"
  ETCDCTL_INSECURE_SKIP_TLS_VERIFY=true; export ETCDCTL_CERT ETCDCTL_KEY ETCDCTL_INSECURE_SKIP_TLS_VERIFY
else
  if [ -f "${ETCD_CERT_FILE:-}" ] && [ -f "${ETCD_KEY_FILE:-}" ]; then
    ETCDCTL_CERT="$ETCD_CERT_FILE"; ETCDCTL_KEY="$ETCD_KEY_FILE"; export ETCDCTL_CERT ETCDCTL_KEY
  fi
  if [ -f "${ETCD_TRUSTED_CA_FILE:-}" ]; then ETCDCTL_CACERT="$ETCD_TRUSTED_CA_FILE"; export ETCDCTL_CACERT; fi
fi
echo "endpoint=$endpoint"
etcdctl version 2>/dev/null | sed -n 's/^etcdctl version: */version=/p' || true
etcdctl snapshot save "$file" >&2
echo "file=$file"
{ etcdutl --write-out=json snapshot status "$file" 2>/dev/null || true; } | sed -n '1s/^{/status={/p'
"""
"""Run as ``sh -c SAVE cnxbackup-etcd NAME``: the snapshot file's path, etcdctl's version, the endpoint (this
member's own first client URL unless ``ETCDCTL_ENDPOINTS`` names one) and ``etcdutl snapshot status`` as
``key=value`` lines on stdout; etcdctl's own output on stderr. An etcd 3.5 ``etcdutl`` (or none) is fine:
the status is only recorded."""


class EtcdError(CnxBackupError):
    """The etcd snapshot cannot be taken (the message says where and why)."""


@dataclass
class EtcdSet:
    namespace: str
    statefulset: str
    container: Optional[str]
    replicas: int
    pods: List[str] = field(default_factory=list)
    ready: List[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.statefulset}"


def _is_etcd(item: Dict[str, Any]) -> bool:
    name = str((item.get("metadata") or {}).get("name") or "")
    template = ((item.get("spec") or {}).get("template") or {}).get("metadata") or {}
    labels = template.get("labels") or (item.get("metadata") or {}).get("labels") or {}
    return labels.get(NAME_LABEL) == "etcd" or name == "etcd" or name.endswith("-etcd")


def find(kube: Kube, namespaces: Sequence[str]) -> List[EtcdSet]:
    """The etcd StatefulSets of these namespaces (one that does not exist has none), with their member pods."""
    found: List[EtcdSet] = []
    for namespace in dict.fromkeys(namespaces):
        here = kube.at(namespace)
        sets = [item for item in here.items("statefulsets") if _is_etcd(item)]
        pods = here.items("pods") if sets else []
        for item in sets:
            name = str(item["metadata"]["name"])
            spec = item.get("spec") or {}
            containers = [str(c.get("name")) for c in ((spec.get("template") or {}).get("spec") or {}).get("containers") or []]
            members = sorted((p for p in pods if re.fullmatch(rf"{re.escape(name)}-\d+", str(p["metadata"].get("name")))),
                             key=lambda p: int(str(p["metadata"]["name"]).rsplit("-", 1)[1]))
            found.append(EtcdSet(namespace, name, "etcd" if "etcd" in containers else (containers[0] if containers else None),
                                 int(spec.get("replicas") or 0), [str(p["metadata"]["name"]) for p in members],
                                 [str(p["metadata"]["name"]) for p in members if pod_ready(p)]))
    return found


def problems(kube: Kube, namespaces: Sequence[str], mode: str) -> List[str]:
    """What stops the snapshot: no etcd where one is required (``mode`` ``on``), one without a ready member."""
    found = find(kube, namespaces)
    if not found and mode == "on":
        return [f"no etcd StatefulSet (label {NAME_LABEL}=etcd, or a name ending -etcd) in namespace(s) "
                f"{', '.join(dict.fromkeys(namespaces))}; set component_pack.etcd: auto or off if the API gateway has none"]
    return [f"etcd StatefulSet {s.label} has no ready member pod ({', '.join(s.pods) or 'none'})" for s in found if not s.ready]


def temp_name(run_id: str) -> str:
    """The snapshot's file name in the pod: this run's, so that a resume's overwrites its own only."""
    return "cnxbackup-etcd-" + re.sub(r"[^A-Za-z0-9._-]", "-", run_id) + ".db"


def save(kube: Kube, found: EtcdSet, dest: str, run_id: str, *, timeout: float, cancel: threading.Event, log: Any,
         cipher: Optional[Cipher] = None) -> Dict[str, Any]:
    """The snapshot into ``dest`` (published only when whole); the file in the pod deleted always."""
    if not found.ready:
        raise EtcdError(f"etcd StatefulSet {found.label} has no ready member pod")
    pod, here = found.ready[0], kube.at(found.namespace)
    result = here.exec(pod, found.container, ["sh", "-c", SAVE, "cnxbackup-etcd", temp_name(run_id)], timeout=timeout)
    facts = dict(line.split("=", 1) for line in result.text.splitlines() if "=" in line)
    path = facts.get("file", "")
    try:
        if result.rc != 0 or not path.endswith("/" + temp_name(run_id)):
            raise EtcdError(f"etcdctl snapshot save in {found.namespace}/{pod} failed (exit {result.rc}): {tail(result.stderr)}")
        copied = _stream(here, pod, found.container, path, dest, timeout, cancel, cipher)
    finally:
        if path or result.rc != 0:
            _remove(here, found, pod, path or f"/tmp/{temp_name(run_id)}", log)
    log.info("etcd %s: snapshot from %s, %d bytes", found.label, pod, copied.size)
    record: Dict[str, Any] = {"namespace": found.namespace, "statefulset": found.statefulset, "pod": pod,
                              "container": found.container, "replicas": found.replicas, "members": found.pods,
                              "endpoint": facts.get("endpoint"), "version": facts.get("version"),
                              "sha256": copied.sha256, "size": copied.size}
    if copied.source_sha256:
        record.update(plainSha256=copied.source_sha256, plainSize=copied.source_size)
    status = _status(facts.get("status", ""))
    if status:
        record["status"] = status
    return record


def _status(text: str) -> Optional[Dict[str, int]]:
    """``etcdutl --write-out=json snapshot status``'s hash, revision, totalKey, totalSize (numbers only)."""
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    return {k: v for k, v in parsed.items() if k in ("hash", "revision", "totalKey", "totalSize") and isinstance(v, int)}


def _stream(kube: Kube, pod: str, container: Optional[str], path: str, dest: str, timeout: float,
            cancel: threading.Event, cipher: Optional[Cipher]) -> CopyResult:
    """``kubectl exec POD -- cat PATH`` into ``dest``, hashed as it lands; published only when cat ended well."""
    stream = ExecStream(kube, pod, container, ["cat", path], timeout)

    def finished(_result: CopyResult, _fd: int) -> None:
        rc = stream.wait()
        if rc != 0:
            raise EtcdError(f"copying the etcd snapshot out of {kube.namespace}/{pod} failed (exit {rc}): "
                            f"{tail(stream.errors)}")

    try:
        return receive(stream.stdout, dest, before_publish=finished, cancel=cancel, cipher=cipher)
    finally:
        stream.close()


def _remove(kube: Kube, found: EtcdSet, pod: str, path: str, log: Any) -> None:
    """The snapshot file in the pod goes (a failure is logged: a file of this run's name, overwritten by a resume)."""
    try:
        gone = kube.exec(pod, found.container, ["rm", "-f", path], timeout=60)
        if gone.rc != 0:
            log.warning("etcd %s: %s could not be deleted in %s: %s", found.label, path, pod, tail(gone.stderr))
    except (CnxBackupError, OSError) as error:
        log.warning("etcd %s: %s could not be deleted in %s: %s", found.label, path, pod, error)
