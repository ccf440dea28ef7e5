"""The plan's expected downtime: the stop, then databases beside files, from the last complete set."""
from __future__ import annotations

import json
import textwrap

from cnxbackup.actions.estimate import expected_downtime
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
    assert "about 0:22:00 from the stop" in line and "files 0:20:00" in line and "est-20261101T100000" in line
