"""What the cluster says of itself, saved into the set: versions, Helm releases and values, the
``connections-env`` ConfigMap and the namespace's secrets (component-pack.md §1, §7 steps 2-4).

Secrets are kept without Helm's own release records (``helm.sh/release.v1``) and service-account
tokens, and without the fields a new cluster would refuse or that tie them to this one
(``resourceVersion``, ``uid``, ``creationTimestamp``, ``managedFields``, ``ownerReferences``).
Helm values often hold passwords: they are stored as secrets too. Every file is written 0600
and nothing of its content goes to a log.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional

from ..archive import Cipher, filter_bytes
from ..atomic import write_file_atomic
from .kube import Kube, KubeError

DROPPED_TYPES = ("helm.sh/release.v1", "kubernetes.io/service-account-token")
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
    server = (versions.get("serverVersion") or {}).get("gitVersion") if isinstance(versions, dict) else None
    return {"kubernetes": server, "helm": helm_version, "releases": [
        {"name": r.get("name"), "chart": r.get("chart"), "revision": r.get("revision"), "status": r.get("status")}
        for r in releases], "secrets": len(secrets["items"])}
