"""The Component Pack (Kubernetes half of Connections 8): inventory, MongoDB dump, OpenSearch snapshot.

- :mod:`.kube`: kubectl and helm on the configured host, JSON parsed, errors in the tools' words;
- :mod:`.inventory`: versions, Helm releases and values, the ConfigMap and the cleaned secrets;
- :mod:`.mongo`: the dump from a fsync-locked secondary, streamed out, unlocked always;
- :mod:`.opensearch`: the fs repository and a snapshot of the Connections indices;
- :mod:`.etcd`: the API gateway's etcd, a snapshot taken in one member and streamed out.

The persistent-volume folders are ordinary directory items of the plan (``pv_folders``).
"""
from __future__ import annotations

import fnmatch
from typing import List, Tuple

from ..config import Environment
from . import etcd, inventory, mongo, opensearch
from .kube import Kube, KubeError, enabled, settings

LIVE_FOLDERS = ("mongo7-node-*", "mongo5-node-*", "mongo-node-*", "opensearchmaster-*", "opensearchdata-*",
                "opensearchclient-*", "esdata-7-*", "esmaster-7-*", "*-apisix-etcd-*")
"""Folders of live databases: the dump and the snapshot cover them; a copy of their files while the
database runs would not restore."""


def pv_folders(env: Environment) -> List[Tuple[str, str]]:
    """(folder name, error) of each configured PV folder; the error is "" for an allowed one."""
    out = []
    for name in settings(env)["folders"]:
        live = next((p for p in LIVE_FOLDERS if fnmatch.fnmatch(name, p)), None)
        if "/" in name or name in ("", ".", ".."):
            out.append((name, f"'{name}' is not a folder name under pv_root"))
        elif live:
            out.append((name, f"'{name}' is a live database folder ({live}): the MongoDB dump and the OpenSearch "
                              "snapshot cover it, a file copy of it would not restore"))
        else:
            out.append((name, ""))
    return out


__all__ = ["Kube", "KubeError", "LIVE_FOLDERS", "enabled", "etcd", "inventory", "mongo", "opensearch", "pv_folders",
           "settings"]
