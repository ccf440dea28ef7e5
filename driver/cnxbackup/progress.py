"""Progress with totals and rates: a redrawn bar on a terminal, plain throttled lines otherwise.

Plain mode is used when stdout is not a TTY or when CI is set. An unknown total is shown
as unknown, never as 0 %.
"""
from __future__ import annotations

import math
import os
import shutil
import sys
import threading
import time
from typing import Callable, Optional, TextIO

from .outcome import CommandOutcome, Level
from .shown import printable


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(count) < 1024 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024.0
    return f"{count:.1f} TB"


def human_seconds(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def counted(number: int, noun: str, plural: str = "") -> str:
    """A count and its noun in agreement: ``1 file``, ``2 files``, ``1,234 entries`` (``plural``
    when it is not the noun with -s, -es or y -> -ies)."""
    if number == 1:
        return f"1 {noun}"
    if not plural:
        if noun.endswith("y") and noun[-2:-1] not in tuple("aeiou"):
            plural = noun[:-1] + "ies"
        else:
            plural = noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")
    return f"{number:,} {plural}"


class Task:
    """One long piece of work: call ``update(files_done, bytes_done)`` from any thread."""

    def __init__(self, display: "Progress", label: str, total_bytes: Optional[int], total_files: Optional[int]) -> None:
        self.display = display
        self.label = label
        self.total_bytes = total_bytes
        self.total_files = total_files
        self.files = 0
        self.bytes = 0
        self.started = time.monotonic()
        self._last_draw = self.started  # the 30 s heartbeat of plain output counts from the start
        self._last_plain_pct = -1

    def update(self, files: int, nbytes: int) -> None:
        self.files, self.bytes = files, nbytes
        self.display.draw(self)

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.bytes / elapsed
        parts = [f"[{self.label}]"]
        if self.total_bytes:
            total = max(self.total_bytes, self.bytes)  # an estimate that fell short grows, never shows 180/87
            fraction = self.bytes / total
            filled = int(fraction * 20)  # floor, like the percentage: the bar is full only at 100 %
            parts.append(f"{math.floor(fraction * 1000) / 10:5.1f}% |{'#' * filled}{'.' * (20 - filled)}|")
            parts.append(f"{human_bytes(self.bytes)}/{human_bytes(total)}")
        else:
            parts.append(f"{human_bytes(self.bytes)} of unknown total")
        if self.total_files:
            parts.append(f"{self.files:,}/{counted(self.total_files, 'file')}")
        elif self.files:
            parts.append(counted(self.files, "file"))
        parts.append(f"{human_bytes(rate)}/s")
        if self.total_bytes and rate > 0 and self.bytes < self.total_bytes:
            parts.append(f"ETA {human_seconds((self.total_bytes - self.bytes) / rate)}")
        return " ".join(parts)

    def finish(self, note: str = "", verb: str = "done") -> None:
        self.display.finish(self, note, verb)


class Overall:
    """A phase's totals (bytes and items), advanced as its tasks finish."""

    def __init__(self, label: str, total_bytes: int, items: int) -> None:
        self.label, self.total_bytes, self.items = label, total_bytes, items
        self.bytes_done, self.items_done = 0, 0
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def add(self, nbytes: int) -> str:
        with self._lock:
            self.items_done += 1
            self.bytes_done += nbytes
            done, items, total = self.bytes_done, self.items_done, self.total_bytes
        elapsed = self.elapsed()
        parts = [f"[{self.label}] {items}/{counted(self.items, 'item')}"]
        if total:
            parts.append(f"{human_bytes(min(done, total))}/{human_bytes(total)}")
        parts.append(f"elapsed {human_seconds(elapsed)}")
        if total and 0 < done < total and elapsed > 0:
            parts.append(f"ETA {human_seconds((total - done) * elapsed / done)}")
        return ", ".join(parts)


class Progress:
    """Console progress; thread-safe so that parallel steps share one display."""

    def __init__(self, stream: Optional[TextIO] = None, plain: Optional[bool] = None, quiet: bool = False) -> None:
        stream = sys.stdout if stream is None else stream  # the one of the moment (an in-process test's capture), not the one at import
        self.stream = stream
        if plain is None:
            plain = not (hasattr(stream, "isatty") and stream.isatty()) or bool(os.environ.get("CI"))
        self.plain = plain
        self.quiet = quiet
        self._lock = threading.Lock()
        self._live = False
        # every message and every finished task also goes to the run's log, at its level (cli sets it)
        self.recorder: Optional[Callable[[str, Level], None]] = None
        self._overall: Optional[Overall] = None
        # what the command did, for --json: the messages' notes, warnings and failures are kept by level
        self.outcome = CommandOutcome()
        # set on Ctrl-C (cli gives it signals.CANCEL): from then on, only the main thread, which says
        # how the run ended, reaches the console; the workers' lines go to the log alone
        self.interrupted: Optional[threading.Event] = None

    def end_bar(self) -> None:
        """Clear a bar still drawn on the terminal, before a line written past this display."""
        with self._lock:
            if self._live:
                self.stream.write("\r\033[K")
                self.stream.flush()
                self._live = False

    def _hushed(self) -> bool:
        """A worker's line after an interruption: it would read as if the work went on."""
        return (self.interrupted is not None and self.interrupted.is_set()
                and threading.current_thread() is not threading.main_thread())

    def start_overall(self, label: str, total_bytes: int, items: int) -> None:
        """Totals of a whole phase: each finished task then also shows where the phase is."""
        self._overall = Overall(label, total_bytes, items)

    def elapsed(self) -> str:
        """Time since the phase began (for messages while, say, the databases run)."""
        return human_seconds(self._overall.elapsed()) if self._overall else ""

    def task(self, label: str, total_bytes: Optional[int] = None, total_files: Optional[int] = None) -> Task:
        return Task(self, label, total_bytes, total_files)

    def draw(self, task: Task) -> None:
        if self.quiet or (self.interrupted is not None and self.interrupted.is_set()):
            return
        now = time.monotonic()
        with self._lock:
            if self.plain:
                pct = int(task.bytes * 10 / task.total_bytes) * 10 if task.total_bytes else -1
                # a line per 10 % step (none at 0 %, the "done" line says 100 %), or every 30 s
                if (pct > task._last_plain_pct and 0 < pct < 100) or now - task._last_draw >= 30:
                    task._last_plain_pct = max(pct, task._last_plain_pct)
                    task._last_draw = now
                    self.stream.write(task.line() + "\n")
                    self.stream.flush()
            elif now - task._last_draw >= 0.2:
                task._last_draw = now
                # never wider than the terminal: a wrapped bar leaves its first row behind, which the
                # next line's "\r" cannot reach, and that line then reads as broken in two
                width = max(shutil.get_terminal_size().columns - 1, 20)
                self.stream.write("\r\033[K" + task.line()[:width])
                self.stream.flush()
                self._live = True

    def finish(self, task: Task, note: str = "", verb: str = "done") -> None:
        elapsed = time.monotonic() - task.started
        size = human_bytes(task.bytes) if task.bytes or task.total_bytes else ""
        files = counted(task.files, "file") if task.files else ""
        what = ", ".join(part for part in (size, files) if part)  # nothing read: no empty part before "in"
        line = f"[{task.label}] {verb}{': ' + what if what else ''} in {elapsed:.1f}s{(' ' + note) if note else ''}"
        if self._overall is not None:
            line += "\n" + self._overall.add(max(task.bytes, task.total_bytes or 0))
        self._show(line, Level.INFO)

    def message(self, text: str, level: Level = Level.INFO) -> None:
        """One message: its console line is ``text`` behind the level's prefix (``WARNING: ``, ...);
        the outcome keeps a note, warning or failure, and the run's log gets the line once, at its level."""
        self.outcome.heard(text, level)
        self._show(level.line(text), level)

    def note(self, text: str) -> None:
        self.message(text, Level.NOTE)

    def warning(self, text: str) -> None:
        self.message(text, Level.WARNING)

    def failed(self, text: str) -> None:
        self.message(text, Level.ERROR)

    def _show(self, line: str, level: Level) -> None:
        """A line to the run's log and, unless quiet, to the console (over a live bar); shown printable
        (``shown``): an ESC, BEL or CR from a value outside cannot reach the terminal."""
        line = printable(line, keep_newlines=True)
        if self.recorder is not None:
            self.recorder(line, level)
        if self.quiet or self._hushed():
            return
        with self._lock:
            # one write: the bar's clearing and the whole line together, nothing between them
            self.stream.write(("\r\033[K" if self._live else "") + line + "\n")
            self._live = False
            self.stream.flush()
