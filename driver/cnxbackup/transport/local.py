"""The transport for hosts that are this machine: ``sh -c`` and plain file copies."""
from __future__ import annotations

import logging
import os
import subprocess
from typing import Any, List, Mapping, Optional, Union

from ..archive import Cipher, CopyResult, copy_file, open_source, receive
from ..hosts import Host
from .base import HostUnreachable, as_bytes, decoded, secrets_stdin

log = logging.getLogger(__name__)


class LocalTransport:
    """Same interface as SshTransport, for hosts that are this machine (runs ``sh -c``)."""

    def argv(self, host: Host, remote_command: str) -> List[str]:
        return ["sh", "-c", remote_command]

    def run(self, host: Host, remote_command: str, *, input: Union[str, bytes, None] = None,
            timeout: Optional[float] = None, env_secrets: Optional[Mapping[str, str]] = None,
            text: bool = True) -> "subprocess.CompletedProcess[Any]":
        env = None
        if env_secrets:
            secrets_stdin(env_secrets)  # same validation as remote
            env = dict(os.environ)
            env.update(env_secrets)
        log.debug("local: %s", remote_command)
        proc = subprocess.run(self.argv(host, remote_command), input=as_bytes(input),
                              capture_output=True, timeout=timeout, env=env)
        return decoded(proc, text)

    def check(self, host: Host) -> None:
        return None

    def explain_failure(self, host: Host, returncode: int, stderr: Union[str, bytes]) -> Optional[HostUnreachable]:
        return None  # this machine is always reachable: a failure is the command's own

    def put(self, host: Host, local_path: str, remote_path: str) -> CopyResult:
        copied = copy_file(local_path, remote_path)
        return CopyResult(copied.size, copied.sha256)

    def get(self, host: Host, remote_path: str, local_path: str, cipher: Optional[Cipher] = None) -> CopyResult:
        if cipher is not None:  # the result carries the source's digest too (what was read, before encryption)
            with open_source(remote_path) as source:
                return receive(source, local_path, cipher=cipher)
        copied = copy_file(remote_path, local_path)
        return CopyResult(copied.size, copied.sha256)

    def close(self) -> None:
        return None
