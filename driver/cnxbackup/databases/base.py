"""Shared pieces of the database hooks: data classes, secret-safe tool runner, parallel backup.

A vendor module (db2, mssql, oracle) provides the functions of the ``VendorHooks`` Protocol
(:mod:`.hooks`); everything here is vendor-neutral.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import re
import shlex
import signal
import subprocess
import threading
import time
from typing import Any, Iterable, Mapping, Sequence, Union, cast

from cnxbackup import render
from cnxbackup.errors import StepFailed
from cnxbackup.redact import MASK

OUTPUT_TAIL_LINES = 25  # like borgmatic's ERROR_OUTPUT_MAX_LINE_COUNT


class DbError(StepFailed):
    """A database tool could not be run or failed in a way the hook cannot report as a result."""


class DbTimeout(DbError):
    """A database tool ran longer than ``settings['timeout']`` and was killed."""


@dataclasses.dataclass
class DbTarget:
    """One unit of backup: a DB2/SQL Server database, an Oracle SID (RMAN) or schema job (Data Pump)."""

    vendor: str
    name: str
    schemas: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class DbBackupResult:
    """Outcome of one backup or restore; ``images`` are paths as the database server sees them."""

    vendor: str
    name: str
    images: list[str]
    timestamp: str | None
    location: str
    command: str
    output_tail: str
    status: str  # 'ok' | 'failed'
    error: str | None
    seconds: float
    warnings: list[str] = dataclasses.field(default_factory=list)
    online: bool = False
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


RestoreSource = Union[DbBackupResult, str]
"""What a restore starts from: the backup's result (as recorded in the manifest), or an image
path / 14-digit timestamp given by hand."""


def image_or_timestamp(source: RestoreSource) -> str:
    """The first image path of a result (else its timestamp), or the text given by hand."""
    if isinstance(source, DbBackupResult):
        return source.images[0] if source.images else str(source.timestamp or "")
    return source


@dataclasses.dataclass
class ToolRun:
    command: str  # masked, for logs
    rc: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + (("\n" + self.stderr) if self.stderr else "")


def mask_argv(argv: Sequence[str], secret_values: Iterable[str] = ()) -> list[str]:
    """Mask passwords in an argv for logging: known values, ``-P x``, ``user/pw``, ``password=x``."""
    values = [value for value in secret_values if value]
    masked: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            masked.append(MASK)
            hide_next = False
            continue
        if arg == "-P":
            hide_next = True
            masked.append(arg)
            continue
        text = re.sub(r"^((?:userid=)?[A-Za-z0-9_$#]+)/([^@\s\"']+)", r"\1/" + MASK, arg)
        text = re.sub(r"(?i)(password\s*=\s*)\S+", r"\1" + MASK, text)
        masked.append(mask_text(text, values))
    return masked


def mask_text(text: str, secret_values: Iterable[str]) -> str:
    for value in secret_values:
        if value:
            text = text.replace(value, MASK)
    return text


def command_text(argv: Sequence[str], secret_values: Iterable[str] = ()) -> str:
    return shlex.join(mask_argv(argv, secret_values))


def database_log(log: logging.Logger | None, name: str) -> logging.Logger | None:
    """The log of one database's tools: every line names the database (several run at once)."""
    if log is None:
        return None
    return cast(logging.Logger, _Named(log, {"database": name}))


class _Named(logging.LoggerAdapter):
    def process(self, msg: Any, kwargs: Any) -> Any:
        return f"database {self.extra['database']}: {msg}", kwargs  # type: ignore[index]


def tail(text: str, lines: int = OUTPUT_TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_tool(
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    log: logging.Logger | None = None,
    *,
    secret_values: Iterable[str] = (),
    input_text: str | None = None,
) -> ToolRun:
    """Run one tool; ``env`` is added to os.environ. Secrets are masked in the log and the output.

    stdin is /dev/null unless ``input_text`` is given, so a tool that prompts gets EOF instead of
    hanging. On timeout the whole process group is killed and DbTimeout is raised.
    Raises DbError when the tool cannot be started.
    """
    secrets = [value for value in secret_values if value]
    display = command_text(argv, secrets)
    if log:
        log.info("running: %s", display)
    child_env = dict(os.environ)
    child_env.update({key: str(value) for key, value in (env or {}).items()})
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            list(argv), env=child_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
            text=True, start_new_session=True,
        )
    except OSError as error:
        raise DbError("cannot run %s: %s" % (argv[0], error.strerror)) from None
    with _LIVE_LOCK:
        _LIVE.add(process)
    try:
        stdout, stderr = process.communicate(input=input_text, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise DbTimeout("%s did not finish within %s s and was killed" % (display, timeout)) from None
    except BaseException:
        _kill_group(process)
        raise
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(process)
    if TOOLS_CANCELLED.is_set():
        raise DbError("interrupted: %s was stopped" % display)
    seconds = time.monotonic() - started
    run = ToolRun(display, process.returncode, mask_text(stdout, secrets), mask_text(stderr, secrets), seconds)
    if log:
        lines = [line.strip() for line in tail(run.output, 5).splitlines() if line.strip()]
        log.info("rc=%s after %.1f s: %s", run.rc, seconds, " | ".join(lines) or "(no output)")
    return run


# Tools run in their own sessions (a Ctrl-C on the terminal does not reach them), so the
# driver keeps track of them and stops them itself when the run is interrupted.
_LIVE: set = set()
_LIVE_LOCK = threading.Lock()
TOOLS_CANCELLED = threading.Event()


def stop_all_tools() -> None:
    """Stop every running tool's process group (Ctrl-C / SIGTERM of the driver)."""
    TOOLS_CANCELLED.set()
    with _LIVE_LOCK:
        processes = list(_LIVE)
    for process in processes:
        for sig in (signal.SIGTERM,):
            try:
                os.killpg(process.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass


def _kill_group(process: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            process.communicate(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


def tool_command(settings: Mapping[str, Any], key: str) -> list[str]:
    """The argv prefix of a tool: ``settings['command'][key]``, a command line (text) or an argv (list)."""
    value = settings["command"][key]
    return shlex.split(value) if isinstance(value, str) else [str(part) for part in value]


def tool_env(settings: Mapping[str, Any], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {key: str(value) for key, value in settings["env"].items()}
    env.update(extra or {})
    return env


def lookup_password(settings: Mapping[str, Any], secrets: Mapping[str, str] | None) -> str | None:
    """The DB password: ``secrets['db_password']`` or the env var named by ``settings['password_env']``."""
    if secrets and secrets.get("db_password"):
        return secrets["db_password"]
    name = settings["password_env"]
    return os.environ.get(name) if name else None


def script_password_env(settings: Mapping[str, Any]) -> str:
    """The variable a generated script or restore command reads the password from (never the value):
    ``settings['password_env']`` when it names one, else ``settings['script_password_env']`` (the schema's)."""
    return str(settings["password_env"] or settings["script_password_env"])


def settings_unchanged(settings: Mapping[str, Any], secrets: Mapping[str, str] | None,
                       log: logging.Logger | None) -> dict[str, Any]:
    """``prepare_settings`` of a vendor that reads nothing from the server before a run: the settings as given."""
    return dict(settings)


def configured_tools(settings: Mapping[str, Any], keys: Sequence[str]) -> list[str]:
    """The configured commands (``settings['command'][key]``) of these tools, as written."""
    return [str(settings["command"][key]) for key in keys]


def now_stamp() -> str:
    return time.strftime("%Y%m%d%H%M%S")


def dry_run_result(target: DbTarget, location: str, command: str, log: logging.Logger | None) -> DbBackupResult:
    if log:
        log.info("%s %s: would run %s (dry run; not actually running anything)", target.vendor, target.name, command)
    return DbBackupResult(target.vendor, target.name, [], None, location, command, "", "ok", None, 0.0,
                          dry_run=True)


def failed_result(target: DbTarget, location: str, command: str, error: str, output: str = "",
                  seconds: float = 0.0) -> DbBackupResult:
    return DbBackupResult(target.vendor, target.name, [], None, location, command, tail(output), "failed",
                          error, seconds)


def render_template(name: str, **context: Any) -> str:
    """A DB script template (``templates/db/NAME``) through the project's one Jinja environment."""
    return render.render_template("db/" + name, **context)
