"""Several real OpenSSH "hosts" on this machine, for multi-host tests.

Each host is its own ``/usr/sbin/sshd -D -e -f CONFIG`` on a free 127.0.0.1 port with its own
host key, pid file, authorized_keys and log under ``BASE/hostN/``, and its own file tree
``BASE/hostN/root`` (so hosts are distinguishable; point the driver at per-host paths).
Every session on hostN also sees ``CNX_TEST_HOST=hostN`` in its environment (sshd SetEnv).

Login is as the current user (root in CI) with one client key ``BASE/client_key``; no system
users are created, nothing outside BASE and /run/sshd is touched.

Plain functions: ``start_hosts(n, base_dir)``, ``stop_host(h)``, ``freeze_host(h)``,
``thaw_host(h)``, ``restart_host(h)``, ``stop_all(hosts)``.
The pytest fixture ``ssh_hosts_factory`` lives in ``tests/sshhosts.py``, which re-exports these.
"""
from __future__ import annotations

import atexit
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"
PRIVSEP_DIR = Path("/run/sshd")
START_TIMEOUT = 10.0


class SshHostsUnavailable(RuntimeError):
    """sshd cannot be started on this machine; the message says why."""


@dataclass
class TestHost:
    __test__ = False  # not a pytest test class

    name: str
    port: int
    address: str
    user: str
    key: Path
    root: Path
    dir: Path
    known_hosts_line: str
    pid: int = 0
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def config(self) -> Path:
        return self.dir / "sshd_config"

    @property
    def log(self) -> Path:
        return self.dir / "sshd.log"


def _require_sshd() -> None:
    if not os.path.exists(SSHD):
        raise SshHostsUnavailable(f"{SSHD} not installed (make setup installs openssh-server)")
    if os.geteuid() != 0:
        raise SshHostsUnavailable("sshd test hosts need root (privilege separation, other users' logins)")
    if not os.path.exists(SSH_KEYGEN):
        raise SshHostsUnavailable("ssh-keygen not installed")
    PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path, comment: str) -> None:
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def _write_config(h: TestHost) -> None:
    h.config.write_text(
        f"Port {h.port}\n"
        f"ListenAddress {h.address}\n"
        f"HostKey {h.dir / 'ssh_host_ed25519_key'}\n"
        f"PidFile {h.dir / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {h.dir / 'authorized_keys'}\n"
        "UsePAM no\n"
        "PermitRootLogin prohibit-password\n"
        "PubkeyAuthentication yes\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "StrictModes no\n"
        "X11Forwarding no\n"
        "PrintMotd no\n"
        "LogLevel VERBOSE\n"
        # own HOME per host: no login scripts of this machine's root run (and slow) the sessions
        f"SetEnv CNX_TEST_HOST={h.name} HOME={h.dir / 'home'}\n"
        "Subsystem sftp internal-sftp\n"
    )


def _wait_listening(h: TestHost, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if h.process is not None and h.process.poll() is not None:
            return False
        try:
            with socket.create_connection((h.address, h.port), timeout=0.5) as s:
                s.settimeout(2)
                if s.recv(64).startswith(b"SSH-"):
                    return True
        except OSError:
            time.sleep(0.05)
    return False


def _launch(h: TestHost) -> None:
    log = open(h.log, "ab")
    try:
        h.process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(h.config)], stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log, start_new_session=True)
    finally:
        log.close()
    h.pid = h.process.pid
    if not _wait_listening(h, time.monotonic() + START_TIMEOUT):
        _kill_tree(h.pid)
        tail = h.log.read_text(errors="replace")[-800:]
        raise SshHostsUnavailable(f"sshd for {h.name} on port {h.port} did not start: {tail.strip()}")


def start_hosts(n: int, base_dir: str | os.PathLike) -> list[TestHost]:
    """Start n sshd hosts under base_dir (host1..hostN); returns them listening and ready."""
    _require_sshd()
    base = Path(base_dir)
    base.mkdir(parents=True, exist_ok=True)
    client_key = base / "client_key"
    if not client_key.exists():
        _keygen(client_key, "cnxbackup-tests")
    pub = (base / "client_key.pub").read_text()
    existing = len([p for p in base.glob("host*") if p.is_dir()])
    hosts: list[TestHost] = []
    try:
        for i in range(existing + 1, existing + n + 1):
            d = base / f"host{i}"
            (d / "root").mkdir(parents=True)
            (d / "home").mkdir()
            _keygen(d / "ssh_host_ed25519_key", f"host{i}")
            (d / "authorized_keys").write_text(pub)
            host_pub = (d / "ssh_host_ed25519_key.pub").read_text().split()
            h = TestHost(name=f"host{i}", port=0, address="127.0.0.1", user=getpass.getuser(),
                         key=client_key, root=d / "root", dir=d, known_hosts_line="")
            for attempt in range(3):  # a free port can be taken between probe and bind
                h.port = _free_port()
                h.known_hosts_line = f"[{h.address}]:{h.port} {host_pub[0]} {host_pub[1]}\n"
                _write_config(h)
                try:
                    _launch(h)
                    break
                except SshHostsUnavailable:
                    if attempt == 2:
                        raise
            hosts.append(h)
    except BaseException:
        stop_all(hosts)
        raise
    atexit.register(stop_all, list(hosts))  # no sshd outlives the test process
    return hosts


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def descendants(pid: int) -> list[int]:
    """All live descendants of pid (sshd per-connection monitors, user sessions, their commands)."""
    children = _children_map()
    found: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def _signal_all(pids: list[int], sig: int) -> None:
    for p in pids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass


def _kill_tree(pid: int) -> None:
    """SIGKILL pid and every descendant; sessions first so none is re-parented and missed."""
    for _ in range(20):
        desc = descendants(pid)
        if not desc:
            break
        _signal_all(desc, signal.SIGCONT)
        _signal_all(desc, signal.SIGKILL)
        time.sleep(0.02)
    _signal_all([pid], signal.SIGCONT)
    _signal_all([pid], signal.SIGKILL)


def stop_host(h: TestHost) -> None:
    """Take the host down hard: kill its sshd and all session children (in-flight transfers break)."""
    if h.process is None:
        return
    _kill_tree(h.pid)
    try:
        h.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    h.process = None


def freeze_host(h: TestHost) -> None:
    """Simulate a hung host / dead network: SIGSTOP sshd and its sessions (TCP stays open, silent)."""
    if h.process is None:
        return
    _signal_all([h.pid] + descendants(h.pid), signal.SIGSTOP)


def thaw_host(h: TestHost) -> None:
    if h.process is None:
        return
    _signal_all([h.pid] + descendants(h.pid), signal.SIGCONT)


def restart_host(h: TestHost) -> None:
    """Start the host again on the same port with the same host key (known_hosts stays valid)."""
    stop_host(h)
    _launch(h)


def stop_all(hosts: list[TestHost]) -> None:
    for h in hosts:
        stop_host(h)


def write_known_hosts(hosts: list[TestHost], path: str | os.PathLike) -> Path:
    """A known_hosts file trusting exactly these hosts' keys (for StrictHostKeyChecking=yes)."""
    p = Path(path)
    p.write_text("".join(h.known_hosts_line for h in hosts))
    return p
