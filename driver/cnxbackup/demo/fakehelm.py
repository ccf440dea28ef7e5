"""Helm's release records in the fake cluster (``fakekube``): one Secret per revision, as Helm 3 stores them.

coverage-component-pack.md §4.1 [C]: name ``sh.helm.release.v1.<release>.v<revision>``, type
``helm.sh/release.v1``, labels ``name``, ``owner=helm``, ``status``, ``version``, one data key
``release`` = base64(gzip(JSON of the release)), which the Kubernetes API shows base64-encoded once
more. A release of the fake state holds its revisions in ``history`` (revision, status, chart,
values, description); a release without one stands for revisions 1..N of the same chart and values.
Pure functions over the state's dicts: ``fakekube`` reads, writes and locks the state.
"""
from __future__ import annotations

import base64
import gzip
import json
import re
from typing import Any, Dict, List, Optional, Tuple

TYPE = "helm.sh/release.v1"
PREFIX = "sh.helm.release.v1."
DEPLOYED_AT = "2026-11-01T10:10:10.123456789Z"


def history(release: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The release's revisions, oldest first (made explicit for a release that lists none)."""
    if release.get("history"):
        return sorted(release["history"], key=lambda r: int(r["revision"]))
    last = int(release["revision"])
    return [{"revision": n, "status": release["status"] if n == last else "superseded", "chart": release["chart"],
             "values": release["values"], "description": "Install complete" if n == 1 else "Upgrade complete"}
            for n in range(1, last + 1)]


def _split(chart: str) -> Tuple[str, str]:
    match = re.match(r"^(.*?)-(\d[\w.+-]*)$", chart)
    return (match.group(1), match.group(2)) if match else (chart, "")


def encode(name: str, namespace: str, revision: Dict[str, Any]) -> str:
    """``data.release`` as ``kubectl get secret -o json`` shows it: base64 of Helm's base64 of gzip of JSON
    (deterministic: the same revision gives the same text)."""
    chart, version = _split(str(revision["chart"]))
    release = {"name": name, "namespace": namespace, "version": int(revision["revision"]),
               "info": {"first_deployed": DEPLOYED_AT, "last_deployed": DEPLOYED_AT, "deleted": "",
                        "description": revision.get("description", ""), "status": revision["status"]},
               "chart": {"metadata": {"name": chart, "version": version, "apiVersion": "v2"}},
               "config": revision.get("values"), "manifest": f"---\n# Source: {chart}/templates/deployment.yaml\n"}
    packed = gzip.compress(json.dumps(release, sort_keys=True).encode(), compresslevel=9, mtime=0)
    return base64.b64encode(base64.b64encode(packed)).decode()


def decode(data: str) -> Dict[str, Any]:
    """The release JSON of a record's ``data.release`` (ValueError when it is not one)."""
    try:
        packed = base64.b64decode(base64.b64decode(data, validate=True), validate=True)
        raw = gzip.decompress(packed) if packed[:3] == b"\x1f\x8b\x08" else packed
        release = json.loads(raw)
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"not a Helm release record: {error}") from None
    if not isinstance(release, dict) or not isinstance(release.get("version"), int):
        raise ValueError("not a Helm release record: no version")
    return release


def records(releases: List[Dict[str, Any]], namespace: str) -> List[Dict[str, Any]]:
    """Every revision's Secret (without the metadata fakekube adds: uid, resourceVersion, ...)."""
    out = []
    for release in releases:
        for revision in history(release):
            number = int(revision["revision"])
            out.append({"name": f"{PREFIX}{release['name']}.v{number}", "type": TYPE,
                        "labels": {"name": release["name"], "owner": "helm", "status": revision["status"],
                                   "version": str(number)},
                        "data": {"release": encode(release["name"], namespace, revision)}})
    return out


def _sync(release: Dict[str, Any]) -> None:
    """The fields ``helm list`` shows, from the last revision."""
    last = history(release)[-1]
    release.update(revision=str(last["revision"]), status=last["status"], chart=last["chart"], values=last["values"])


def add_record(releases: List[Dict[str, Any]], name: str, labels: Dict[str, str], data: str) -> None:
    """A record created through the API (``kubectl create -f``): its revision joins the release's history
    (the release appears when it had none). ValueError for a record Helm could not read."""
    release_json = decode(data)
    number = int(release_json["version"])
    if name != f"{PREFIX}{release_json.get('name')}.v{number}" or labels.get("owner") != "helm":
        raise ValueError(f"{name}: name or labels do not match the release it holds")
    meta = (release_json.get("chart") or {}).get("metadata") or {}
    info = release_json.get("info") or {}
    revision = {"revision": number, "status": info.get("status", "unknown"),
                "chart": f"{meta.get('name')}-{meta.get('version')}" if meta.get("version") else str(meta.get("name")),
                "values": release_json.get("config"), "description": info.get("description", "")}
    release = next((r for r in releases if r["name"] == release_json["name"]), None)
    if release is None:
        release = {"name": release_json["name"], "app_version": "", "history": []}
        releases.append(release)
    known = history(release) if release.get("history") or "revision" in release else []
    release["history"] = [r for r in known if int(r["revision"]) != number] + [revision]
    _sync(release)


def rollback(releases: List[Dict[str, Any]], name: str, target: int) -> Optional[str]:
    """``helm rollback NAME TARGET``: a new revision with the target's chart and values, described
    ``Rollback to N``; the one deployed before becomes superseded (coverage §4.2 [C]). The error text, or None."""
    release = next((r for r in releases if r["name"] == name), None)
    if release is None:
        return "Error: release: not found\n"
    revisions = history(release)
    if target == 0:
        target = revisions[-2]["revision"] if len(revisions) > 1 else revisions[-1]["revision"]
    chosen = next((r for r in revisions if int(r["revision"]) == target), None)
    if chosen is None:
        return f"Error: release has no {target} version\n"
    for revision in revisions:
        if revision["status"] == "deployed":
            revision["status"] = "superseded"
    revisions.append({"revision": int(revisions[-1]["revision"]) + 1, "status": "deployed", "chart": chosen["chart"],
                      "values": chosen["values"], "description": f"Rollback to {target}"})
    release["history"] = revisions
    _sync(release)
    return None
