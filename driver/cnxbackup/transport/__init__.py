"""Reaching the hosts of a deployment: one ``Transport`` Protocol, a local and an ssh implementation.

- :mod:`.base`: the Protocol, its errors, how secrets travel on stdin;
- :mod:`.local`: this machine (``sh -c``, plain copies);
- :mod:`.ssh`: OpenSSH with one multiplexed master per host, keys only;
- :mod:`.scheduler`: work items spread over hosts with per-host and overall limits;
- :mod:`.remote_tool`: a vendor tool on another host run through a local shim.

Every copy, either way, goes through the one hash-while-copy of :mod:`cnxbackup.archive.copy`.
"""
from __future__ import annotations

from ..archive import CopyResult
from ..config import Environment
from ..hosts import Host, is_multi_host
from .base import Cancelled, HostUnreachable, TransferError, Transport
from .local import LocalTransport
from .scheduler import ItemResult, run_per_host
from .ssh import SshTransport, classify_ssh_failure

__all__ = [
    "Cancelled", "CopyResult", "Host", "HostUnreachable", "ItemResult", "LocalTransport", "SshTransport",
    "TransferError", "Transport", "classify_ssh_failure", "make_transport", "run_per_host",
]


def make_transport(env: Environment) -> Transport:
    """SshTransport for multi-host environments (keys only, multiplexed); LocalTransport otherwise."""
    if not is_multi_host(env):
        return LocalTransport()
    known = [h.get("known_hosts") for h in env.data["hosts"] if h.get("known_hosts")]
    return SshTransport(strict_host_key_checking="yes" if known else "accept-new",
                        known_hosts_file=known[0] if known else None, connect_timeout=10,
                        server_alive_interval=5, server_alive_count_max=3)
