"""OpenSearch (or Elasticsearch 7) of the Component Pack: a snapshot into the fs repository.

Requests go through the image's own ``sendRequest.sh`` in a client pod (``kubectl exec POD --
bash -c "sendRequest.sh METHOD PATH ..."``, component-pack.md §3.1); its exit code on an HTTP
error is not documented, so the JSON body is what is judged, and curl's meter before it is
skipped. The repository is registered when missing (type fs, location ``/backup``, which is
the ``opensearchbackup`` PV folder, §3.2). The snapshot holds the Connections indices (not the
security plugin's dot-indices) without the global state, taken with ``wait_for_completion=true``;
only ``state: SUCCESS`` with no failed shard and no failure is accepted (§3.3).
"""
from __future__ import annotations

import json
import re
import shlex
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from ..errors import CnxBackupError
from .kube import Kube, json_body, pod_ready, tail

SEARCH_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
"""What an OpenSearch snapshot or index name read from a set may be before it goes into a request path."""

FLAVOURS = (
    ("opensearch-cluster-client", "/usr/share/opensearch/probe/sendRequest.sh", "opensearchbackup"),
    ("opensearch-cluster-master", "/usr/share/opensearch/probe/sendRequest.sh", "opensearchbackup"),
    ("es-client", "/opt/elasticsearch-7.10.1/probe/sendRequest.sh", "esbackup-7"),
)


class SearchError(CnxBackupError):
    """The OpenSearch part cannot be backed up (the message says why)."""


@dataclass
class Search:
    pod: str
    script: str
    folder: str  # the PV folder of the repository (mounted as /backup)


def detect(kube: Kube) -> Search:
    """A ready client pod and its ``sendRequest.sh``."""
    pods = kube.items("pods")
    for prefix, script, folder in FLAVOURS:
        named = [p for p in pods if str(p.get("metadata", {}).get("name", "")).startswith(prefix)]
        ready = [p for p in named if pod_ready(p)]
        if ready:
            return Search(ready[0]["metadata"]["name"], script, folder)
        if named:
            raise SearchError(f"no {prefix} pod is ready ({', '.join(p['metadata']['name'] for p in named)})")
    raise SearchError(f"no OpenSearch or Elasticsearch client pod in namespace {kube.namespace}; set "
                      "component_pack.opensearch: false if the Component Pack has none")


def command(script: str, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> List[str]:
    """What runs in the client pod for one request (``bash -c "sendRequest.sh METHOD PATH ..."``, as HCL runs it;
    RESTORE.md prints the same)."""
    words = [script, method, path]
    if body is not None:
        words += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    return ["bash", "-c", shlex.join(words)]


def script_of(pod: str, folder: str = "") -> str:
    """The ``sendRequest.sh`` of a client pod's flavour (by its name; else by the repository's PV folder)."""
    for prefix, script, backup in FLAVOURS:
        if pod.startswith(prefix) or (not pod and folder == backup):
            return script
    return FLAVOURS[0][1]


def request(kube: Kube, search: Search, method: str, path: str, body: Optional[Dict[str, Any]] = None,
            missing: str = "") -> Any:
    """The answer's JSON; SearchError on an error body, except an error of type ``missing`` (then None)."""
    result = kube.exec(search.pod, None, command(search.script, method, path, body), timeout=kube.settings["timeout"])
    if result.rc != 0:
        raise SearchError(f"{method} {path} on {search.pod} failed (exit {result.rc}): {tail(result.stderr)}")
    answer = json_body(result.text)
    if isinstance(answer, dict) and "error" in answer:
        error = answer["error"]
        if missing and isinstance(error, dict) and error.get("type") == missing:
            return None
        reason = error.get("reason") if isinstance(error, dict) else error
        raise SearchError(f"{method} {path}: {reason} (status {answer.get('status')})")
    return answer


def indices(kube: Kube, search: Search) -> List[Dict[str, Any]]:
    answer = request(kube, search, "GET", "/_cat/indices?format=json")
    if not isinstance(answer, list):
        raise SearchError(f"GET /_cat/indices: not a list: {str(answer)[:100]}")
    return [i for i in answer if isinstance(i, dict)]


def problems(kube: Kube, search: Search) -> List[str]:
    red = sorted(str(i.get("index")) for i in indices(kube, search) if i.get("health") == "red")
    return [f"OpenSearch index {', '.join(red)} is red: a snapshot would fail; fix the cluster first"] if red else []


TAKE, KEEP, DELETE, BUSY = "take", "keep", "delete", "busy"


def earlier_attempt(state: Optional[str]) -> str:
    """What a resume does with its earlier snapshot of that name, by its state (None: there is none):
    take it (none), keep it (SUCCESS, whole), wait for it (IN_PROGRESS: deleting would abort it),
    or delete it first (PARTIAL, FAILED, INCOMPATIBLE, anything else): a PUT of a name that exists is
    refused (400 ``invalid_snapshot_name_exception``)."""
    if state is None:
        return TAKE
    if state == "SUCCESS":
        return KEEP
    return BUSY if state == "IN_PROGRESS" else DELETE


def _existing(kube: Kube, search: Search, repository: str, name: str) -> Optional[Dict[str, Any]]:
    """The snapshot's record, or None when the repository holds no snapshot of that name."""
    answer = request(kube, search, "GET", f"/_snapshot/{repository}/{name}", missing="snapshot_missing_exception")
    found = [s for s in (answer or {}).get("snapshots") or [] if isinstance(s, dict) and s.get("snapshot") == name]
    return found[0] if found else None


def clear_earlier(kube: Kube, search: Search, repository: str, name: str, *, timeout: float = 300,
                  pause: float = 2) -> Optional[Dict[str, Any]]:
    """Before a resumed snapshot: the earlier attempt's record when it is whole (kept), else None once no
    snapshot of that name is left (a PARTIAL or FAILED one is deleted, and waited for until it is gone)."""
    found = _existing(kube, search, repository, name)
    action = earlier_attempt(str(found.get("state")) if found is not None else None)
    if action == KEEP and found is not None and not (found.get("shards") or {}).get("failed") \
            and not found.get("failures"):
        return found
    if action == BUSY:
        raise SearchError(f"snapshot {name} of the earlier attempt is still IN_PROGRESS; resume once it has ended")
    if action == TAKE:
        return None
    request(kube, search, "DELETE", f"/_snapshot/{repository}/{name}", missing="snapshot_missing_exception")
    deadline = time.monotonic() + timeout
    while _existing(kube, search, repository, name) is not None:
        if time.monotonic() > deadline:
            raise SearchError(f"snapshot {name} of the earlier attempt is still there {timeout:.0f} s after its DELETE")
        time.sleep(pause)
    return None


def snapshot(kube: Kube, search: Search, repository: str, name: str, resumed: bool = False) -> Dict[str, Any]:
    """Take the snapshot; its record for the manifest. SearchError unless it is whole. ``resumed``: an earlier
    attempt of this name may exist (kept when whole, else deleted first)."""
    red = problems(kube, search)
    if red:
        raise SearchError(red[0])
    repositories = request(kube, search, "GET", "/_snapshot/_all")
    if not isinstance(repositories, dict) or repository not in repositories:
        answer = request(kube, search, "PUT", f"/_snapshot/{repository}",
                         {"type": "fs", "settings": {"compress": True, "location": "/backup"}})
        if not (isinstance(answer, dict) and answer.get("acknowledged") is True):
            raise SearchError(f"registering the repository {repository} was not acknowledged: {answer!r}")
    names = [str(i.get("index")) for i in indices(kube, search) if not str(i.get("index", ".")).startswith(".")]
    if not names:
        raise SearchError("no Connections index to snapshot")
    record = clear_earlier(kube, search, repository, name) if resumed else None
    if record is None:
        answer = request(kube, search, "PUT", f"/_snapshot/{repository}/{name}?wait_for_completion=true",
                         {"indices": ",".join(names), "include_global_state": False})
        record = answer.get("snapshot", answer) if isinstance(answer, dict) else answer
    return _accepted(record, name, repository, search)


def _accepted(record: Any, name: str, repository: str, search: Search) -> Dict[str, Any]:
    """The manifest's record of a whole snapshot; SearchError for any other."""
    if not isinstance(record, dict) or "state" not in record:
        raise SearchError(f"the snapshot {name} did not answer with its record: {str(record)[:200]}")
    shards = record.get("shards") or {}
    if record.get("state") != "SUCCESS" or shards.get("failed") != 0 or record.get("failures"):
        raise SearchError(f"snapshot {name} ended {record.get('state')} ({shards.get('failed')} of "
                          f"{shards.get('total')} shards failed): {str(record.get('failures'))[:200]}")
    return {"repository": repository, "snapshot": record.get("snapshot"), "uuid": record.get("uuid"),
            "version": record.get("version"), "indices": list(record.get("indices") or []), "state": "SUCCESS",
            "shards": shards, "folder": search.folder, "pod": search.pod}
