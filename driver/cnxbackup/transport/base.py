"""What every transport offers (the ``Transport`` Protocol), its errors, and how secrets travel.

Secrets (``env_secrets``) never appear on any command line: they are written to the
command's stdin as ``NAME=value`` lines followed by one empty line; the prologue

    while IFS= read -r l && [ -n "$l" ]; do export "$l"; done; <command>

reads and exports them (``read`` takes a pipe byte by byte, so any further stdin is left
intact for the command). The command itself must then reference ``"$NAME"`` in a way that
does not put the value into some other process's argv (e.g. pass it on that tool's stdin).
"""
from __future__ import annotations

import re
import subprocess
from typing import Any, List, Mapping, Optional, Protocol, Union

from ..archive import Cipher, CopyResult
from ..errors import CnxBackupError
from ..hosts import Host

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


SECRETS_PROLOGUE = 'while IFS= read -r __cnx_kv && [ -n "$__cnx_kv" ]; do export "$__cnx_kv"; done; unset __cnx_kv; '


class HostUnreachable(CnxBackupError):
    """A host cannot be reached or logged in to; names the host, its address and why."""

    def __init__(self, host: "Host", reason: str, detail: str = "") -> None:
        self.host = host
        self.reason = reason
        self.detail = detail.strip()
        msg = f"host {host.name} ({host.describe()}) unreachable: {reason}"
        if self.detail:
            msg += f" [{self.detail}]"
        super().__init__(msg)


class Cancelled(CnxBackupError):
    """The work item was not started because the run was cancelled."""


class TransferError(CnxBackupError):
    """A put/get did not complete (short stream, remote error); the destination is untouched."""



class Transport(Protocol):
    """Runs commands and copies files on the hosts of a deployment (this machine included)."""

    def argv(self, host: Host, remote_command: str) -> List[str]:
        """argv that runs ``remote_command`` (POSIX sh) on ``host``, for Popen pipelines."""

    def run(self, host: Host, remote_command: str, *, input: Union[str, bytes, None] = None,
            timeout: Optional[float] = None, env_secrets: Optional[Mapping[str, str]] = None,
            text: bool = True) -> "subprocess.CompletedProcess[Any]":
        """Run a command; its non-zero exit is returned, a lost connection raises HostUnreachable."""

    def check(self, host: Host) -> None:
        """Make sure ``host`` answers (opens the connection); raises HostUnreachable."""

    def explain_failure(self, host: Host, returncode: int, stderr: Union[str, bytes]) -> Optional[HostUnreachable]:
        """For a finished command: HostUnreachable if the connection failed, None if the command did."""

    def put(self, host: Host, local_path: str, remote_path: str) -> CopyResult:
        """Copy a local file to ``host`` (hashed in the stream; the destination appears whole or not at all)."""

    def get(self, host: Host, remote_path: str, local_path: str, cipher: Optional[Cipher] = None) -> CopyResult:
        """Copy a regular file from ``host`` (hashed in the stream; published through ``atomic``)."""

    def close(self) -> None:
        """Release every connection."""


def secrets_stdin(env_secrets: Optional[Mapping[str, str]]) -> bytes:
    if not env_secrets:
        return b""
    lines = []
    for name, value in env_secrets.items():
        if not ENV_NAME.match(name):
            raise ValueError(f"secret name {name!r} is not a valid environment variable name")
        if "\n" in value or "\0" in value:
            raise ValueError(f"secret {name} contains a newline or NUL, which cannot be sent")
        lines.append(f"{name}={value}\n")
    return ("".join(lines) + "\n").encode()


def as_bytes(data: Union[str, bytes, None]) -> bytes:
    if data is None:
        return b""
    return data.encode() if isinstance(data, str) else data


def decoded(proc: subprocess.CompletedProcess, text: bool) -> subprocess.CompletedProcess:
    if text:
        proc.stdout = proc.stdout.decode(errors="replace")
        proc.stderr = proc.stderr.decode(errors="replace")
    return proc
