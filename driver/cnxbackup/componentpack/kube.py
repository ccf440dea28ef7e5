"""kubectl and helm on the host the environment names, as one small client.

Every call is one shell line on that host (through the transport): the configured tool, its
``--kubeconfig`` and ``-n NAMESPACE``, the arguments quoted. JSON output is parsed; a failure
raises KubeError with the tool's own last lines (``Error from server (NotFound): ...``,
``command terminated with exit code N``, the API server refusing connections), never a secret:
the callers pass no secret on any command line, and what the tools print of secrets is only
ever stored, not logged.
"""
from __future__ import annotations

import copy
import json
import os
import shlex
import signal
import subprocess
import threading
from typing import IO, Any, Dict, List, Optional, Sequence

from ..config import Environment
from ..errors import CnxBackupError
from ..hosts import LOCAL, Host, hosts_of
from ..transport import Transport


class KubeError(CnxBackupError):
    """kubectl or helm failed (the message names the command and the tool's own words)."""


def enabled(env: Environment) -> bool:
    """The environment file has a ``component_pack`` section."""
    return "component_pack" in env.lines


def settings(env: Environment) -> Dict[str, Any]:
    return env.section("component_pack")


def host_named(env: Environment, name: str, key: str) -> Host:
    hosts = hosts_of(env)
    if name in hosts:
        return hosts[name]
    if name == LOCAL:
        return Host(LOCAL, LOCAL)
    raise CnxBackupError(f"{env.where('component_pack.' + key)}: key 'component_pack.{key}': host {name!r} is not "
                         f"among the hosts ({', '.join(hosts)})")


class Kube:
    """The Component Pack's kubectl and helm."""

    def __init__(self, env: Environment, transport: Transport) -> None:
        self.env = env
        self.settings = settings(env)
        self.namespace: str = self.settings["namespace"]
        self.host = host_named(env, self.settings["host"], "host")
        self.transport = transport

    def at(self, namespace: str) -> "Kube":
        """The same tools on another namespace (HCL's dedicated ``apisix`` or ``collabora``)."""
        other = copy.copy(self)
        other.namespace = namespace
        return other

    def line(self, tool: str, args: Sequence[str]) -> str:
        """The shell line of one call (environment, tool, kubeconfig, namespace, arguments)."""
        prefix = " ".join(f"{k}={shlex.quote(str(v))}" for k, v in sorted((self.settings.get("env") or {}).items()))
        tool_command = self.settings["command"][tool]  # a path, or a command line given as it is
        command = tool_command if " " in tool_command else shlex.quote(tool_command)
        options = []
        if self.settings.get("kubeconfig"):
            options += ["--kubeconfig", self.settings["kubeconfig"]]
        options += ["-n", self.namespace]
        body = " ".join(shlex.quote(a) for a in [*options, *args])
        return f"{prefix + ' ' if prefix else ''}{command} {body}"

    def run(self, tool: str, args: Sequence[str], *, timeout: float = 300, input: Optional[bytes] = None) -> "Result":
        proc = self.transport.run(self.host, self.line(tool, args), timeout=timeout, input=input, text=False)
        return Result(tool, list(args), proc.returncode, proc.stdout or b"", proc.stderr or b"")

    def json(self, tool: str, args: Sequence[str], timeout: float = 300) -> Any:
        result = self.run(tool, args, timeout=timeout).check()
        try:
            return json.loads(result.stdout)
        except ValueError:
            raise KubeError(f"{tool} {' '.join(args[:3])}: not the JSON it prints: {result.stdout[:200]!r}") from None

    def exec_argv(self, pod: str, container: Optional[str], command: Sequence[str], stdin: bool) -> List[str]:
        """argv of ``kubectl exec [-i] POD [-c C] -- COMMAND`` on the tools' host (never ``-t``:
        a TTY mixes stderr into stdout and alters binary bytes)."""
        args = ["exec"] + (["-i"] if stdin else []) + [pod] + (["-c", container] if container else []) + ["--", *command]
        return self.transport.argv(self.host, self.line("kubectl", args))

    def exec(self, pod: str, container: Optional[str], command: Sequence[str], timeout: float = 300) -> "Result":
        args = ["exec", pod] + (["-c", container] if container else []) + ["--", *command]
        return self.run("kubectl", args, timeout=timeout)

    def items(self, kind: str) -> List[Dict[str, Any]]:
        data = self.json("kubectl", ["get", kind, "-o", "json"])
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise KubeError(f"kubectl get {kind}: no item list in its JSON")
        return [i for i in items if isinstance(i, dict)]


class ExecStream:
    """``kubectl exec POD -- ARGV`` whose output is read as a stream (a dump, a snapshot): its stderr
    gathered by a thread, its whole session (sh, kubectl or ssh) killed after ``timeout`` seconds or
    when it is closed unfinished. A kill of the shell alone would leave them running."""

    def __init__(self, kube: "Kube", pod: str, container: Optional[str], argv: List[str], timeout: float) -> None:
        self.proc = subprocess.Popen(kube.exec_argv(pod, container, argv, stdin=False), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        self._errors: List[bytes] = []
        self._reader = threading.Thread(target=self._read_errors, daemon=True)
        self._reader.start()
        self._timer = threading.Timer(timeout, kill_session, (self.proc,))
        self._timer.start()

    def _read_errors(self) -> None:
        self._errors.append(self.proc.stderr.read() if self.proc.stderr else b"")

    @property
    def stdout(self) -> IO[bytes]:
        assert self.proc.stdout is not None
        return self.proc.stdout

    def wait(self) -> int:
        """The exit code, once the process and its stderr are done."""
        rc = self.proc.wait()
        self._reader.join()
        return rc

    @property
    def errors(self) -> bytes:
        return b"".join(self._errors)

    def close(self) -> None:
        self._timer.cancel()
        if self.proc.poll() is None:
            kill_session(self.proc)
            self.proc.wait()


def kill_session(proc: "subprocess.Popen[bytes]") -> None:
    """SIGKILL to the whole session a process leads (it was started with ``start_new_session``)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def pod_ready(pod: Dict[str, Any]) -> bool:
    """Every container of a pod (an item of ``kubectl get pods -o json``) is ready."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return bool(statuses) and all(s.get("ready") for s in statuses)


class Result:
    def __init__(self, tool: str, args: List[str], rc: int, stdout: bytes, stderr: bytes) -> None:
        self.tool, self.args, self.rc, self.stdout, self.stderr = tool, args, rc, stdout, stderr

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    def check(self) -> "Result":
        if self.rc != 0:
            raise KubeError(f"{self.tool} {' '.join(self.args[:4])} failed (exit {self.rc}): {tail(self.stderr)}")
        return self


def tail(data: bytes, lines: int = 3) -> str:
    text = [line.strip() for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
    return " / ".join(text[-lines:]) or "no message"


def json_body(text: str) -> Any:
    """The JSON a wrapper printed after other lines (``sendRequest.sh`` may print curl's meter first)."""
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        raise KubeError(f"no JSON in the answer: {text.strip()[:200]!r}")
    try:
        return json.JSONDecoder().raw_decode(text[min(starts):])[0]
    except ValueError:
        raise KubeError(f"no JSON in the answer: {text.strip()[:200]!r}") from None
