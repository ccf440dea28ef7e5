"""Monitoring and hooks around ``cnxbackup backup``: pings, a Prometheus textfile, commands.

Pings follow the healthchecks.io Pinging API (https://healthchecks.io/docs/http_api/): the
check's URL signals success, ``URL/start`` the start and ``URL/fail`` a failure, each with
``?rid=RUN`` so that the monitor pairs start and end; the failure ping POSTs the last lines of
the run's log, every secret masked. A ping has a short timeout and a few retries and never
fails the backup (a dead monitor is a warning in the log). The standard library's urllib is
enough: one GET or POST per ping, no session, proxies from the usual ``https_proxy``.

The textfile (node-exporter's textfile collector, one ``cnxbackup_ENV.prom`` per environment)
is written atomically (temporary file in the same folder, fsync, rename), so the collector
never reads half a file. ``cnxbackup_last_status`` is the run's exit code: 0 success, 3
success with warnings, 1 failed or partial, 2 configuration or usage error, 130 interrupted.
``cnxbackup_last_success_timestamp_seconds`` is carried over from the file when the run fails.

Hooks (borgmatic's before/after/on-error): shell commands on this machine, each with the
run described in ``CNXBACKUP_*`` environment variables; a failing ``before_backup`` aborts
the backup before anything is checked or stopped; ``after_backup`` runs after a backup that
succeeded, ``on_error`` after one that did not (a failing after or on-error hook is a warning).
"""
from __future__ import annotations

import collections
import logging
import os
import re
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from typing import Any, Deque, Dict, List, Mapping, Optional

from ... import __version__
from ...atomic import write_file_atomic
from ...config import Environment
from ...errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_WARNINGS, StepFailed
from ...log import get_logger
from ...outcome import CommandOutcome
from ...progress import Progress
from ...redact import REDACT
from ...setbox import OutsideTheSet, read_regular

METRIC_NAMES = ("cnxbackup_last_success_timestamp_seconds", "cnxbackup_last_duration_seconds", "cnxbackup_last_bytes",
                "cnxbackup_last_downtime_seconds", "cnxbackup_last_status")
_HELP = {
    "cnxbackup_last_success_timestamp_seconds": "Unix time the last successful backup (exit 0 or 3) ended.",
    "cnxbackup_last_duration_seconds": "Seconds the last backup run took.",
    "cnxbackup_last_bytes": "Bytes the last backup set holds on its disk.",
    "cnxbackup_last_downtime_seconds": "Seconds from the stop of the servers to the end of the last backup's steps.",
    "cnxbackup_last_status": "Exit code of the last backup: 0 ok, 3 warnings, 1 failed or partial, 2 usage, 130 interrupted.",
}
_SAMPLE = re.compile(r'^(cnxbackup_last_success_timestamp_seconds)\{[^}]*\}\s+(\S+)\s*$', re.M)


class LogTail(logging.Handler):
    """The last lines of the run's log, masked, for the failure ping."""

    def __init__(self, lines: int) -> None:
        super().__init__(logging.DEBUG)
        self.lines: Deque[str] = collections.deque(maxlen=max(lines, 1))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a bad format string is not the monitor's problem
            text = str(record.msg)
        for line in REDACT(text).splitlines() or [""]:
            self.lines.append(f"{record.levelname.lower()}: {line}")

    def text(self) -> str:
        return REDACT("\n".join(self.lines))


def _with_rid(url: str, rid: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.urlencode([*urllib.parse.parse_qsl(parts.query), ("rid", rid)])
    return urllib.parse.urlunsplit(parts._replace(query=query))


def _masked_url(url: str) -> str:
    """The URL for the log: the check's UUID or ping key is a credential, its path is not shown."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/..."


class Monitor:
    """Pings, textfile and hooks of one backup run (does nothing when the sections are absent)."""

    def __init__(self, env: Environment, progress: Progress) -> None:
        self.env = env
        self.progress = progress
        self.settings = env.section("monitoring")
        self.hooks = env.section("hooks")
        self.rid = str(uuid.uuid4())
        self.tail = LogTail(int(self.settings["log_lines"]))
        self.started = time.time()
        self.log = get_logger()
        self.log.addHandler(self.tail)
        self.warnings: List[str] = []

    def close(self) -> None:
        self.log.removeHandler(self.tail)

    # ------------------------------------------------------------------ pings

    def _url(self, kind: str) -> Optional[str]:
        explicit = self.settings.get(f"{kind}_url")
        if explicit:
            return str(explicit)
        base = self.settings.get("ping_url")
        if not base:
            return None
        return str(base).rstrip("/") + ("" if kind == "success" else f"/{kind}")

    def ping(self, kind: str, body: str = "", once: bool = False) -> bool:
        """One ping (start, success, fail); False when the monitor did not answer (never raises).
        ``once``: a single attempt (after Ctrl-C, the user is not kept waiting through the retries)."""
        url = self._url(kind)
        if url is None:
            return True
        url = _with_rid(url, self.rid)
        data = body.encode("utf-8")[-int(self.settings["body_limit"]):] if body else None
        attempts = 1 if once else int(self.settings["retries"]) + 1
        error: Any = None
        for attempt in range(attempts):
            request = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                             headers={"User-Agent": f"cnxbackup/{__version__}"})
            try:
                with urllib.request.urlopen(request, timeout=float(self.settings["timeout"])) as answer:
                    if 200 <= answer.status < 300:
                        self.log.info("monitor: %s ping sent to %s", kind, _masked_url(url))
                        return True
                    error = f"HTTP {answer.status}"
            except Exception as problem:  # URLError, OSError, http.client's own: a monitor never fails the backup
                error = getattr(problem, "reason", problem)
            if attempt + 1 < attempts:
                time.sleep(min(1.0 * (attempt + 1), 5.0))
        warning = f"monitor: the {kind} ping to {_masked_url(url)} failed after {attempts} attempts ({error}); the backup goes on"
        self.warnings.append(warning)
        self.progress.note(warning)
        return False

    # ------------------------------------------------------------------ hooks

    def _environment(self, outcome: CommandOutcome, code: Optional[int]) -> Dict[str, str]:
        extra = {"CNXBACKUP_ENV": self.env.name, "CNXBACKUP_COMMAND": "backup", "CNXBACKUP_RUN_ID": self.rid,
                 "CNXBACKUP_CONFIG": os.path.abspath(self.env.file), "CNXBACKUP_SET": outcome.set_dir or ""}
        if code is not None:
            extra.update({"CNXBACKUP_EXIT_CODE": str(code), "CNXBACKUP_STATUS": outcome.document(code, __version__)["status"],
                          "CNXBACKUP_ERROR": REDACT("; ".join(outcome.errors))[:4000]})
        return {**os.environ, **extra}

    def run_hooks(self, name: str, outcome: CommandOutcome, code: Optional[int] = None) -> List[str]:
        """Run one hook list in order; the failures (one line each). A before hook stops at the first."""
        failures = []
        for number, command in enumerate(self.hooks[name], 1):
            where = f"{self.env.where('hooks.' + name)}: hooks.{name}[{number}]"
            self.progress.message(f"hook {name}[{number}]: {REDACT(command)}")
            try:
                proc = subprocess.run(["/bin/sh", "-c", command], env=self._environment(outcome, code), stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=float(self.hooks["timeout"]))
                output, rc = proc.stdout.decode("utf-8", "replace"), proc.returncode
            except subprocess.TimeoutExpired:
                output, rc = "", None
            except OSError as error:
                output, rc = str(error), -1
            for line in output.splitlines()[-50:]:
                self.log.info("hook %s[%d]: %s", name, number, line)
            if rc == 0:
                continue
            why = f"timed out after {self.hooks['timeout']} s" if rc is None else f"exit {rc}"
            tail = REDACT(output.strip().splitlines()[-1]) if output.strip() else ""
            failures.append(f"{where} failed ({why}){': ' + tail if tail else ''}")
            if name == "before_backup":
                break
        return failures

    # ------------------------------------------------------------------ the run

    def start(self, outcome: CommandOutcome) -> None:
        """The start ping, then the before hooks; raises StepFailed when one fails (the backup does not run)."""
        self.ping("start")
        failures = self.run_hooks("before_backup", outcome)
        if failures:
            raise StepFailed(failures[0] + "; the backup was not started (nothing was checked or stopped)")

    def finish(self, outcome: CommandOutcome, code: int) -> None:
        """After or on-error hooks, the success or failure ping, the textfile: none of them changes ``code``."""
        ok = code in (EXIT_OK, EXIT_WARNINGS)
        for failure in self.run_hooks("after_backup" if ok else "on_error", outcome, code):
            self.progress.warning(failure)
        if ok:
            self.ping("success", self._summary(outcome, code))
        else:
            self.ping("fail", self._summary(outcome, code) + "\n\n" + self.tail.text(), once=code == EXIT_INTERRUPTED)
        self.write_textfile(outcome, code)

    def _summary(self, outcome: CommandOutcome, code: int) -> str:
        status = outcome.document(code, __version__)["status"]
        return REDACT(f"cnxbackup backup of {self.env.name}: {status} (exit {code}); set {outcome.set_dir or '-'}"
                      + "".join(f"\nerror: {e}" for e in outcome.errors))

    # ------------------------------------------------------------------ textfile

    def textfile_path(self) -> Optional[str]:
        folder = self.settings.get("textfile_dir")
        return os.path.join(str(folder), f"cnxbackup_{self.env.name}.prom") if folder else None

    def write_textfile(self, outcome: CommandOutcome, code: int) -> None:
        path = self.textfile_path()
        if path is None:
            return
        now = time.time()
        last_success = now if code in (EXIT_OK, EXIT_WARNINGS) else previous_success(path)
        values = {"cnxbackup_last_success_timestamp_seconds": last_success,
                  "cnxbackup_last_duration_seconds": round(now - self.started, 3),
                  "cnxbackup_last_bytes": outcome.bytes,
                  "cnxbackup_last_downtime_seconds": outcome.downtime_seconds,
                  "cnxbackup_last_status": code}
        try:
            write_file_atomic(path, textfile(self.env.name, values).encode("utf-8"), mode=0o644)
        except OSError as error:
            self.progress.note(f"monitor: the textfile {path} was not written ({error})")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def textfile(env_name: str, values: Mapping[str, Optional[float]]) -> str:
    """The Prometheus text exposition of the metrics (a metric without a value is left out)."""
    lines = []
    for name in METRIC_NAMES:
        value = values.get(name)
        if value is None:
            continue
        lines += [f"# HELP {name} {_HELP[name]}", f"# TYPE {name} gauge",
                  f'{name}{{environment="{_label(env_name)}"}} {float(value):.17g}' if isinstance(value, float)
                  else f'{name}{{environment="{_label(env_name)}"}} {value}']
    return "\n".join(lines) + "\n"


def previous_success(path: str) -> Optional[float]:
    """The last success the textfile recorded (read as a regular file only: the folder may be one
    others can write, and a FIFO planted there must not hang the run)."""
    try:
        match = _SAMPLE.search(read_regular(path, 1 << 16).decode("utf-8", "replace"))
    except (OSError, OutsideTheSet):
        return None
    try:
        return float(match.group(2)) if match else None
    except ValueError:
        return None

