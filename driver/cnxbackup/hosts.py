"""The deployment's machines: which host holds what, and the one transport that reaches them.

A single-host environment (no ``hosts`` section) is one implicit local host with every role.
With hosts, items follow the roles: the Dmgr host holds the Dmgr profile, connections_root
and the customizations; every node host holds its own WAS profiles, profileRegistry.xml,
local data and Installation Manager directories; the shared data is archived once, from the
``nfs`` host (or the Dmgr host, which mounts it); databases run on the ``db`` host.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, List, Optional

from .config import Environment
from .remote import Host, LocalTransport, SshTransport

LOCAL = "local"


def hosts_of(env: Environment) -> Dict[str, Host]:
    """Host objects by name; ``{'local': Host(local)}`` for a single-host environment."""
    configured = env.data.get("hosts") or []
    if not configured:
        return {LOCAL: Host(LOCAL, LOCAL, roles=("dmgr", "node", "db", "nfs"))}
    return {h["name"]: Host(h["name"], h["address"], user=h.get("user"), port=h.get("port", 22), key=h.get("key"),
                            roles=tuple(h.get("roles") or ())) for h in configured}


def is_multi_host(env: Environment) -> bool:
    return bool(env.data.get("hosts"))


def host_config(env: Environment, name: str) -> Dict[str, Any]:
    for entry in env.data.get("hosts") or []:
        if entry["name"] == name:
            return entry
    return {"name": name, "parallel": env.section("archive")["parallel"], "paths": {}}


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
    merged.update(host_config(env, name).get("paths") or {})
    return merged


def make_transport(env: Environment) -> Any:
    """SshTransport for multi-host environments (keys only, multiplexed); LocalTransport otherwise."""
    if not is_multi_host(env):
        return LocalTransport()
    known = [h.get("known_hosts") for h in env.data["hosts"] if h.get("known_hosts")]
    return SshTransport(strict_host_key_checking="yes" if known else "accept-new",
                        known_hosts_file=known[0] if known else None, connect_timeout=10,
                        server_alive_interval=5, server_alive_count_max=3)


def remote_tool_argv(transport: Any, host: Host, remote_tool: str, env: Dict[str, str], forward: List[str],
                     spec_dir: str) -> List[str]:
    """argv of a local shim that runs ``remote_tool`` on ``host`` through the shared ssh master.

    The DB hooks run their tools through ``run_tool``; giving them this argv prefix as the tool
    command makes the same code work on a remote DB host. Non-secret environment is set on the
    remote command line; the variables named in ``forward`` (passwords) travel on stdin.
    """
    spec = {"host": {"name": host.name, "address": host.address, "user": host.user, "port": host.port,
                     "key": host.key, "roles": list(host.roles)},
            "control_dir": getattr(transport, "control_dir", None),
            "known_hosts": getattr(transport, "known_hosts_file", None),
            "strict": getattr(transport, "strict_host_key_checking", "accept-new"),
            "env": env, "forward": forward, "tool": remote_tool}
    os.makedirs(spec_dir, mode=0o700, exist_ok=True)
    path = os.path.join(spec_dir, f"remote-{host.name}-{os.path.basename(remote_tool)}.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(spec, handle)
    return self_command() + ["_remote-tool", path, "--"]


def self_command() -> List[str]:
    """How to run this cnxbackup again (from a zipapp, or as a module)."""
    entry = sys.argv[0] if sys.argv and sys.argv[0].endswith(".pyz") else None
    return [sys.executable, entry] if entry else [sys.executable, "-m", "cnxbackup"]


def run_remote_tool(spec_path: str, args: List[str]) -> int:
    """Body of the hidden ``_remote-tool`` command: run the tool on its host, stream its output."""
    import shlex
    import subprocess

    with open(spec_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    host = Host(**{**spec["host"], "roles": tuple(spec["host"]["roles"])})
    transport = SshTransport(strict_host_key_checking=spec["strict"], known_hosts_file=spec["known_hosts"],
                             control_dir=spec["control_dir"])
    assignments = " ".join(f"{k}={shlex.quote(str(v))}" for k, v in spec["env"].items())
    command = (f"{assignments} " if assignments else "") + " ".join(shlex.quote(a) for a in [spec["tool"], *args])
    secrets = {name: os.environ[name] for name in spec["forward"] if name in os.environ}
    if secrets:
        from .remote import _SECRETS_PROLOGUE, _secrets_stdin

        proc = subprocess.run(transport.argv(host, _SECRETS_PROLOGUE + command), input=_secrets_stdin(secrets))
    else:
        proc = subprocess.run(transport.argv(host, command), stdin=subprocess.DEVNULL)
    return proc.returncode
