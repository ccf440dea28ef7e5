"""A vendor tool on another host, run as if it were local: a small shim over the shared ssh master.

The DB hooks run their tools through ``run_tool``; giving them :func:`remote_tool_argv` as the
tool command makes the same hook code work on a remote DB host. The shim is this program again
(``cnxbackup _remote-tool SPEC -- ARGS``), reusing the parent's master connection. Non-secret
environment is set on the remote command line; the variables named in ``forward``
(passwords) travel on stdin, never on any argv.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from typing import Dict, List, Sequence

from ..hosts import Host
from .base import SECRETS_PROLOGUE, secrets_stdin
from .ssh import SshTransport


def remote_tool_argv(transport: SshTransport, host: Host, remote_tool: str, env: Dict[str, str], forward: List[str],
                     spec_dir: str, prefix: Sequence[str] = ()) -> List[str]:
    """argv of a local shim that runs ``remote_tool`` on ``host`` through ``transport``'s master;
    ``prefix``: words before it (the switch to the tool's owner, ``runuser -u USER -- /bin/sh -c ...``)."""
    spec = {"host": {"name": host.name, "address": host.address, "user": host.user, "port": host.port,
                     "key": host.key, "roles": list(host.roles)},
            "control_dir": transport.control_dir,
            "known_hosts": transport.known_hosts_file,
            "strict": transport.strict_host_key_checking,
            "env": env, "forward": forward, "tool": remote_tool, "prefix": list(prefix)}
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
    with open(spec_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    host = Host(**{**spec["host"], "roles": tuple(spec["host"]["roles"])})
    transport = SshTransport(strict_host_key_checking=spec["strict"], known_hosts_file=spec["known_hosts"],
                             control_dir=spec["control_dir"])
    assignments = " ".join(f"{k}={shlex.quote(str(v))}" for k, v in spec["env"].items())
    words = [*spec.get("prefix", []), spec["tool"], *args]
    command = (f"{assignments} " if assignments else "") + " ".join(shlex.quote(a) for a in words)
    secrets = {name: os.environ[name] for name in spec["forward"] if name in os.environ}
    if secrets:
        proc = subprocess.run(transport.argv(host, SECRETS_PROLOGUE + command), input=secrets_stdin(secrets))
    else:
        proc = subprocess.run(transport.argv(host, command), stdin=subprocess.DEVNULL)
    return proc.returncode
