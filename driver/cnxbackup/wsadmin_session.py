"""One interactive wsadmin process, driven through pexpect.

wsadmin costs a JVM start and a connection per launch, so the driver starts it once and
runs every step inside it: each step is a small generated Jython file (templates/wsadmin/
job_step.py.j2) sent as one short ``execfile('...')`` line. The step prints a sentinel that
is concatenated at run time, so the echoed input can never match it; results are read from
the JSON files the scripts write, not scraped from the screen.

Credentials: the password is typed at wsadmin's own console login prompt
(``Username:``/``Password:``), so it never appears in argv or in a file. With
``credentials: profile`` the profile's soap.client.props supplies them instead.
"""
from __future__ import annotations

import json
import os
import re
import secrets as pysecrets
import shlex
import shutil
import signal
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, TextIO, Type

import pexpect

from . import __version__
from .config import Environment
from .errors import CnxBackupError
from .log import get_logger
from .paths import wsadmin_dir
from .render import render_template
from .secrets import REDACT, read_password

PROMPT = "wsadmin>"
_CONNECT_ERRORS = re.compile(r"(WASX7246E[^\r\n]*|WASX7023E[^\r\n]*|WASX7213I[^\r\n]*)")
_USER_PROMPT = re.compile(r"(?i)user(?:name| ?id)?\s*:\s*$")
_PASSWORD_PROMPT = re.compile(r"(?i)password\s*:\s*$")
_REALM_PROMPT = re.compile(r"(?i)realm(?:/cell)?(?: name)?\s*:[^\r\n]*$")
# What tells the two failures apart in wsadmin's words (the login's exception may follow on the
# next line, "Exception message (if any): ..."); anything else is a plain WsadminConnectError.
_REFUSED = re.compile(r"WASX7246E|ADMN0022E|ADMC0035E|WSLoginFailedException|LoginException|WSSecurityException")
_UNREACHABLE = re.compile(r"ConnectorNotAvailableException|ADMC0016E|ConnectException|Connection refused|"
                          r"UnknownHostException|NoRouteToHostException")


class WsadminError(CnxBackupError):
    """wsadmin failed to connect, died, hung, or a step raised."""


class WsadminConnectError(WsadminError):
    """wsadmin did not connect; ``said``: its own words about it (else the message)."""

    def __init__(self, message: str, said: str = "") -> None:
        super().__init__(message)
        self.said = said or message


class DmgrUnreachable(WsadminConnectError):
    """Nothing answers at the Dmgr's address (WASX7023E with ConnectorNotAvailableException):
    the Dmgr is stopped, or wsadmin.host/port name another place."""


class CredentialsRefused(WsadminConnectError):
    """The Dmgr answered and refused the login (WASX7246E, ADMN0022E, a security exception)."""


def connect_error(message: str) -> Type[WsadminConnectError]:
    """Which failure wsadmin's connection message tells of: a refused login is looked for first
    (its exception may be wrapped in a WASX7023E), then a Dmgr that does not answer."""
    if _REFUSED.search(message):
        return CredentialsRefused
    if "WASX7023E" in message and _UNREACHABLE.search(message):
        return DmgrUnreachable
    return WsadminConnectError


class WsadminDied(WsadminError):
    pass


class WsadminHung(WsadminError):
    pass


@dataclass
class StepResult:
    name: str
    rc: int
    result: Optional[Dict[str, Any]]
    output: str
    seconds: float


class WsadminSession:
    """Start once, ``run_step`` many times, ``close`` at the end (also on errors)."""

    def __init__(self, command: str, workdir: str, *, conntype: str = "SOAP", host: str = "localhost",
                 port: int = 8879, user: Optional[str] = None, password: Optional[str] = None,
                 credentials: str = "stdin", usejython21: Optional[bool] = None,
                 startup_timeout: int = 180, env: Optional[Dict[str, str]] = None,
                 transcript: Optional[str] = None, run_id: str = "") -> None:
        self.command = command
        self.workdir = workdir
        self.conntype = conntype
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.credentials = credentials
        self.usejython21 = usejython21
        self.startup_timeout = startup_timeout
        self.env = env or {}
        self.transcript_path = transcript
        self.run_id = run_id
        self.child: Optional[pexpect.spawn] = None
        self._transcript: Optional[TextIO] = None
        self._step = 0
        self.launches = 0
        self.log = get_logger()

    def argv(self) -> List[str]:
        args = ["-lang", "jython", "-conntype", self.conntype, "-host", self.host, "-port", str(self.port)]
        if self.usejython21:
            args += ["-usejython21", "true"]
        return args

    def start(self) -> None:
        if not os.path.exists(self.command):
            raise WsadminConnectError(f"wsadmin command {self.command} does not exist (wsadmin.command)")
        os.makedirs(self.workdir, mode=0o700, exist_ok=True)
        env = dict(os.environ)
        env.update({k: str(v) for k, v in self.env.items()})
        env["CNXBACKUP_WSADMIN_DIR"] = wsadmin_dir()
        if self.transcript_path:
            self._transcript = open(self.transcript_path, "a", encoding="utf-8")
            os.chmod(self.transcript_path, 0o600)
        self.log.info("starting wsadmin: %s %s", self.command, " ".join(self.argv()))
        self.child = pexpect.spawn(self.command, self.argv(), env=env, encoding="utf-8",
                                   codec_errors="replace", timeout=self.startup_timeout,
                                   cwd=os.path.dirname(self.command) or None, echo=False)
        self.launches += 1
        self._log_output_only()
        deadline = time.monotonic() + self.startup_timeout
        while True:
            remaining = max(deadline - time.monotonic(), 1)
            index = self.child.expect([PROMPT, _CONNECT_ERRORS, _USER_PROMPT, _PASSWORD_PROMPT,
                                       _REALM_PROMPT, pexpect.EOF, pexpect.TIMEOUT], timeout=remaining)
            if index == 0:
                break
            if index == 1:
                message = " ".join(filter(None, [self.child.match.group(1).strip(), self._connect_detail()]))
                self._kill()
                said = REDACT(message)
                raise connect_error(message)(f"wsadmin could not connect to {self.host}:{self.port}: {said}", said)
            if index in (2, 3, 4):
                if self.credentials != "stdin" or not self.user or self.password is None:
                    self._kill()
                    raise WsadminConnectError(
                        f"wsadmin asks for credentials at {self.host}:{self.port}; set wsadmin.user and a password source "
                        "(password_env, password_file or password_prompt)")
                if index == 2:
                    self.child.sendline(self.user)
                elif index == 3:
                    self._send_secret(self.password)
                else:
                    self.child.sendline("")
                continue
            if index == 5:
                output = REDACT(self.child.before or "")
                self._close_child()
                raise WsadminConnectError(f"wsadmin exited during start-up (status {self.child.exitstatus}): {output.strip()[-500:]}")
            self._kill()
            raise WsadminHung(f"wsadmin did not show its prompt within {self.startup_timeout}s")
        self.log.info("wsadmin connected to %s:%s", self.host, self.port)

    def _connect_detail(self) -> str:
        """What wsadmin prints between its connection error and its not-connected notice
        (WASX7213I): the exception of a refused login, e.g. ``Exception message (if any): "ADMN0022E: ..."``."""
        assert self.child is not None
        if self.child.match.group(1).startswith("WASX7213I"):
            return ""
        self.child.expect([r"WASX7213I", PROMPT, pexpect.EOF, pexpect.TIMEOUT], timeout=15)
        return " ".join(line.strip() for line in (self.child.before or "").splitlines() if line.strip())

    def move_to(self, workdir: str, run_id: str) -> None:
        """Carry a started session into ``workdir`` (the gate's session, started before the set
        folder existed, into the set's ``.run``): the transcript moves there and goes on, the next
        steps' files are written there; the old folder is removed when nothing else is left in it."""
        old = self.workdir
        os.makedirs(workdir, mode=0o700, exist_ok=True)
        if self.transcript_path:
            moved = os.path.join(workdir, os.path.basename(self.transcript_path))
            if self._transcript is not None:
                self._transcript.close()
                self._transcript = None
            if os.path.exists(self.transcript_path):
                shutil.move(self.transcript_path, moved)  # a copy when the two are on different file systems
            self.transcript_path = moved
            self._transcript = open(moved, "a", encoding="utf-8")
            os.chmod(moved, 0o600)
            self._log_output_only()
        self.workdir, self.run_id = workdir, run_id
        try:
            os.rmdir(old)
        except OSError:
            pass

    def _send_secret(self, secret: str) -> None:
        """Type a secret without it reaching the transcript (pexpect logs what it reads, not what we send)."""
        assert self.child is not None
        self.child.sendline(secret)

    def _log_output_only(self) -> None:
        if self.child is not None and self._transcript is not None:
            self.child.logfile_read = _RedactingWriter(self._transcript)

    def run_step(self, script: str, argv: Sequence[str], timeout: int, result_file: Optional[str] = None) -> StepResult:
        """Run wsadmin/<script>.py's logic in the session via cnxwas.cli.run; return rc and JSON result."""
        if self.child is None or not self.child.isalive():
            raise WsadminDied("wsadmin is not running")
        self._step += 1
        token = pysecrets.token_hex(8)
        job = os.path.join(self.workdir, f"step{self._step:02d}_{script}.py")
        text = render_template("wsadmin/job_step.py.j2", script=script, argv=list(argv), token=token,
                               wsadmin_dir=wsadmin_dir(), run_id=self.run_id, tool_version=__version__)
        fd = os.open(job, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        sentinel = re.compile(r"CNXJOB_END_" + token + r"_(-?\d+)")
        started = time.monotonic()
        self.log.info("wsadmin step %s %s", script, " ".join(argv))
        self.child.sendline(f"execfile({job!r})")
        index = self.child.expect([sentinel, r"WASX7015E[^\r\n]*", pexpect.EOF, pexpect.TIMEOUT], timeout=timeout)
        output = self.child.before or ""
        if index == 0:
            rc = int(self.child.match.group(1))
            self.child.expect_exact(PROMPT, timeout=30)
        elif index == 1:
            message = self.child.match.group(0)
            self.child.expect_exact(PROMPT, timeout=30)
            detail = (self.child.before or "").strip().splitlines()
            raise WsadminError(f"wsadmin step {script} raised: {message} {detail[-1] if detail else ''}".strip())
        elif index == 2:
            self._close_child()
            raise WsadminDied(f"wsadmin died during step {script} (exit status {self.child.exitstatus}): {REDACT(output.strip()[-400:])}")
        else:
            self._kill()
            raise WsadminHung(f"wsadmin step {script} did not finish within {timeout}s; wsadmin was killed")
        result = None
        if result_file and os.path.exists(result_file):
            with open(result_file, encoding="utf-8") as handle:
                result = json.load(handle)
        return StepResult(script, rc, result, REDACT(output), time.monotonic() - started)

    def close(self) -> None:
        if self.child is None:
            return
        if self.child.isalive():
            try:
                self.child.sendline("quit")
                self.child.expect(pexpect.EOF, timeout=30)
            except (pexpect.TIMEOUT, pexpect.EOF, OSError):
                pass
        self._kill()

    def kill(self) -> None:
        """Stop wsadmin now (Ctrl-C of the driver)."""
        self._kill()

    def _close_child(self) -> None:
        if self.child is not None:
            try:
                self.child.close(force=True)
            except (OSError, pexpect.ExceptionPexpect):
                pass

    def _kill(self) -> None:
        """SIGINT, a short wait, then force: never leave a JVM behind."""
        if self.child is None:
            return
        if self.child.isalive():
            try:
                self.child.kill(signal.SIGINT)
                time.sleep(0.5)
            except OSError:
                pass
        self._close_child()
        if self._transcript is not None:
            self._transcript.close()
            self._transcript = None

    def __enter__(self) -> "WsadminSession":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _RedactingWriter:
    """pexpect logfile that masks secrets before they reach the transcript."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, data: str) -> None:
        self.stream.write(REDACT(data))

    def flush(self) -> None:
        self.stream.flush()


# --------------------------------------------------------------------------- from the environment


def step_arguments(script: str, ws: Dict[str, Any], out: str) -> List[str]:
    """Command-line options of each wsadmin script, as a by-hand run would pass them."""
    argv = ["--out", out]
    if script == "check_filenet_admin":
        argv += ["--alias", ws["filenet_alias"]]
    elif script == "stop_servers":
        for cluster in ws["clusters"]:
            argv += ["--cluster", cluster]
        for server in ws["servers"]:
            argv += ["--server", server]
        argv += ["--timeout", str(ws["stop_timeout"])]
    return argv


def new_session(env: Environment, workdir: str, run_id: str = "") -> WsadminSession:
    """A WsadminSession configured from the ``wsadmin`` section (not started yet)."""
    ws = env.section("wsadmin")
    password = None
    if ws["credentials"] == "driver":
        password = read_password(ws, "WAS administrative", env.where("wsadmin"), required=bool(ws.get("user")))
        REDACT.add(password)
    return WsadminSession(
        ws["command"], workdir, conntype=ws["conntype"], host=ws["host"], port=ws["port"],
        user=ws.get("user"), password=password, credentials="stdin" if ws["credentials"] == "driver" else "profile",
        usejython21=ws.get("usejython21"), startup_timeout=ws["startup_timeout"], env=ws.get("env") or {},
        transcript=os.path.join(workdir, "wsadmin-transcript.log"), run_id=run_id)


def wsadmin_command(env: Optional[Environment], script: str, args: Sequence[str], scripts_dir: Optional[str] = None) -> str:
    """The shell line that runs one of the project's wsadmin scripts (by hand, or in RESTORE.md);
    ``scripts_dir``: where the scripts are (a set's ``tools/wsadmin``), else this program's own."""
    command = env.section("wsadmin")["command"] if env is not None else "<dmgr_profile>/bin/wsadmin.sh"
    return " ".join([shlex.quote(command), "-lang", "jython", "-f",
                     shlex.quote(os.path.join(scripts_dir or wsadmin_dir(), f"{script}.py"))] + [shlex.quote(a) for a in args])


def start_servers_command(env: Optional[Environment], scripts_dir: Optional[str] = None) -> str:
    """The line that starts the application servers by hand (the restore's last step, the end of a
    backup, REPORT.md and the restore's closing hint all print this one)."""
    return wsadmin_command(env, "start_servers", ["--timeout", str(wsadmin_timeout(env, 900))], scripts_dir)


def wsadmin_timeout(env: Optional[Environment], default: int) -> int:
    return int(env.section("wsadmin")["stop_timeout"]) if env is not None else default
