"""What the cluster says of itself, saved into the set: versions, Helm releases and values, the
``connections-env`` ConfigMap and the namespace's secrets (component-pack.md §1, §7 steps 2-4).

Secrets are kept without Helm's own release records (``helm.sh/release.v1``: each release's go to a
file of their own, :func:`helm_records`) and service-account tokens, and without the fields a new
cluster would refuse or that tie them to this one (``resourceVersion``, ``uid``,
``creationTimestamp``, ``managedFields``, ``ownerReferences``). Helm values often hold passwords:
they are stored as secrets too. Every file is written 0600 and nothing of its content goes to a log.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Callable, Dict, List, Optional

from ..archive import Cipher, filter_bytes
from ..atomic import write_file_atomic
from .kube import Kube, KubeError

RELEASE_TYPE = "helm.sh/release.v1"
RECORDS = "helm-records"
DROPPED_TYPES = (RELEASE_TYPE, "kubernetes.io/service-account-token")
DROPPED_METADATA = ("resourceVersion", "uid", "creationTimestamp", "managedFields", "ownerReferences", "selfLink",
                    "generation")


def clean(obj: Dict[str, Any]) -> Dict[str, Any]:
    metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in DROPPED_METADATA}
    return {**obj, "metadata": metadata}


def secrets_list(items: List[Dict[str, Any]]) -> Dict[str, Any]:
    kept = [clean(item) for item in items if item.get("type") not in DROPPED_TYPES]
    return {"apiVersion": "v1", "kind": "List", "items": kept}


def take(kube: Kube, folder: str, cipher: Optional[Cipher] = None) -> Dict[str, Any]:
    """Write the inventory into ``folder`` (each file through ``cipher`` when the set is encrypted);
    its summary (releases, counts, versions) for the manifest."""
    os.makedirs(folder, mode=0o700, exist_ok=True)

    def save(name: str, data: bytes) -> None:
        path = os.path.join(folder, name)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        write_file_atomic(path, data if cipher is None else filter_bytes(cipher, data))

    versions = kube.json("kubectl", ["version", "-o", "json"])
    save("kubectl-version.json", json.dumps(versions, indent=1).encode())
    helm_version = kube.run("helm", ["version"]).check().text.strip()
    save("helm-version.txt", (helm_version + "\n").encode())
    releases = kube.json("helm", ["list", "-a", "-o", "json"])
    if not isinstance(releases, list):
        raise KubeError("helm list -o json: not a list")
    save("helm-releases.json", json.dumps(releases, indent=1).encode())
    for release in releases:
        name = str(release.get("name"))
        if not name or "/" in name or name.startswith("."):
            raise KubeError(f"helm list names a release {name!r} that is not a plain name")
        save(f"helm-values/{name}.yaml", kube.run("helm", ["get", "values", name, "-o", "yaml"]).check().stdout)
        save(f"helm-values/{name}.all.yaml",
             kube.run("helm", ["get", "values", name, "--all", "-o", "yaml"]).check().stdout)
    configmap = kube.json("kubectl", ["get", "configmap", "connections-env", "-o", "json"])
    save("configmap-connections-env.json", json.dumps(clean(configmap), indent=1).encode())
    secrets = secrets_list(kube.items("secrets"))
    save("secrets.json", json.dumps(secrets, indent=1).encode())
    records = helm_records(kube, save)
    server = (versions.get("serverVersion") or {}).get("gitVersion") if isinstance(versions, dict) else None
    return {"kubernetes": server, "helm": helm_version, "releases": [
        {"name": r.get("name"), "chart": r.get("chart"), "revision": r.get("revision"), "status": r.get("status")}
        for r in releases], "secrets": len(secrets["items"]), "helmRecords": records}


def _plain(name: Any) -> bool:
    return isinstance(name, str) and bool(name) and "/" not in name and not name.startswith(".")


def helm_records(kube: Kube, save: Callable[[str, bytes], None]) -> List[Dict[str, Any]]:
    """Helm's own release records (``sh.helm.release.v1.<release>.v<revision>``, coverage-component-pack.md
    §4.1: what ``helm rollback`` reads) of every release in the Component Pack's namespaces, one file per
    release: ``helm-records/<release>.yaml`` (another namespace's: ``helm-records/<namespace>/<release>.yaml``),
    a ``List`` that ``kubectl create -f`` takes back (JSON, which is YAML), cleaned like the secrets and without
    the namespace. Never in ``secrets.json``: applied there, they would collide with a reinstalled release's.
    The summary per release: namespace, file, revisions, the deployed one and the SHA-256 of its record's
    ``data.release`` (by which RESTORE.md tells whether the cluster still holds that history)."""
    summary: List[Dict[str, Any]] = []
    for namespace in dict.fromkeys([kube.namespace, *(kube.settings.get("namespaces") or [])]):
        data = kube.at(namespace).json("kubectl", ["get", "secrets", "-l", "owner=helm", "-o", "json"])
        found: Dict[str, List[Dict[str, Any]]] = {}
        for item in (data.get("items") if isinstance(data, dict) else None) or []:
            labels = (item.get("metadata") or {}).get("labels") or {}
            if item.get("type") != RELEASE_TYPE:
                continue
            if not _plain(labels.get("name")) or not str(labels.get("version", "")).isdigit():
                raise KubeError(f"Helm record {(item.get('metadata') or {}).get('name')!r} in namespace {namespace} has no "
                                "plain release name and revision in its labels")
            found.setdefault(labels["name"], []).append(item)
        for release, items in sorted(found.items()):
            items.sort(key=lambda i: int(i["metadata"]["labels"]["version"]))
            rel = f"{RECORDS}/{release}.yaml" if namespace == kube.namespace else f"{RECORDS}/{namespace}/{release}.yaml"
            cleaned = [{**clean(i), "metadata": {k: v for k, v in clean(i)["metadata"].items() if k != "namespace"}}
                       for i in items]
            save(rel, json.dumps({"apiVersion": "v1", "kind": "List", "items": cleaned}, indent=1).encode())
            deployed = [i for i in items if i["metadata"]["labels"].get("status") == "deployed"]
            summary.append({"release": release, "namespace": namespace, "file": rel,
                            "revisions": [int(i["metadata"]["labels"]["version"]) for i in items],
                            "deployed": int(deployed[-1]["metadata"]["labels"]["version"]) if deployed else None,
                            "deployedSha256": hashlib.sha256(str((deployed[-1].get("data") or {}).get("release", ""))
                                                             .encode()).hexdigest() if deployed else None})
    return summary
