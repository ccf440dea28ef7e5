"""Issue 28, item 1: a restore says what it will stop, replace, restore and change, and asks for the
environment's name first; ``--yes`` for scripts; without a terminal and without ``--yes`` it refuses
(exit 2). What would not touch anything live (folders that do not exist yet under ``--target-root``,
steps an option leaves out, steps an interrupted run finished) asks nothing."""
from __future__ import annotations

import json
import os
import textwrap
from typing import List

import pytest

from cnxbackup.actions.restore.confirm import NotConfirmed, confirm, impact
from cnxbackup.actions.restore.plan import RestoreStep, restore_steps
from cnxbackup.config import Environment, load_environment
from cnxbackup.errors import EXIT_USAGE
from cnxbackup.manifest import Manifest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "format1", "set", "manifest.json")


@pytest.fixture
def env(tmp_path) -> Environment:
    env_file = tmp_path / "prod.yaml"
    env_file.write_text(textwrap.dedent(f"""\
        connections: {{version: 8.0.0.0_CR14}}
        database: {{vendor: db2, backup_dir: /db2backup, databases: [HOMEPAGE]}}
        target: {{dir: "{tmp_path}/backups"}}
        """))
    return load_environment(str(env_file))


@pytest.fixture
def manifest() -> Manifest:
    with open(FIXTURE, encoding="utf-8") as handle:
        return Manifest.from_json(json.load(handle))


def steps_of(manifest: Manifest, env: Environment, **kwargs) -> List[RestoreStep]:
    return restore_steps(manifest, "/srv/set", env, **kwargs)


def test_a_whole_restore_names_what_stops_every_path_it_replaces_every_database_and_what_starts(manifest, env):
    found = impact(steps_of(manifest, env), env, side_restore=False, start=False, print_db_commands=False)
    assert found.changes_live
    assert found.stops == ["the application servers of the cell (wsadmin stop_servers)", "nodeagent (AppSrv01)",
                           "dmgr (Dmgr01)"]
    archives = {a.name: a for a in manifest.archives}
    assert len(found.replaces) == len(archives)
    shared = archives["shared-data"]
    assert f"{shared.source}: shared-data (" in "\n".join(found.replaces)
    assert [line.split(" ")[0] for line in found.databases] == [db.name for db in manifest.databases]
    assert found.starts == ["dmgr (Dmgr01)", "nodeagent (AppSrv01)"]  # --start not given: not the servers
    text = "\n".join(found.lines())
    assert text.index("  stop:") < text.index("  replace") < text.index("  restore these databases") \
        < text.index("  then start:")


def test_options_and_finished_steps_leave_out_what_will_not_run(manifest, env):
    steps = steps_of(manifest, env, only=["databases"])
    printed = impact(steps, env, side_restore=False, start=False, print_db_commands=True)
    assert printed.databases == [] and printed.replaces == []  # --print-db-commands: printed, not run
    assert printed.stops  # the servers still stop (and the question is still asked)
    done = {s.step_id for s in steps if s.kind in ("stop", "stop-agents", "stop-dmgr")}
    resumed = impact(steps, env, side_restore=False, start=True, print_db_commands=False,
                     finished=lambda step: step.step_id in done)
    assert resumed.stops == [] and len(resumed.databases) == len(manifest.databases)
    assert "the application servers (--start)" in resumed.starts


def test_under_target_root_only_paths_that_exist_count_and_nothing_stops(manifest, env, tmp_path):
    side = str(tmp_path / "side")
    steps = steps_of(manifest, env, target_root=side)
    found = impact(steps, env, side_restore=True, start=True, print_db_commands=False)
    assert not found.changes_live and found.lines() == []
    existing = next(s for s in steps if s.kind == "file" and s.archive and s.archive.name == "im-shared")
    os.makedirs(existing.destination or "")
    again = impact(steps, env, side_restore=True, start=True, print_db_commands=False)
    assert [line.split(":")[0] for line in again.replaces] == [existing.destination] and again.stops == []


def _answer(found, env, *, yes=False, terminal=True, typed="", resume=False):
    said: List[str] = []
    asked: List[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return typed

    result = confirm(found, env, "/srv/set", yes=yes, resume=resume, say=said.append, ask=ask,
                     on_terminal=lambda: terminal)
    return result, said, asked


def test_without_a_terminal_and_without_yes_it_refuses_with_exit_2_and_says_how(manifest, env):
    found = impact(steps_of(manifest, env), env, side_restore=False, start=False, print_db_commands=False)
    with pytest.raises(NotConfirmed) as refused:
        _answer(found, env, terminal=False)
    assert refused.value.exit_code == EXIT_USAGE
    message = str(refused.value)
    assert "no terminal" in message and "--yes" in message and "--dry-run" in message and "/srv/set" in message
    with pytest.raises(NotConfirmed, match="--resume"):
        _answer(found, env, terminal=False, resume=True)


def test_only_the_environment_s_name_goes_on(manifest, env):
    found = impact(steps_of(manifest, env), env, side_restore=False, start=False, print_db_commands=False)
    for typed in ("", "y", "yes", env.name.upper(), "prod2"):
        with pytest.raises(NotConfirmed, match="nothing was changed"):
            _answer(found, env, typed=typed)
    def end_of_input(prompt: str) -> str:
        raise EOFError

    with pytest.raises(NotConfirmed, match="nothing was changed"):
        confirm(found, env, "/srv/set", yes=False, resume=False, say=lambda text: None, ask=end_of_input,
                on_terminal=lambda: True)
    result, said, asked = _answer(found, env, typed=f"  {env.name}\n")
    assert len(asked) == 1 and env.name in asked[0]
    assert said and said[0].startswith("This will restore /srv/set onto prod") and "dmgr (Dmgr01)" in said[0]
    assert result.endswith(f"(confirmed by typing {env.name})")


def test_yes_does_not_ask_but_still_says_what_it_does(manifest, env):
    found = impact(steps_of(manifest, env), env, side_restore=False, start=False, print_db_commands=False)
    result, said, asked = _answer(found, env, yes=True, terminal=False)
    assert asked == [] and "--yes: not asked" in said[0] and "restore these databases" in said[0]
    assert "--yes" in result


def test_nothing_live_touched_asks_nothing(manifest, env, tmp_path):
    steps = steps_of(manifest, env, target_root=str(tmp_path / "side"))
    found = impact(steps, env, side_restore=True, start=False, print_db_commands=False)
    result, said, asked = _answer(found, env, terminal=False)
    assert asked == [] and said == [] and "not asked" in result
