"""The deployment's machines: which host holds what, and the one transport that reaches them.

A single-host environment (no ``hosts`` section) is one implicit local host with every role.
With hosts, items follow the roles: the Dmgr host holds the Dmgr profile, connections_root
and the customizations; every node host holds its own WAS profiles, profileRegistry.xml,
local data and Installation Manager directories; the shared data is archived once, from the
``nfs`` host (or the Dmgr host, which mounts it); databases run on the ``db`` host.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from .config import Environment

LOCAL = "local"


@dataclass
class Host:
    """One machine of the deployment. address None or 'local' means this machine."""

    name: str
    address: Optional[str]
    user: Optional[str] = None
    port: int = 22
    key: Optional[str] = None
    roles: Sequence[str] = ()
    options: Dict[str, str] = field(default_factory=dict)  # extra ssh -o NAME=VALUE for this host

    @property
    def is_local(self) -> bool:
        return self.address is None or self.address == "local"

    def describe(self) -> str:
        if self.is_local:
            return "local"
        who = f"{self.user}@" if self.user else ""
        return f"{who}{self.address}:{self.port}"



def hosts_of(env: Environment) -> Dict[str, Host]:
    """Host objects by name; ``{'local': Host(local)}`` for a single-host environment."""
    configured = env.data.get("hosts") or []
    if not configured:
        return {LOCAL: Host(LOCAL, LOCAL, roles=("dmgr", "node", "db", "nfs"))}
    return {h["name"]: Host(h["name"], h["address"], user=h["user"], port=h["port"], key=h["key"],
                            roles=tuple(h["roles"])) for h in configured}


def is_multi_host(env: Environment) -> bool:
    return bool(env.data.get("hosts"))


def host_config(env: Environment, name: str) -> Dict[str, Any]:
    """The ``hosts`` entry of ``name``; for the implicit local host, one with no settings of its own."""
    for entry in env.data.get("hosts") or []:
        if entry["name"] == name:
            return entry
    return {"name": name, "parallel": None, "paths": {}}


def host_parallel(env: Environment, name: str) -> int:
    """How many items run at once on the host: its own ``parallel``, else ``archive.parallel``."""
    own = host_config(env, name)["parallel"]
    return int(own if own is not None else env.section("archive")["parallel"])


def with_role(env: Environment, role: str) -> List[str]:
    return [name for name, host in hosts_of(env).items() if role in host.roles]


def first_with_role(env: Environment, *roles: str) -> str:
    """The first host having one of ``roles`` (in that order of preference)."""
    for role in roles:
        names = with_role(env, role)
        if names:
            return names[0]
    names = list(hosts_of(env))
    return names[0]


def host_paths(env: Environment, name: str) -> Dict[str, Any]:
    """The global ``paths`` overlaid with this host's own ``paths``."""
    merged = dict(env.paths)
    merged.update(host_config(env, name)["paths"])
    return merged
