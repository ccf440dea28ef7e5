"""The gate reaches the Dmgr: ``plan`` and ``backup`` start the backup's own wsadmin session with
the configured credentials before the set folder exists; a Dmgr that does not answer and one that
refuses the login are told apart, each named with what to do; the backup takes the session over
(one wsadmin JVM in all). A fake session stands in for wsadmin here."""
from __future__ import annotations

import os
import textwrap
from types import SimpleNamespace

import pytest

from cnxbackup.actions.backup import wsadmin_phase
from cnxbackup.actions.backup.dmgr_gate import DmgrGate
from cnxbackup.actions.backup.gate import preflight
from cnxbackup.actions.backup.state import SetLayout
from cnxbackup.config import load_environment
from cnxbackup.errors import EXIT_FAILED, ConfigError, PreflightError
from cnxbackup.plan import build_plan
from cnxbackup.wsadmin_session import (
    CredentialsRefused,
    DmgrUnreachable,
    WsadminConnectError,
    WsadminSession,
    connect_error,
)

DOWN = ('WASX7023E: Error creating "SOAP" connection to host "dmgr1"; exception information: '
        "com.ibm.websphere.management.exception.ConnectorNotAvailableException: ADMC0016E: The system cannot "
        "create a SOAP connector to connect to host dmgr1 at port 8879.")
REFUSED = ('WASX7246E: Cannot establish "SOAP" connection to host "dmgr1" because of an authentication failure. '
           'Exception message (if any): "ADMN0022E: Access is denied for the getProcessType operation on Server '
           'MBean because of insufficient or empty credentials."')


class FakeChild:
    def __init__(self) -> None:
        self.alive = True

    def isalive(self) -> bool:
        return self.alive


class FakeSession:
    """What the gate and the wsadmin phase use of a WsadminSession; ``fails``: what start raises."""

    def __init__(self, workdir: str, fails: Exception | None = None) -> None:
        self.workdir, self.fails, self.run_id = workdir, fails, ""
        self.transcript_path = os.path.join(workdir, "wsadmin-transcript.log")
        self._transcript = None
        self.child: FakeChild | None = None
        self.launches = 0
        self.closed = False

    def start(self) -> None:
        self.launches += 1
        if self.fails is not None:
            raise self.fails
        self.child = FakeChild()
        with open(self.transcript_path, "w") as handle:
            handle.write("WASX7209I: Connected to process \"dmgr\"\n")

    def move_to(self, workdir: str, run_id: str) -> None:
        WsadminSession.move_to(self, workdir, run_id)  # the real one: the transcript and the folders

    def _log_output_only(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True
        if self.child is not None:
            self.child.alive = False
        if self._transcript is not None:
            self._transcript.close()


def _env(tmp: str, wsadmin_command: str = "/bin/true"):
    password = os.path.join(tmp, "was-password")
    with open(password, "w") as handle:
        handle.write("secret\n")
    os.chmod(password, 0o600)
    path = os.path.join(tmp, "gate.yaml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(textwrap.dedent(f"""\
            connections:
              version: 8.0.0.0_CR14
            paths:
              was_root: "{tmp}/was"
            wsadmin:
              command: "{wsadmin_command}"
              host: dmgr1
              user: wasadmin
              password_file: "{password}"
            database:
              vendor: none
            target:
              dir: "{tmp}/backups"
            """))
    return load_environment(path)


def _gate(env, made: list, fails: Exception | None = None) -> DmgrGate:
    def factory(_env, workdir):
        made.append(FakeSession(workdir, fails))
        return made[-1]
    return DmgrGate(env, factory)


def test_wsadmin_s_words_tell_a_stopped_dmgr_from_a_refused_login() -> None:
    assert connect_error(DOWN) is DmgrUnreachable
    assert connect_error(REFUSED) is CredentialsRefused
    wrapped = ('WASX7023E: Error creating "SOAP" connection to host "dmgr1"; exception information: '
               "com.ibm.websphere.management.exception.ConnectorException: ADMC0053E: ... "
               "com.ibm.websphere.security.auth.WSLoginFailedException: Invalid user ID or password")
    assert connect_error(wrapped) is CredentialsRefused  # a login refused inside a WASX7023E
    ssl = ('WASX7023E: Error creating "SOAP" connection to host "dmgr1"; exception information: '
           "com.ibm.websphere.management.exception.ConnectorException: javax.net.ssl.SSLHandshakeException")
    assert connect_error(ssl) is WsadminConnectError
    assert connect_error("WASX7213I: This scripting client is not connected") is WsadminConnectError


def test_a_stopped_dmgr_is_named_with_how_to_start_it_and_nothing_is_left(tmp_path) -> None:
    env = _env(str(tmp_path))
    made: list = []
    gate = _gate(env, made, DmgrUnreachable(f"wsadmin could not connect to dmgr1:8879: {DOWN}", DOWN))
    problems, notes = gate.connect()
    profile = os.path.join(str(tmp_path), "was", "profiles", "Dmgr01")
    assert len(problems) == 1 and notes == []
    assert problems[0].startswith(f"the Dmgr at dmgr1:8879 (SOAP; profile {profile}) does not answer ({DOWN})")
    assert f"{profile}/bin/startManager.sh" in problems[0] and f"start --env {env.file}" in problems[0]
    assert "wsadmin.host and wsadmin.port" in problems[0]
    assert made[0].closed and not os.path.exists(made[0].workdir) and gate.take(str(tmp_path / "set"), "x") is None


def test_a_refused_login_names_the_credentials_to_check(tmp_path) -> None:
    env = _env(str(tmp_path))
    made: list = []
    problems, _ = _gate(env, made, CredentialsRefused("wsadmin could not connect", REFUSED)).connect()
    assert problems[0].startswith(f"the Dmgr at dmgr1:8879 (SOAP; profile {tmp_path}/was/profiles/Dmgr01) "
                                  f"refused the login ({REFUSED})")
    assert f"wsadmin.user wasadmin and wsadmin.password_file {tmp_path}/was-password" in problems[0]
    assert "does not answer" not in problems[0] and "startManager" not in problems[0]


def test_an_unreadable_password_is_the_gate_s_one_problem_and_no_wsadmin_starts(tmp_path) -> None:
    env = _env(str(tmp_path))
    problems, _ = DmgrGate(env, lambda _env, _dir: (_ for _ in ()).throw(ConfigError("no password"))).connect()
    assert problems == ["no password"]


def test_plan_fails_on_a_stopped_dmgr_before_anything_is_created(tmp_path) -> None:
    env = _env(str(tmp_path))
    made: list = []
    gate = _gate(env, made, DmgrUnreachable("down", DOWN))
    with pytest.raises(PreflightError) as raised:
        preflight(build_plan(env), dmgr=gate)
    assert raised.value.exit_code == EXIT_FAILED
    assert "the Dmgr at dmgr1:8879 (SOAP; profile " in str(raised.value) and "does not answer" in str(raised.value)
    assert not os.path.exists(tmp_path / "backups") and len(made) == 1
    missing = _env(str(tmp_path), wsadmin_command=str(tmp_path / "no-wsadmin.sh"))
    with pytest.raises(PreflightError) as raised:  # no wsadmin to start: that problem alone, no session
        preflight(build_plan(missing), dmgr=_gate(missing, made))
    assert "no-wsadmin.sh is not installed" in str(raised.value) and "the Dmgr at" not in str(raised.value)
    assert len(made) == 1


def test_the_backup_takes_the_gate_s_session_over_one_wsadmin_in_all(tmp_path, monkeypatch) -> None:
    env = _env(str(tmp_path))
    made: list = []
    gate = _gate(env, made)
    problems, notes = gate.connect()
    assert problems == [] and notes == [f"wsadmin reached the Dmgr at dmgr1:8879 (SOAP; profile {tmp_path}/was/"
                                        "profiles/Dmgr01) and logged in as wasadmin"]
    temporary = made[0].workdir
    layout = SetLayout(str(tmp_path / "backups" / "gate-20261208T010000"))
    layout.create()
    journal = SimpleNamespace(data={}, save=lambda: None)
    run = SimpleNamespace(env=env, dmgr=gate, layout=layout, journal=journal,
                          progress=SimpleNamespace(message=lambda text: None))
    monkeypatch.setattr(wsadmin_phase, "open_session", lambda run: pytest.fail("a second wsadmin was started"))
    phase = wsadmin_phase.WsadminPhase(run)  # type: ignore[arg-type]
    assert phase._session(["list_auth_aliases"]) is made[0]
    assert made[0].workdir == layout.private and made[0].run_id == "gate-20261208T010000"
    assert os.path.isfile(os.path.join(layout.private, "wsadmin-transcript.log")) and not os.path.exists(temporary)
    gate.close()  # the backup's own end: the taken session is the phase's to close
    assert not made[0].closed
    phase.close()
    assert made[0].closed and journal.data["wsadminLaunches"] == 1
