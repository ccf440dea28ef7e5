"""Progress: bars full only at 100 %, an overall total with elapsed time and ETA, one line per
finished item, and every line also in the run's log."""
from __future__ import annotations

import io
import re

from cnxbackup.progress import Progress, counted


def test_a_bar_is_full_and_says_100_only_when_everything_is_there() -> None:
    progress = Progress(io.StringIO(), plain=True)
    task = progress.task("shared-data", 10_000, 10)
    task.bytes = 9_996
    line = task.line()
    assert "99.9%" in line and "|###################.|" in line  # not "100.0%" with 19 of 20 marks
    task.bytes = 10_000
    assert "100.0% |####################|" in task.line()


def test_an_overall_line_follows_each_finished_item_with_elapsed_time_and_eta() -> None:
    out = io.StringIO()
    progress = Progress(out, plain=True)
    progress.start_overall("files", 3_000, 3)
    for name in ("a", "b"):
        task = progress.task(name, 1_000, 5)
        task.update(5, 1_000)
        task.finish("-> archives/x")
    lines = out.getvalue().splitlines()
    done = [line for line in lines if "] done:" in line]
    assert [line.split("]")[0] for line in done] == ["[a", "[b"]  # one "done" per item
    overall = [line for line in lines if line.startswith("[files]")]
    assert len(overall) == 2 and overall[-1].startswith("[files] 2/3 items, 2.0 KB/2.9 KB, elapsed 0:00:00")
    assert re.search(r"ETA \d+:\d\d:\d\d", overall[-1])


def test_messages_and_finished_tasks_go_to_the_recorder_too() -> None:
    recorded: list = []
    progress = Progress(io.StringIO(), plain=True, quiet=True)
    progress.recorder = lambda line, level: recorded.append(line)
    progress.message("[databases] FILES finished (1/16, elapsed 0:00:03)")
    progress.task("im-data", 10, 1).finish("", verb="staged")
    assert recorded[0].startswith("[databases] FILES") and recorded[1].startswith("[im-data] staged:")


def test_plain_output_has_no_zero_percent_line_and_an_estimate_that_fell_short_grows() -> None:
    out = io.StringIO()
    progress = Progress(out, plain=True)
    task = progress.task("im-data", 1_000, 8)
    task.update(0, 0)
    assert out.getvalue() == ""  # no "0.0%" line before anything happened
    task.bytes = 1_800
    assert "100.0%" in task.line() and "1.8 KB/1.8 KB" in task.line()


class _Writes(io.StringIO):
    """A terminal that keeps each write apart."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def test_counts_agree_with_their_nouns_and_an_empty_part_is_left_out() -> None:
    out = io.StringIO()
    progress = Progress(out, plain=True)
    progress.start_overall("files", 100, 1)
    task = progress.task("engine-ws-ear", 100, None)
    task.update(1, 100)
    task.finish()
    progress.task("shared-data", 1_000, 10).finish(verb="interrupted")
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[engine-ws-ear] done: 100 B, 1 file in ") and lines[1].startswith("[files] 1/1 item,")
    assert lines[2].startswith("[shared-data] interrupted: 0 B in ")  # never "done:  in 0.5s FAILED"
    assert progress.task("im-data").line().startswith("[im-data] 0 B of unknown total")
    nothing = Progress(io.StringIO(), plain=True)
    nothing.task("copy").finish(verb="FAILED")
    assert nothing.stream.getvalue().startswith("[copy] FAILED in ")  # no empty part before "in"
    assert [counted(n, "file") for n in (0, 1, 1234)] == ["0 files", "1 file", "1,234 files"]
    assert (counted(2, "entry"), counted(1, "entry"), counted(3, "process"), counted(2, "day")) == (
        "2 entries", "1 entry", "3 processes", "2 days")


def test_a_line_over_a_live_bar_is_one_write_and_the_bar_fits_the_terminal(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    out = _Writes()
    progress = Progress(out, plain=False)
    task = progress.task("connections-root level 0", 10_000_000, 1_000)
    task._last_draw -= 1  # a bar is due
    task.update(500, 5_000_000)
    assert out.writes[-1].startswith("\r\033[K[connections-root") and len(out.writes[-1]) == len("\r\033[K") + 39
    task.finish()
    assert out.writes[-1].startswith("\r\033[K[connections-root level 0] done: ") and out.writes[-1].endswith("\n")
