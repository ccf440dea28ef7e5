"""OpenSSH transport against real sshd hosts on loopback (cnxbackup.demo.sshhosts)."""

from __future__ import annotations

import os
import threading
import time

from cnxbackup.transport import Cancelled, Host, LocalTransport, SshTransport, run_per_host  # noqa: E402


def test_run_per_host_limits_and_cancel():
    active: dict[str, int] = {}
    peak: dict[str, int] = {}
    peak_total = [0]
    lock = threading.Lock()

    def worker(name, item):
        with lock:
            active[name] = active.get(name, 0) + 1
            peak[name] = max(peak.get(name, 0), active[name])
            peak_total[0] = max(peak_total[0], sum(active.values()))
        time.sleep(0.05)
        with lock:
            active[name] -= 1
        if item == "boom":
            raise RuntimeError("item failed")
        return item

    items = {"a": list(range(6)) + ["boom"], "b": list(range(6)), "c": list(range(6))}
    results = run_per_host(items, worker, per_host_limit=2, total_limit=3, cancel=threading.Event())
    assert max(peak.values()) == 2 and peak_total[0] == 3
    failed = [r for r in results if not r.ok]
    assert len(failed) == 1 and str(failed[0].error) == "item failed"
    assert [r.item for r in results if r.host == "a"] == list(range(6)) + ["boom"]

    cancel = threading.Event()
    cancel.set()
    results = run_per_host({"a": [1, 2]}, worker, per_host_limit=1, total_limit=1, cancel=cancel)
    assert all(isinstance(r.error, Cancelled) for r in results)


def test_local_transport_same_interface(tmp_path):
    local = Host(name="dmgr", address="local")
    assert local.is_local
    t = LocalTransport()
    proc = t.run(local, 'printf %s "$SECRET"; cat', input=b"in", env_secrets={"SECRET": "s"})
    assert (proc.returncode, proc.stdout) == (0, "sin")
    src = tmp_path / "a b'c"
    src.write_bytes(b"x" * 10)
    os.chmod(src, 0o604)
    res = t.get(local, str(src), str(tmp_path / "copy"))
    assert res.size == 10 and (tmp_path / "copy").stat().st_mode & 0o777 == 0o604
    with SshTransport() as ssh:  # local hosts never touch ssh
        assert ssh.argv(local, "echo hi") == ["sh", "-c", "echo hi"]
        assert ssh.run(local, "echo hi").stdout == "hi\n"
