"""The plan's expected downtime: the stop, then databases beside files, from the last complete set."""
from __future__ import annotations

import json
import textwrap

from cnxbackup.actions.backup.estimate import expected_downtime
from cnxbackup.config import load_environment


def env_in(tmp_path):
    path = tmp_path / "est.yaml"
    path.write_text(textwrap.dedent(f"""\
        connections: {{version: 8.0.0.0_CR14}}
        database: {{vendor: none}}
        target: {{dir: "{tmp_path}/backups"}}
        """))
    return load_environment(str(path))


def step(start: str, end: str) -> dict:
    return {"started": f"2026-11-01T10:{start}+0000", "ended": f"2026-11-01T10:{end}+0000", "status": "done"}


def write_set(tmp_path, name: str, status: str, steps: dict, tar_bytes: int) -> None:
    folder = tmp_path / "backups" / name
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"status": status, "runId": name, "steps": steps,
                                                      "archives": [{"tarBytes": tar_bytes}]}))


def test_without_a_complete_set_the_downtime_is_not_known(tmp_path) -> None:
    env = env_in(tmp_path)
    assert "not known yet" in expected_downtime(env, 10 << 30)
    write_set(tmp_path, "est-20261101T100000", "partial", {"item:a": step("00:00", "10:00")}, 1 << 30)
    assert "not known yet" in expected_downtime(env, 10 << 30)  # a partial set gives no rates


def test_the_outage_is_the_stop_then_the_longer_of_databases_and_files_scaled_by_bytes(tmp_path) -> None:
    env = env_in(tmp_path)
    steps = {"wsadmin:stop_servers": step("00:00", "02:00"),              # 2 min to stop
             "db:FILES": step("02:00", "12:00"), "db:BLOGS": step("02:00", "08:00"),  # 10 min of databases
             "item:shared": step("02:00", "07:00")}                        # 5 min of files for 1 GiB
    write_set(tmp_path, "est-20261101T100000", "complete", steps, 1 << 30)
    # 1 GiB now: files 5 min < databases 10 min -> 2 + 10 = 12 min
    assert "about 0:12:00 from the stop" in expected_downtime(env, 1 << 30)
    # 4 GiB now: files scale to 20 min > databases -> 2 + 20 = 22 min
    line = expected_downtime(env, 4 << 30)
    assert "about 0:22:00 from the stop" in line and "files at most 0:20:00" in line and "est-20261101T100000" in line


def test_two_phase_the_outage_holds_the_level_1_archives_not_the_whole_trees(tmp_path) -> None:
    env = env_in(tmp_path)
    level0 = dict(step("00:00", "30:00"), level=0)                         # 30 min, servers running
    steps = {"item:shared": level0, "wsadmin:stop_servers": step("30:00", "31:00"),
             "db:FILES": step("31:00", "35:00"),                           # 4 min of databases
             "level1:shared": step("31:00", "37:00"),                      # 6 min of changes
             "item:ear": dict(step("31:00", "32:00"), level=None)}         # a single file, after the stop
    write_set(tmp_path, "est-20261101T100000", "complete", steps, 1 << 30)
    line = expected_downtime(env, 2 << 30)
    # 1 + max(4, 6) = 7 min; the level 0 scales to 60 min for 2 GiB, before the stop
    assert "about 0:07:00 from the stop" in line and "level-1 archives 0:06:00" in line, line
    assert "about 1:00:00 for 2.0 GB" in line and "run before the stop" in line, line
    with open(env.file, "a") as handle:
        handle.write("archive: {mode: full}\n")
    from cnxbackup.config import load_environment
    full = expected_downtime(load_environment(env.file), 2 << 30)
    assert "about 1:01:00 from the stop" in full, full  # full mode: the whole trees after the stop
