"""The gate reaches the Dmgr: the backup's own wsadmin session, started with the configured
credentials before the set folder exists.

``plan`` (and ``backup --dry-run``) start it and close it; ``backup`` hands it to its wsadmin phase
(``take``), so that a backup still launches one wsadmin JVM in all. Until then the session works
in a private temporary folder, which ``take`` leaves for the set's ``.run`` (the transcript moves
with it) and ``close`` removes. A Dmgr that does not answer (WASX7023E with
ConnectorNotAvailableException: stopped, or another host or port) and one that refuses the login
(WASX7246E, ADMN0022E, a security exception) are told apart, each with what to do.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Callable, List, Optional, Tuple

from ...config import Environment
from ...errors import ConfigError
from ...invocation import command_line
from ...was_processes import deployment_processes, script_line
from ...wsadmin_session import (
    CredentialsRefused,
    DmgrUnreachable,
    WsadminConnectError,
    WsadminError,
    WsadminSession,
    new_session,
)

SessionFactory = Callable[[Environment, str], WsadminSession]


def _new_session(env: Environment, workdir: str) -> WsadminSession:
    return new_session(env, workdir)


def dmgr_named(env: Environment) -> str:
    """``the Dmgr at HOST:PORT (SOAP; profile PATH[ on HOST])``, as wsadmin is told to reach it."""
    ws = env.section("wsadmin")
    dmgr, _agents = deployment_processes(env)
    profile = ""
    if dmgr is not None:
        profile = f"; profile {dmgr.profile}" + ("" if dmgr.host.is_local else f" on {dmgr.host.name}")
    return f"the Dmgr at {ws['host']}:{ws['port']} ({ws['conntype']}{profile})"


def _credentials_named(env: Environment) -> str:
    """Where the login that was refused comes from, by its keys."""
    ws = env.section("wsadmin")
    if ws["credentials"] == "profile":
        return "the user and password of the Dmgr profile's properties/soap.client.props (wsadmin.credentials: profile)"
    source = (f"password_env {ws['password_env']}" if ws.get("password_env") else
              f"password_file {ws['password_file']}" if ws.get("password_file") else "password_prompt")
    return f"wsadmin.user {ws.get('user') or '(not set)'} and wsadmin.{source} ({env.where('wsadmin')})"


def _start_hint(env: Environment) -> str:
    dmgr, _agents = deployment_processes(env)
    by_hand = "" if dmgr is None else (
        f"{script_line(dmgr, 'startManager')}{'' if dmgr.host.is_local else ' on ' + dmgr.host.name}, or ")
    return f"{by_hand}the whole deployment with: {command_line('start', '--env', env.argument)}"


def connect_problem(env: Environment, error: WsadminError) -> str:
    """The gate's line for a session that did not connect: the Dmgr, what wsadmin said, what to do."""
    named = dmgr_named(env)
    said = error.said if isinstance(error, WsadminConnectError) else str(error)
    ws_keys = f"wsadmin.host and wsadmin.port ({env.where('wsadmin')})"
    if isinstance(error, DmgrUnreachable):
        return (f"{named} does not answer ({said}). Is it running? Start it ({_start_hint(env)}), "
                f"or correct {ws_keys}; then run it again")
    if isinstance(error, CredentialsRefused):
        return f"{named} refused the login ({said}). Check {_credentials_named(env)}; then run it again"
    return (f"wsadmin could not reach {named} ({said}). Check that it runs (start it: {_start_hint(env)}), "
            f"{ws_keys} and {_credentials_named(env)}")


class DmgrGate:
    """The session the gate starts; ``take`` hands it on, ``close`` ends it and its folder."""

    def __init__(self, env: Environment, factory: SessionFactory = _new_session) -> None:
        self.env = env
        self.factory = factory
        self.session: Optional[WsadminSession] = None
        self.workdir: Optional[str] = None

    def connect(self) -> Tuple[List[str], List[str]]:
        """(problems, notes): start wsadmin with the configured credentials."""
        self.workdir = tempfile.mkdtemp(prefix="cnxbackup-gate-")
        try:
            self.session = self.factory(self.env, self.workdir)
            self.session.start()
        except ConfigError as error:  # the password cannot be read: the gate's password check says the same
            self.close()
            return [str(error)], []
        except WsadminError as error:
            self.close()
            return [connect_problem(self.env, error)], []
        except BaseException:
            self.close()
            raise
        user = self.env.section("wsadmin").get("user")
        return [], [f"wsadmin reached {dmgr_named(self.env)}{' and logged in as ' + user if user else ''}"]

    def take(self, workdir: str, run_id: str) -> Optional[WsadminSession]:
        """The started session, moved into ``workdir`` (None when there is none, or it has ended)."""
        session, self.session = self.session, None
        if session is None or session.child is None or not session.child.isalive():
            if session is not None:
                session.close()
            self.close()
            return None
        session.move_to(workdir, run_id)
        self.close()
        return session

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None
        if self.workdir is not None and os.path.isdir(self.workdir):
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir = None
