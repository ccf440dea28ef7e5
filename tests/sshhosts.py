"""The ssh test hosts of ``cnxbackup.demo.sshhosts``, plus their pytest fixture.

``from sshhosts import ssh_hosts_factory`` in a test module registers a session fixture;
``ssh_hosts_factory(n)`` returns n fresh hosts, all stopped at session end. Tests skip with
the reason when sshd cannot run here (not root, sshd missing, ...).
"""
from __future__ import annotations

from typing import Callable, Iterator

import pytest

from cnxbackup.demo.sshhosts import *  # noqa: F401,F403  (the helpers, re-exported for the tests)
from cnxbackup.demo.sshhosts import SshHostsUnavailable, TestHost, start_hosts, stop_all


@pytest.fixture(scope="session")
def ssh_hosts_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[int], list[TestHost]]]:
    """make(n) -> n fresh hosts; all are stopped at session end; skips if sshd cannot run."""
    started: list[TestHost] = []
    base = tmp_path_factory.mktemp("sshhosts")

    def make(n: int) -> list[TestHost]:
        try:
            hosts = start_hosts(n, base)
        except SshHostsUnavailable as e:
            pytest.skip(f"no sshd test hosts: {e}")
        started.extend(hosts)
        return hosts

    yield make
    stop_all(started)
