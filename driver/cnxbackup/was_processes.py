"""The Dmgr and the node agents, driven through their profiles' own scripts.

A stopped Dmgr or node agent can only be started with its profile's ``startManager.sh`` /
``startNode.sh``; ``stopManager.sh`` / ``stopNode.sh`` stop them and ``syncNode.sh DMGR_HOST
DMGR_SOAP_PORT`` synchronizes a node whose node agent is stopped. Each runs on the profile's
host (ssh with a terminal there), as the owner of ``<profile>/config`` (``su -s /bin/sh OWNER
-c``) when this run is root and the profile is not: a Dmgr started as root leaves root-owned
logs behind and later starts by the owner fail. The owner is taken without following links (the
profile folder and ``config`` by ``lstat``, or ``stat`` without ``-L`` there): a linked one, or a
profile and ``config`` of different owners, is refused, so that the WebSphere user cannot make
root run their scripts by pointing ``config`` at a root-owned folder; a script that does run as
root must be root's (it, ``bin`` and the profile root-owned, not writable by group or others).

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
import stat
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


class ProfileRefused(ProcessError):
    """Who runs a profile's scripts cannot be told safely (a link, two owners, a script root must not run)."""


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


PathFacts = Tuple[str, int, int]
"""(path, st_mode, st_uid) of a path as ``lstat`` (or ``stat`` without ``-L``) sees it."""


def profile_uid(facts: Sequence[PathFacts]) -> int:
    """The uid that owns the profile, from the facts of the profile folder and its ``config``;
    ProcessError for a link, something not a folder, or two owners."""
    for path, mode, _uid in facts:
        if stat.S_ISLNK(mode):
            raise ProfileRefused(f"{path}: is a symlink; the profile's owner is taken without following links "
                               "(name the real folder in the environment)")
        if not stat.S_ISDIR(mode):
            raise ProfileRefused(f"{path}: not a folder; refused as a profile")
    owners = {uid for _path, _mode, uid in facts}
    if len(owners) != 1:
        raise ProfileRefused(f"{' and '.join(f'{path} (uid {uid})' for path, _mode, uid in facts)} have different "
                           "owners; refused: which user may run the profile's scripts is not clear")
    return owners.pop()


def check_root_script(facts: Sequence[PathFacts]) -> None:
    """A script that runs as root, its ``bin`` and its profile must be root's: root-owned, not
    writable by group or others, no link (else the WebSphere user could change what root runs)."""
    for path, mode, uid in facts:
        if stat.S_ISLNK(mode) or uid != 0 or mode & 0o022:
            what = "a symlink" if stat.S_ISLNK(mode) else f"owned by uid {uid}, mode {stat.S_IMODE(mode):04o}"
            raise ProfileRefused(f"{path}: {what}; a profile script runs as root only when it, its bin folder and the "
                               "profile are root's and not writable by group or others: refused")


def _lstat_facts(paths: Sequence[str]) -> List[PathFacts]:
    facts = []
    for path in paths:
        info = os.lstat(path)
        facts.append((path, info.st_mode, info.st_uid))
    return facts


def local_owner(process: WasProcess) -> Optional[str]:
    """The owner of a local profile (its folder and ``config``, by ``lstat``) when it is not root
    (None on another host, or without a ``config``); ProcessError when it cannot be told safely."""
    config = os.path.join(process.profile, "config")
    if not process.host.is_local or not os.path.lexists(config):
        return None
    uid = profile_uid(_lstat_facts([process.profile, config]))
    if uid == 0:
        return None
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def script_path(process: WasProcess, script: str) -> str:
    return os.path.join(process.profile, "bin", f"{script}.sh")


def _script_chain(process: WasProcess, script: str) -> List[str]:
    return [process.profile, os.path.join(process.profile, "bin"), script_path(process, script)]


def check_local_root_script(process: WasProcess, script: str) -> None:
    """``check_root_script`` on this machine (``lstat`` of the profile, ``bin`` and the script)."""
    try:
        check_root_script(_lstat_facts(_script_chain(process, script)))
    except FileNotFoundError as error:
        raise ProcessError(f"{process.label}: cannot run {script}.sh: {error.filename} is missing") from None


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
                found = self._remote_facts(process, [process.profile, config], "%f %u %U")
                if found is not None:
                    uid = profile_uid([(path, mode, uid) for path, mode, uid, _name in found])
                    name = found[1][3] if uid != 0 else None
            self.owners[key] = name
        return self.owners[key]

    def _remote_facts(self, process: WasProcess, paths: Sequence[str], fmt: str) -> Optional[List[Tuple[str, int, int, str]]]:
        """(path, mode, uid, user) of each path on the process's host, by ``stat`` without ``-L``
        (a link is described, not followed); None when one is missing or cannot be read."""
        proc = self.transport.run(process.host, f"LC_ALL=C stat -c {shlex.quote(fmt)} -- {shlex.join(paths)}")
        lines = proc.stdout.splitlines()
        if proc.returncode != 0 or len(lines) != len(paths):
            return None
        facts = []
        for path, line in zip(paths, lines):
            fields = line.split()
            if len(fields) < 2 or not fields[1].isdigit():
                raise ProfileRefused(f"{process.label}: cannot tell who owns {path} (stat said {line[:80]!r})")
            facts.append((path, int(fields[0], 16), int(fields[1]), fields[2] if len(fields) > 2 else ""))
        return facts

    def _check_runs_as_root(self, process: WasProcess, script: str) -> None:
        """A script about to run as root (this run is root, the profile is root's) must be root's."""
        if process.host.is_local:
            if os.geteuid() == 0:
                check_local_root_script(process, script)
        elif process.host.user == "root":
            found = self._remote_facts(process, _script_chain(process, script), "%f %u")
            if found is None:
                raise ProcessError(f"{process.label}: cannot run {script}.sh: {script_path(process, script)} is missing")
            check_root_script([(path, mode, uid) for path, mode, uid, _name in found])

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
        if self.owner(process) is None:
            self._check_runs_as_root(process, script)
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
        except ProfileRefused:
            raise
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
