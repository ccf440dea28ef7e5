"""OpenSSH transport: run commands, stream and copy files on the hosts of a deployment.

Uses the system ``ssh`` binary only (nothing is installed on the hosts; they need a POSIX
``sh``, ``cat``, ``ls``, ``wc``, ``chmod``, ``mv``). One master connection per host is shared
by every command (ControlMaster/ControlPath in a private 0700 directory, ControlPersist), so
only the first command per host pays for the handshake. Call ``check(host)`` first: it opens
the master and turns connection failures into ``HostUnreachable``.

Keys only: BatchMode=yes, ssh never prompts. Every remote command runs as
``exec sh -c '<command>'`` so remote and local (``LocalTransport``: ``sh -c``) behave alike
whatever the login shell is.

How secrets travel: :mod:`cnxbackup.transport.base`.
"""
from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
from typing import Any, List, Mapping, Optional, Union

from ..archive import Cipher, CopyResult, open_source, pump, receive
from ..hosts import Host
from .base import SECRETS_PROLOGUE, HostUnreachable, TransferError, as_bytes, decoded, secrets_stdin
from .local import LocalTransport

log = logging.getLogger(__name__)

SSH_FAILURE_RC = 255  # ssh's own exit status for connection/auth failures


_OPTION_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


# (pattern in ssh's stderr, short reason); first match wins.
_FAILURE_REASONS = [
    ("Connection refused", "connection refused"),
    ("Permission denied", "authentication failed (key not accepted)"),
    ("Too many authentication failures", "authentication failed (key not accepted)"),
    ("Host key verification failed", "host key verification failed"),
    ("REMOTE HOST IDENTIFICATION HAS CHANGED", "host key changed"),
    ("No route to host", "no route to host"),
    ("Network is unreachable", "network unreachable"),
    ("Could not resolve hostname", "hostname does not resolve"),
    ("timed out", "connection timed out"),
    ("Timeout, server", "host stopped answering (keepalive timeout)"),
    ("Connection reset", "connection reset"),
    ("Connection closed by", "connection closed by host"),
    ("kex_exchange_identification", "connection closed during handshake"),
    ("Broken pipe", "connection lost"),
    ("mux_client", "connection lost"),
]


def classify_ssh_failure(host: Host, returncode: int, stderr: Union[str, bytes]) -> Optional[HostUnreachable]:
    """HostUnreachable if (rc, stderr) is ssh's own connection failure, else None (remote command failed)."""
    if returncode != SSH_FAILURE_RC:
        return None
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else (stderr or "")
    for pattern, reason in _FAILURE_REASONS:
        if pattern in text:
            lines = [ln for ln in text.strip().splitlines() if pattern in ln]
            return HostUnreachable(host, reason, lines[-1] if lines else "")
    return None


def _mode_from_ls(mode_field: str) -> int:
    """'-rwsr-x--T' (ls -l) -> 0o5754; ACL/SELinux markers after the 10th char are ignored."""
    perms = mode_field[1:10]
    if len(perms) != 9:
        raise ValueError(f"unexpected ls mode field {mode_field!r}")
    mode = 0
    bits = [0o400, 0o200, 0o100, 0o040, 0o020, 0o010, 0o004, 0o002, 0o001]
    special = {2: 0o4000, 5: 0o2000, 8: 0o1000}
    for i, ch in enumerate(perms):
        if ch in "rwxst":
            mode |= bits[i]
        if i in special and ch in "sStT":
            mode |= special[i]
    return mode


class _StderrReader:
    """Collects a child's stderr in a thread, so that a full stderr pipe never stalls it."""

    def __init__(self, proc: "subprocess.Popen[bytes]") -> None:
        self._chunks: List[bytes] = []
        stream = proc.stderr
        assert stream is not None
        self._thread = threading.Thread(target=lambda: self._chunks.append(stream.read()), daemon=True)
        self._thread.start()

    def join(self) -> bytes:
        self._thread.join()
        return b"".join(self._chunks)


class SshTransport:
    """OpenSSH client with one multiplexed master connection per host.

    Local hosts (``Host.is_local``) are delegated to a LocalTransport, so callers can use one
    transport for every host. Use as a context manager or call ``close()``.
    """

    def __init__(self, *, strict_host_key_checking: str = "yes", known_hosts_file: Optional[str] = None,
                 connect_timeout: int = 10, server_alive_interval: int = 15, server_alive_count_max: int = 3,
                 control_persist: str = "10m", ssh_config: Optional[str] = None, ssh_binary: str = "ssh",
                 extra_options: Optional[Mapping[str, str]] = None, control_dir: Optional[str] = None) -> None:
        if strict_host_key_checking not in ("yes", "accept-new", "no"):
            raise ValueError(f"strict_host_key_checking must be yes, accept-new or no, not {strict_host_key_checking!r}")
        self.strict_host_key_checking = strict_host_key_checking
        self.known_hosts_file = known_hosts_file
        self.connect_timeout = connect_timeout
        self.server_alive_interval = server_alive_interval
        self.server_alive_count_max = server_alive_count_max
        self.control_persist = control_persist
        self.ssh_config = ssh_config
        self.ssh_binary = ssh_binary
        self.extra_options = dict(extra_options or {})
        # Short path: unix socket paths are limited to ~104 bytes, %C adds 40 hex digits.
        # A child process (the remote DB tool shim) may share the parent's masters via control_dir.
        self.owns_control_dir = control_dir is None
        self.control_dir = control_dir or tempfile.mkdtemp(prefix="cnxssh-", dir="/tmp")
        if self.owns_control_dir:
            os.chmod(self.control_dir, 0o700)
        self.local = LocalTransport()
        self._used: dict[str, Host] = {}
        self._lock = threading.Lock()
        self._connect_locks: dict[str, threading.Lock] = {}

    def __enter__(self) -> "SshTransport":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- argv ---------------------------------------------------------------------------
    def _options(self, host: Host) -> list[str]:
        opts: dict[str, str] = {
            "BatchMode": "yes",
            "StrictHostKeyChecking": self.strict_host_key_checking,
            "ConnectTimeout": str(self.connect_timeout),
            "ServerAliveInterval": str(self.server_alive_interval),
            "ServerAliveCountMax": str(self.server_alive_count_max),
            "ControlMaster": "auto",
            "ControlPath": os.path.join(self.control_dir, "%C"),
            "ControlPersist": self.control_persist,
            "LogLevel": "ERROR",  # no "Permanently added" chatter mixed into streamed stderr
            "ClearAllForwardings": "yes",
            "ForwardAgent": "no",
            "ForwardX11": "no",
        }
        if self.known_hosts_file:
            opts["UserKnownHostsFile"] = self.known_hosts_file
        if host.key:
            opts["IdentitiesOnly"] = "yes"
        opts.update(self.extra_options)
        opts.update({str(k): str(v) for k, v in host.options.items()})
        argv: list[str] = []
        for name, value in opts.items():
            if not _OPTION_NAME.match(name) or "\n" in value:
                raise ValueError(f"bad ssh option {name!r}={value!r} for host {host.name}")
            argv += ["-o", f"{name}={value}"]
        return argv

    def _base(self, host: Host) -> list[str]:
        argv = [self.ssh_binary]
        if self.ssh_config:
            argv += ["-F", self.ssh_config]
        argv += self._options(host)
        argv += ["-p", str(host.port)]
        if host.key:
            argv += ["-i", str(host.key)]
        if host.user:
            argv += ["-l", host.user]
        return argv

    def argv(self, host: Host, remote_command: str) -> list[str]:
        """Full ssh argv running remote_command (POSIX sh) on host; for Popen pipelines.

        Give the Popen ``stdin=subprocess.DEVNULL`` unless you feed it, and call ``check(host)``
        first so the master exists and failures are reported as HostUnreachable.
        """
        if host.is_local:
            return self.local.argv(host, remote_command)
        with self._lock:
            self._used.setdefault(host.name, host)
        return self._base(host) + ["-T", "-e", "none", "--", str(host.address),
                                   "exec sh -c " + shlex.quote(remote_command)]

    # -- commands -------------------------------------------------------------------------
    def run(self, host: Host, remote_command: str, *, input: Union[str, bytes, None] = None,
            timeout: Optional[float] = None, env_secrets: Optional[Mapping[str, str]] = None,
            text: bool = True) -> subprocess.CompletedProcess:
        """Run remote_command; returns CompletedProcess (non-zero rc of the command is not raised).

        Raises HostUnreachable when ssh itself failed or the connection dropped (see explain_failure).
        """
        if host.is_local:
            return self.local.run(host, remote_command, input=input, timeout=timeout,
                                  env_secrets=env_secrets, text=text)
        stdin = secrets_stdin(env_secrets) + as_bytes(input)
        command = (SECRETS_PROLOGUE + remote_command) if env_secrets else remote_command
        log.debug("ssh %s: %s", host.name, remote_command)
        proc = subprocess.run(self.argv(host, command), input=stdin, capture_output=True, timeout=timeout)
        failure = self.explain_failure(host, proc.returncode, proc.stderr)
        if failure is not None:
            raise failure
        return decoded(proc, text)

    def check(self, host: Host) -> None:
        """Open (or verify) the master connection; raises HostUnreachable naming host and reason."""
        if host.is_local:
            return
        with self._lock:
            host_lock = self._connect_locks.setdefault(host.name, threading.Lock())
        # one connect at a time per host: parallel first connects would each become a master
        with host_lock:
            try:
                proc = subprocess.run(self.argv(host, "true"), stdin=subprocess.DEVNULL, capture_output=True,
                                      timeout=self.connect_timeout * 2 + 10)
            except subprocess.TimeoutExpired:
                raise HostUnreachable(host, "connection timed out") from None
        if proc.returncode != 0:
            failure = classify_ssh_failure(host, proc.returncode, proc.stderr)
            if failure is None:
                err = proc.stderr.decode(errors="replace").strip()
                failure = HostUnreachable(host, f"ssh failed with exit status {proc.returncode}", err)
            raise failure

    def is_connected(self, host: Host) -> bool:
        """True if a live master connection exists for host (``ssh -O check``)."""
        if host.is_local:
            return True
        proc = subprocess.run(self._base(host) + ["-O", "check", "--", str(host.address)],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
        return proc.returncode == 0

    def explain_failure(self, host: Host, returncode: int, stderr: Union[str, bytes]) -> Optional[HostUnreachable]:
        """For a finished ssh process (e.g. an archive stream): HostUnreachable if the connection
        failed or was lost, None if the remote command itself failed.

        ssh exits 255 both for its own failures and when the remote command exits 255; with
        LogLevel=ERROR a dropped connection leaves stderr empty, so a 255 that the text does not
        explain counts as lost only if the master connection is gone too.
        """
        if host.is_local or returncode != SSH_FAILURE_RC:
            return None
        failure = classify_ssh_failure(host, returncode, stderr)
        if failure is None and not self.is_connected(host):
            failure = HostUnreachable(host, "connection lost")
        return failure

    # -- file copies ----------------------------------------------------------------------
    def put(self, host: Host, local_path: str, remote_path: str) -> CopyResult:
        """Copy a local file to host: streamed through ``cat`` into a new ``REMOTE.partial.XXXXXXXX``
        (``mktemp``: created ``O_EXCL``, a name nobody could plant a link, hard link or FIFO at), size
        checked, mode preserved, then renamed; a broken transfer leaves the destination untouched."""
        if host.is_local:
            return self.local.put(host, local_path, remote_path)
        with open_source(local_path) as source:
            st = os.fstat(source.fileno())
            mode = st.st_mode & 0o7777
            template = shlex.quote(remote_path + ".partial.XXXXXXXX")
            final = shlex.quote(remote_path)
            command = (f"umask 077; tmp=$(mktemp {template}) || {{ echo \"cnxbackup: put failed (mktemp)\" >&2; exit 1; }}; "
                       f"cat > \"$tmp\" && n=$(wc -c < \"$tmp\") && [ $n -eq {st.st_size} ] "
                       f"&& chmod {mode:o} \"$tmp\" && mv -f \"$tmp\" {final} "
                       f"|| {{ rc=$?; rm -f \"$tmp\"; echo \"cnxbackup: put failed (exit $rc)\" >&2; exit 1; }}")
            proc = subprocess.Popen(self.argv(host, command), stdin=subprocess.PIPE,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            assert proc.stdin is not None
            stderr = _StderrReader(proc)
            digest, size = "", -1
            try:
                digest, size = pump(source, proc.stdin.write)
                proc.stdin.close()
            except BrokenPipeError:
                pass
        rc = proc.wait()
        err = stderr.join()
        if rc != 0 or size != st.st_size:
            failure = self.explain_failure(host, rc, err)
            if failure is not None:
                raise failure
            raise TransferError(f"put {local_path} -> {host.name}:{remote_path} failed (exit {rc}): "
                                f"{err.decode(errors='replace').strip()}")
        return CopyResult(size, digest)

    def get(self, host: Host, remote_path: str, local_path: str, cipher: Optional[Cipher] = None) -> CopyResult:
        """Copy a regular file from host: ``ls -ln`` (mode, size) then ``cat`` in one session,
        written to LOCAL.partial (through ``cipher`` when given), hashed as it lands, size checked,
        fsynced, renamed."""
        if host.is_local:
            return self.local.get(host, remote_path, local_path, cipher)
        if "\n" in remote_path:
            raise ValueError(f"remote path with a newline cannot be fetched: {remote_path!r}")
        q = shlex.quote(remote_path)
        command = f"LC_ALL=C ls -ldn -- {q} && exec cat -- {q}"
        proc = subprocess.Popen(self.argv(host, command), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None
        stderr = _StderrReader(proc)

        def failed(why: str) -> Exception:
            proc.stdout.close()  # type: ignore[union-attr]  # a sender still writing gets SIGPIPE, not a deadlock
            rc = proc.wait()
            err = stderr.join()
            failure = self.explain_failure(host, rc, err)
            if failure is not None:
                return failure
            return TransferError(f"get {host.name}:{remote_path} -> {local_path} failed ({why or f'exit {rc}'}): "
                                 f"{err.decode(errors='replace').strip()}")

        try:
            fields = proc.stdout.readline().decode(errors="replace").split()
            if len(fields) < 5:
                raise failed("")
            if not fields[0].startswith("-"):
                raise failed(f"{remote_path} is not a regular file")
            mode, expected = _mode_from_ls(fields[0]), int(fields[4])

            def complete(result: CopyResult, fd: int) -> None:
                received = result.size if result.source_size is None else result.source_size
                if proc.wait() != 0 or received != expected:
                    raise failed(f"exit {proc.returncode}, {received} of {expected} bytes")
                os.fchmod(fd, mode)

            return receive(proc.stdout, local_path, before_publish=complete, cipher=cipher)
        finally:
            proc.stdout.close()
            proc.wait()
            stderr.join()

    # -- teardown -------------------------------------------------------------------------
    def close(self) -> None:
        """Stop every master connection (``ssh -O exit``) and remove the control directory."""
        if not self.owns_control_dir:
            return  # a child sharing the parent's masters leaves them to the parent
        with self._lock:
            hosts = list(self._used.values())
            self._used.clear()
        for host in hosts:
            try:
                subprocess.run(self._base(host) + ["-O", "exit", "--", str(host.address)],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
            except (OSError, subprocess.TimeoutExpired) as e:
                log.warning("could not stop ssh master for %s: %s", host.name, e)
        shutil.rmtree(self.control_dir, ignore_errors=True)
