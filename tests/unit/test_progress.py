"""Progress: bars full only at 100 %, an overall total with elapsed time and ETA, one line per
finished item, and every line also in the run's log."""
from __future__ import annotations

import io
import re

from cnxbackup.progress import Progress


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
