"""The Dmgr and the node agents, driven through their profiles' own scripts.

A stopped Dmgr or node agent can only be started with its profile's ``startManager.sh`` /
``startNode.sh``; ``stopManager.sh`` / ``stopNode.sh`` stop them and ``syncNode.sh DMGR_HOST
DMGR_SOAP_PORT`` synchronizes a node whose node agent is stopped. Each runs on the profile's
host (ssh with a terminal there), as the owner of ``<profile>/config`` (``su -s /bin/sh OWNER
-c``) when this run is root and the profile is not: a Dmgr started as root leaves root-owned
logs behind and later starts by the owner fail.

Credentials never reach argv: when the scripts want them and ``soap.client.props`` has none,
they ask on the console (``Realm/Cell Name: <default>``, ``Username:``, ``Password:``; the
exact texts are not confirmed, so the patterns are loose) and are answered through a pty,
with ``DISPLAY`` unset so that no graphical prompt opens. Completion is read from the
messages WebSphere prints (``ADMU3000I ... open for e-business``, ``ADMU4000I ... stop
completed``, ``ADMU0402I ... has been synchronized``), never from the exit status alone
(its values are not documented); the state before and after comes from ``serverStatus.sh``
(``ADMU0508I ... is STARTED`` / ``ADMU0509I ... appears to be stopped``, texts unconfirmed).
"""
from __future__ import annotations

import os
import pwd
import re
import shlex
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import pexpect

from .config import Environment
from .errors import CnxBackupError
from .hosts import Host, first_with_role, host_paths, hosts_of
from .log import get_logger
from .secrets import REDACT, read_password
from .transport import HostUnreachable, Transport

STARTED, STOPPED, UNKNOWN = "STARTED", "STOPPED", "UNKNOWN"
_OPEN = re.compile(r"ADMU3000I")
_STOP_DONE = re.compile(r"ADMU4000I")
_SYNCED = re.compile(r"ADMU0402I")
_IS_STARTED = re.compile(r"ADMU0508I[^\n]*STARTED")
_IS_STOPPED = re.compile(r"ADMU0509I|appears to be stopped")
_REALM = re.compile(r"(?i)realm(?:/cell)?(?: name)?\s*:[^\r\n]*$")
_USER = re.compile(r"(?i)user(?:name| ?id)?\s*:\s*$")
_PASSWORD = re.compile(r"(?i)password\s*:\s*$")


class ProcessError(CnxBackupError):
    """A profile script failed or did not finish in time."""


@dataclass(frozen=True)
class WasProcess:
    """A Dmgr or a node agent: the profile that runs it, on its host."""

    kind: str  # "dmgr" | "nodeagent"
    host: Host
    profile: str

    @property
    def label(self) -> str:
        where = "" if self.host.is_local else f" on {self.host.name}"
        return f"{'dmgr' if self.kind == 'dmgr' else 'nodeagent'} ({os.path.basename(self.profile)}{where})"

    @property
    def server(self) -> str:
        return "dmgr" if self.kind == "dmgr" else "nodeagent"


@dataclass
class Outcome:
    """The result of starting or stopping several processes: the backup's server-step shape."""

    done: List[str] = field(default_factory=list)
    already: List[str] = field(default_factory=list)
    failed: List[str] = field(default_factory=list)

    def as_result(self, verb: str) -> Dict[str, List[str]]:
        past = "stopped" if verb == "stop" else "started"
        return {past: self.done, f"already{past.capitalize()}": self.already, "failed": self.failed}


def script_line(process: WasProcess, script: str, args: Sequence[str] = (), owner: Optional[str] = None) -> str:
    """``<profile>/bin/<script>.sh ARGS``, as ``owner`` when one is given (RESTORE.md prints it)."""
    line = shlex.join([os.path.join(process.profile, "bin", f"{script}.sh"), *args])
    return f"su -s /bin/sh {shlex.quote(owner)} -c {shlex.quote(line)}" if owner else line


def local_owner(process: WasProcess) -> Optional[str]:
    """The owner of a local profile's ``config`` when it is not root (None on another host)."""
    config = os.path.join(process.profile, "config")
    if not process.host.is_local or not os.path.isdir(config):
        return None
    uid = os.stat(config).st_uid
    if uid == 0:
        return None
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


SCRIPTS = {"dmgr": ("startManager", "stopManager", "serverStatus"),
           "nodeagent": ("startNode", "stopNode", "syncNode", "serverStatus")}


def missing_scripts(process: WasProcess, transport: Transport) -> List[str]:
    """The profile scripts a stop/start/sync of ``process`` needs that are not executable there."""
    paths = [os.path.join(process.profile, "bin", f"{name}.sh") for name in SCRIPTS[process.kind]]
    if process.host.is_local:
        return [path for path in paths if not os.access(path, os.X_OK)]
    probe = "; ".join(f"[ -x {shlex.quote(path)} ] || echo {shlex.quote(path)}" for path in paths)
    proc = transport.run(process.host, probe)
    return [line.strip() for line in proc.stdout.splitlines() if line.strip()]


def deployment_processes(env: Environment) -> Tuple[Optional[WasProcess], List[WasProcess]]:
    """(the Dmgr, the node agents: one per node profile of every node host), from the environment."""
    hosts = hosts_of(env)
    dmgr_host = first_with_role(env, "dmgr")
    dmgr = WasProcess("dmgr", hosts[dmgr_host], host_paths(env, dmgr_host)["dmgr_profile"]) if dmgr_host else None
    agents = [WasProcess("nodeagent", host, profile) for name, host in hosts.items() if "node" in host.roles
              for profile in host_paths(env, name)["profiles"]]
    return dmgr, agents


class ProfileScripts:
    """Runs the profile scripts of one deployment (``timeout``: seconds per stop, default
    ``wsadmin.stop_timeout``; each start may take ``wsadmin.start_timeout``)."""

    def __init__(self, env: Environment, transport: Transport, timeout: Optional[int] = None) -> None:
        ws = env.section("wsadmin")
        self.env = env
        self.transport = transport
        self.timeout = timeout or int(ws["stop_timeout"])
        self.start_timeout = int(ws["start_timeout"])
        self.user: Optional[str] = ws.get("user")
        self.password: Optional[str] = None
        if ws["credentials"] == "driver" and self.user:
            self.password = read_password(ws, "WAS administrative", env.where("wsadmin"), required=True)
            REDACT.add(self.password)
        self.extra_env = {k: str(v) for k, v in (ws.get("env") or {}).items()}
        self.dmgr_address = ws["host"]
        self.dmgr_port = int(ws["port"])
        self.log = get_logger()
        self.owners: Dict[Tuple[str, str], Optional[str]] = {}

    # -- how a script is run --------------------------------------------------------------------
    def owner(self, process: WasProcess) -> Optional[str]:
        """The user that owns ``<profile>/config`` when the script must run as that user (we are
        root, it is not), else None."""
        key = (process.host.name, process.profile)
        if key not in self.owners:
            config = os.path.join(process.profile, "config")
            name: Optional[str] = None
            if process.host.is_local:
                name = local_owner(process) if os.geteuid() == 0 else None
            elif process.host.user == "root":
                proc = self.transport.run(process.host, f"stat -c %U -- {shlex.quote(config)}")
                found = proc.stdout.strip()
                name = found if proc.returncode == 0 and found and found != "root" else None
            self.owners[key] = name
        return self.owners[key]

    def command(self, process: WasProcess, script: str, args: Sequence[str] = ()) -> str:
        """The shell line that runs ``<profile>/bin/<script>.sh`` as it must run."""
        return script_line(process, script, args, self.owner(process))

    def _spawn_argv(self, process: WasProcess, line: str) -> List[str]:
        assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.extra_env.items())
        full = f"unset DISPLAY; {assignments + ' ' if assignments else ''}{line}"
        if process.host.is_local:
            return ["/bin/sh", "-c", full]
        argv = self.transport.argv(process.host, full)
        return ["-tt" if word == "-T" else word for word in argv]  # a terminal there, for the console prompt

    def run(self, process: WasProcess, script: str, args: Sequence[str] = (), timeout: Optional[int] = None) -> str:
        """Run one script, answering its console prompts; its output (secrets masked)."""
        line = self.command(process, script, args)
        argv = self._spawn_argv(process, line)
        self.log.info("%s: running %s", process.label, line)
        env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
        env.update(self.extra_env)
        started = time.monotonic()
        try:
            child = pexpect.spawn(argv[0], argv[1:], env=env, encoding="utf-8", codec_errors="replace",
                                  timeout=timeout or self.timeout, echo=False)
        except pexpect.ExceptionPexpect as error:
            raise ProcessError(f"{process.label}: cannot run {script}.sh: {error}") from None
        output: List[str] = []
        try:
            while True:
                index = child.expect([_REALM, _USER, _PASSWORD, pexpect.EOF, pexpect.TIMEOUT])
                output.append(child.before or "")
                if index == 0:
                    child.sendline("")
                elif index in (1, 2):
                    if not self.user or self.password is None:
                        raise ProcessError(f"{process.label}: {script}.sh asks for credentials; set wsadmin.user and "
                                           "a password source, or put them in the profile's soap.client.props")
                    child.sendline(self.user if index == 1 else self.password)
                elif index == 3:
                    break
                else:
                    raise ProcessError(f"{process.label}: {script}.sh did not finish within {timeout or self.timeout} s")
        finally:
            child.close(force=True)
        text = REDACT("".join(output))
        self.log.info("%s: %s.sh exit %s after %.1f s: %s", process.label, script, child.exitstatus,
                      time.monotonic() - started, " | ".join(ln.strip() for ln in text.splitlines() if ln.strip())[-600:])
        return text

    # -- what the processes do ------------------------------------------------------------------
    def status(self, process: WasProcess) -> str:
        try:
            text = self.run(process, "serverStatus", [process.server], timeout=max(60, self.timeout // 4))
        except (ProcessError, HostUnreachable):
            return UNKNOWN
        if _IS_STARTED.search(text):
            return STARTED
        return STOPPED if _IS_STOPPED.search(text) else UNKNOWN

    def stop(self, process: WasProcess) -> str:
        """"stopped" or "already"; ProcessError when it would not stop."""
        if self.status(process) == STOPPED:
            return "already"
        text = self.run(process, "stopManager" if process.kind == "dmgr" else "stopNode")
        if _STOP_DONE.search(text) or self.status(process) == STOPPED:
            return "stopped"
        raise ProcessError(f"{process.label} did not stop: {_last_line(text)}")

    def start(self, process: WasProcess) -> str:
        """"started" or "already"; ProcessError when it would not start."""
        if self.status(process) == STARTED:
            return "already"
        text = self.run(process, "startManager" if process.kind == "dmgr" else "startNode", timeout=self.start_timeout)
        if _OPEN.search(text):
            return "started"
        raise ProcessError(f"{process.label} did not start: {_last_line(text)}")

    def sync(self, process: WasProcess) -> None:
        """syncNode.sh with the node agent stopped; ProcessError unless WebSphere says it synchronized."""
        text = self.run(process, "syncNode", [self.dmgr_address, str(self.dmgr_port)])
        if not _SYNCED.search(text):
            raise ProcessError(f"{process.label}: syncNode did not synchronize: {_last_line(text)}")

    def each(self, processes: Sequence[WasProcess], verb: str, progress_message: Callable[[str], None]) -> Outcome:
        """Start or stop each process in order, one line each; every failure is collected."""
        outcome = Outcome()
        for process in processes:
            try:
                result = self.stop(process) if verb == "stop" else self.start(process)
            except (ProcessError, HostUnreachable) as error:
                outcome.failed.append(process.label)
                progress_message(f"[{verb}] {process.label}: FAILED: {error}")
                continue
            (outcome.already if result == "already" else outcome.done).append(process.label)
            past = "stopped" if verb == "stop" else "started"
            progress_message(f"[{verb}] {process.label}: {past if result != 'already' else 'already ' + past}")
        return outcome


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
