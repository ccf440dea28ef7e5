"""OpenSSH transport against real sshd hosts on loopback (cnxbackup.demo.sshhosts)."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from cnxbackup.transport import Host, HostUnreachable, SshTransport, TransferError, run_per_host  # noqa: E402
from sshhosts import TestHost, freeze_host, restart_host, stop_host, thaw_host  # noqa: E402


def as_host(h: TestHost) -> Host:
    return Host(name=h.name, address=h.address, user=h.user, port=h.port, key=str(h.key))


@pytest.fixture
def transport(tmp_path):
    t = SshTransport(strict_host_key_checking="accept-new", known_hosts_file=str(tmp_path / "known_hosts"),
                     connect_timeout=2, server_alive_interval=1, server_alive_count_max=2,
                     ssh_config="/dev/null")
    yield t
    t.close()


@pytest.fixture(scope="module")
def three_hosts(ssh_hosts_factory):
    """Shared, never taken down; tests that stop hosts make their own."""
    return ssh_hosts_factory(3)


def accepted_logins(h: TestHost) -> int:
    return h.log.read_text(errors="replace").count("Accepted publickey")


def test_command_on_three_hosts_in_parallel(three_hosts, transport):
    for h in three_hosts:
        (h.root / "marker").write_text(f"files of {h.name}\n")
    hosts = {h.name: as_host(h) for h in three_hosts}
    for host in hosts.values():
        transport.check(host)
    roots = {h.name: str(h.root) for h in three_hosts}

    def worker(name, item):
        cmd = f"sleep 1; echo $CNX_TEST_HOST; cat {roots[name]}/marker; echo {item}"
        return transport.run(hosts[name], cmd, timeout=20)

    start = time.monotonic()
    results = run_per_host({n: ["x"] for n in hosts}, worker, per_host_limit=2, total_limit=3,
                           cancel=threading.Event())
    elapsed = time.monotonic() - start
    assert [r.error for r in results] == [None, None, None]
    for r in results:
        assert r.value.returncode == 0
        assert r.value.stdout == f"{r.host}\nfiles of {r.host}\nx\n"
    assert elapsed < 2.5, f"3 x 1 s on 3 hosts took {elapsed:.1f}s: not parallel"


def test_remote_exit_status_and_stderr_are_returned(three_hosts, transport):
    host = as_host(three_hosts[0])
    proc = transport.run(host, "echo out; echo err >&2; exit 3")
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "out\n", "err\n")
    # 255 from the command itself is not mistaken for a connection failure
    proc = transport.run(host, "exit 255")
    assert proc.returncode == 255
    assert transport.explain_failure(host, 255, "") is None


def test_secrets_go_through_stdin_never_argv_or_logs(three_hosts, transport, caplog):
    caplog.set_level(logging.DEBUG, logger="cnxbackup")
    h = three_hosts[1]
    host = as_host(h)
    secret = "Pa55 w'o\"rd$(x)-" + os.urandom(6).hex()
    out: dict = {}

    def remote():
        out["proc"] = transport.run(host, 'sleep 2; printf "%s|" "$DB_PASSWORD"; cat',
                                    input="rest-of-stdin", env_secrets={"DB_PASSWORD": secret}, timeout=20)

    worker = threading.Thread(target=remote)
    worker.start()
    seen_sleep = False
    deadline = time.monotonic() + 1.8
    while time.monotonic() < deadline:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            assert secret.encode() not in cmdline, f"secret visible in argv of pid {pid}"
            seen_sleep = seen_sleep or cmdline == b"sleep\x002\x00"
        time.sleep(0.05)
    worker.join()
    assert seen_sleep, "the remote command was not observed running"
    assert out["proc"].returncode == 0
    assert out["proc"].stdout == secret + "|rest-of-stdin"
    assert secret not in caplog.text
    assert secret not in h.log.read_text(errors="replace")


def test_bad_secret_names_and_values_are_refused(three_hosts, transport):
    host = as_host(three_hosts[0])
    with pytest.raises(ValueError):
        transport.run(host, "true", env_secrets={"BAD NAME": "x"})
    with pytest.raises(ValueError):
        transport.run(host, "true", env_secrets={"X": "two\nlines"})


def test_second_command_reuses_the_master(ssh_hosts_factory, transport):
    (h,) = ssh_hosts_factory(1)
    host = as_host(h)
    assert not transport.is_connected(host)
    start = time.monotonic()
    transport.check(host)
    first = time.monotonic() - start
    assert transport.is_connected(host)
    start = time.monotonic()
    for _ in range(4):
        assert transport.run(host, "echo hi").stdout == "hi\n"
    reused = (time.monotonic() - start) / 4
    assert reused < first / 2, f"first {first:.3f}s, later {reused:.3f}s each"
    # five sessions, one SSH login: the others went through the control socket
    assert accepted_logins(h) == 1
    transport.close()
    assert not os.path.exists(transport.control_dir)


def test_unreachable_host_is_reported_quickly_with_name_and_address(ssh_hosts_factory, transport):
    (h,) = ssh_hosts_factory(1)
    stop_host(h)
    host = as_host(h)
    start = time.monotonic()
    with pytest.raises(HostUnreachable) as err:
        transport.check(host)
    assert time.monotonic() - start < 3
    msg = str(err.value)
    assert h.name in msg and f"127.0.0.1:{h.port}" in msg and "connection refused" in msg
    assert err.value.host is host


def test_hung_host_times_out_on_connect(ssh_hosts_factory, transport):
    (h,) = ssh_hosts_factory(1)
    freeze_host(h)
    try:
        start = time.monotonic()
        with pytest.raises(HostUnreachable) as err:
            transport.check(as_host(h))
        elapsed = time.monotonic() - start
    finally:
        thaw_host(h)
    assert "timed out" in err.value.reason
    assert elapsed < 6, f"ConnectTimeout=2 but took {elapsed:.1f}s"


def test_wrong_key_is_an_auth_failure(three_hosts, transport, tmp_path):
    other_key = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)], check=True)
    host = as_host(three_hosts[2])
    host.key = str(other_key)
    with pytest.raises(HostUnreachable) as err:
        transport.check(host)
    assert "authentication failed" in err.value.reason


def _start_stream(transport, host):
    cmd = "while head -c 65536 /dev/zero; do sleep 0.01; done"  # ends when the reader is gone
    return subprocess.Popen(transport.argv(host, cmd), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _read_until_eof(proc, limit: float) -> float:
    start = time.monotonic()
    timer = threading.Timer(limit, proc.kill)  # a hang fails the test instead of blocking it
    timer.start()
    try:
        while proc.stdout.read(65536):
            pass
        proc.wait()
    finally:
        timer.cancel()
    return time.monotonic() - start


@pytest.mark.parametrize("how", ["killed", "hung"])
def test_host_down_mid_stream_breaks_the_reader(ssh_hosts_factory, transport, how):
    (h,) = ssh_hosts_factory(1)
    host = as_host(h)
    transport.check(host)
    proc = _start_stream(transport, host)
    assert len(proc.stdout.read(256 * 1024)) == 256 * 1024
    if how == "killed":
        stop_host(h)
    else:
        freeze_host(h)  # silent peer: only ServerAlive (1 s x 2) notices
    try:
        elapsed = _read_until_eof(proc, limit=15)
    finally:
        thaw_host(h)
    assert proc.returncode != 0
    assert elapsed < (3 if how == "killed" else 8), f"stream noticed the dead host after {elapsed:.1f}s"
    lost = transport.explain_failure(host, proc.returncode, proc.stderr.read())
    assert isinstance(lost, HostUnreachable) and h.name in str(lost)
    # the transport recovers once the host is back
    restart_host(h)
    transport.check(host)
    assert transport.run(host, "echo back").stdout == "back\n"


def test_put_get_round_trip_with_awkward_path(three_hosts, transport, tmp_path):
    h = three_hosts[0]
    host = as_host(h)
    src = tmp_path / "src file"
    payload = os.urandom(3 * 1024 * 1024 + 17)
    src.write_bytes(payload)
    os.chmod(src, 0o750)
    remote_dir = h.root / "db images" / "it's here"
    transport.run(host, f"mkdir -p '{h.root}/db images'/\"it's here\"")
    remote = str(remote_dir / "BLOGS.0.db2inst1.\"x\" y.001")

    put = transport.put(host, str(src), remote)
    assert put.size == len(payload) and put.sha256 == hashlib.sha256(payload).hexdigest()
    assert Path(remote).read_bytes() == payload
    assert Path(remote).stat().st_mode & 0o7777 == 0o750
    assert not Path(remote + ".partial").exists()

    os.chmod(remote, 0o640)
    back = tmp_path / "back 'copy'"
    got = transport.get(host, remote, str(back))
    assert back.read_bytes() == payload
    assert got.sha256 == put.sha256
    assert back.stat().st_mode & 0o7777 == 0o640


@pytest.mark.timeout(60)
def test_put_does_not_write_through_a_planted_partial_name(three_hosts, transport, tmp_path):
    """Issue 26: the remote partial was ``REMOTE.partial``, opened by ``cat >``: a hard link planted
    there was written through (its target truncated and overwritten), a FIFO hung the put."""
    h = three_hosts[0]
    host = as_host(h)
    src = tmp_path / "src"
    src.write_bytes(b"ours\n")
    outside = h.root / "outside-target"
    outside.write_bytes(b"root's\n")
    remote = h.root / "planted" / "image.001"
    remote.parent.mkdir(parents=True, exist_ok=True)
    os.link(outside, str(remote) + ".partial")
    transport.put(host, str(src), str(remote))
    assert outside.read_bytes() == b"root's\n" and remote.read_bytes() == b"ours\n"
    fifo_dest = h.root / "planted" / "image.002"
    os.mkfifo(str(fifo_dest) + ".partial")
    transport.put(host, str(src), str(fifo_dest))
    assert fifo_dest.read_bytes() == b"ours\n"
    assert not [n for n in os.listdir(remote.parent) if ".partial." in n]  # nothing of ours left beside


def test_get_missing_file_fails_and_leaves_nothing(three_hosts, transport, tmp_path):
    host = as_host(three_hosts[0])
    dest = tmp_path / "out"
    with pytest.raises(TransferError):
        transport.get(host, str(three_hosts[0].root / "no such file"), str(dest))
    assert not dest.exists() and not Path(str(dest) + ".partial").exists()


@pytest.mark.timeout(60)
def test_get_of_an_endless_device_is_refused_without_hanging(three_hosts, transport, tmp_path):
    """/dev/zero is no regular file: refused at its ls line, and the cat already streaming is cut off."""
    host = as_host(three_hosts[0])
    dest = tmp_path / "out"
    with pytest.raises(TransferError, match="is not a regular file"):
        transport.get(host, "/dev/zero", str(dest))
    assert not dest.exists() and not Path(str(dest) + ".partial").exists()


def test_put_into_missing_directory_fails(three_hosts, transport, tmp_path):
    host = as_host(three_hosts[0])
    src = tmp_path / "f"
    src.write_bytes(b"data")
    with pytest.raises(TransferError):
        transport.put(host, str(src), str(three_hosts[0].root / "missing" / "f"))


def test_run_per_host_continues_when_one_host_is_down(ssh_hosts_factory, transport):
    hosts_up_down = ssh_hosts_factory(3)
    down = hosts_up_down[1]
    stop_host(down)
    hosts = {h.name: as_host(h) for h in hosts_up_down}
    attempts: dict[str, int] = {}
    lock = threading.Lock()

    def worker(name, item):
        with lock:
            attempts[name] = attempts.get(name, 0) + 1
        transport.check(hosts[name])
        return transport.run(hosts[name], f"echo {item}").stdout.strip()

    items = {name: [f"{name}-{i}" for i in range(5)] for name in hosts}
    start = time.monotonic()
    results = run_per_host(items, worker, per_host_limit=2, total_limit=4, cancel=threading.Event())
    assert time.monotonic() - start < 10
    assert len(results) == 15
    for r in results:
        if r.host == down.name:
            assert isinstance(r.error, HostUnreachable) and down.name in str(r.error)
        else:
            assert r.ok and r.value == r.item
    assert attempts[down.name] <= 2, "items of a dead host must fail fast, not each retry the connection"
