"""Hosts: from the environment's ``hosts`` list (schema defaults) to Host objects and limits."""
from __future__ import annotations

import threading
import time

import pytest

from cnxbackup.hosts import LOCAL, first_with_role, host_parallel, host_paths, hosts_of, is_multi_host, with_role
from cnxbackup.transport.scheduler import run_per_host
from envfiles import load

SINGLE = "target: {dir: /backup}\narchive: {parallel: 3}\ndatabase: {vendor: none}\n"
MULTI = """\
    target: {dir: /backup}
    database: {vendor: none}
    paths:
      profiles: [/opt/IBM/WebSphere/AppServer/profiles/AppSrv01]
    hosts:
      - {name: dmgr, address: dmgr.example.com, roles: [dmgr]}
      - name: node2
        address: node2.example.com
        user: wasadmin
        port: 2222
        key: /root/.ssh/id_cnx
        roles: [node]
        parallel: 4
        paths: {profiles: [/opt/IBM/WebSphere/AppServer/profiles/AppSrv02]}
      - {name: nfs, address: nfs.example.com, roles: [nfs, db]}
    """


def test_a_single_host_environment_is_one_local_host_with_every_role(tmp_path) -> None:
    env = load(tmp_path, SINGLE)
    hosts = hosts_of(env)
    assert list(hosts) == [LOCAL] and hosts[LOCAL].is_local and not is_multi_host(env)
    assert set(hosts[LOCAL].roles) == {"dmgr", "node", "db", "nfs"}
    assert host_parallel(env, LOCAL) == 3  # archive.parallel


def test_hosts_take_the_schema_defaults_and_their_own_settings(tmp_path) -> None:
    env = load(tmp_path, MULTI)
    hosts = hosts_of(env)
    assert is_multi_host(env) and list(hosts) == ["dmgr", "node2", "nfs"]
    assert (hosts["dmgr"].user, hosts["dmgr"].port, hosts["dmgr"].key) == ("root", 22, None)
    assert hosts["node2"].describe() == "wasadmin@node2.example.com:2222" and hosts["node2"].key == "/root/.ssh/id_cnx"
    assert host_parallel(env, "node2") == 4 and host_parallel(env, "dmgr") == 1  # archive.parallel's default
    assert with_role(env, "node") == ["node2"] and with_role(env, "db") == ["nfs"]
    assert first_with_role(env, "nfs", "dmgr") == "nfs" and first_with_role(env, "node") == "node2"
    assert first_with_role(env, "nothing") == "dmgr"  # the first host when no host has the role
    assert host_paths(env, "node2")["profiles"] == ["/opt/IBM/WebSphere/AppServer/profiles/AppSrv02"]
    assert host_paths(env, "dmgr")["profiles"] == ["/opt/IBM/WebSphere/AppServer/profiles/AppSrv01"]


def test_each_host_runs_at_most_its_own_number_of_items_at_once() -> None:
    running = {"a": 0, "b": 0}
    peak = {"a": 0, "b": 0}
    lock = threading.Lock()

    def worker(host: str, item: int) -> int:
        with lock:
            running[host] += 1
            peak[host] = max(peak[host], running[host])
        time.sleep(0.05)
        with lock:
            running[host] -= 1
        return item

    results = run_per_host({"a": range(6), "b": range(6)}, worker, per_host_limit={"a": 1, "b": 3}, total_limit=4,
                           cancel=threading.Event())
    assert [r.value for r in results] == list(range(6)) * 2 and all(r.error is None for r in results)
    assert peak == {"a": 1, "b": 3}


def test_a_host_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        run_per_host({"a": [1]}, lambda h, i: i, per_host_limit={"a": 0}, total_limit=1, cancel=threading.Event())
