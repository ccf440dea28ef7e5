"""The command line: global options before or after the subcommand, help for every argument,
internal commands kept out of what users see."""

from __future__ import annotations

import e2e
from cnxbackup.cli import REMOTE_TOOL


def test_the_internal_command_is_not_in_help_or_errors() -> None:
    proc = e2e.cli("nosuch")
    assert proc.returncode == 2 and "config-reference" in proc.stderr and REMOTE_TOOL not in proc.stderr
    assert REMOTE_TOOL not in e2e.cli("--help").stdout


def test_plan_accepts_plain_after_the_subcommand_end_to_end(tmp_path) -> None:
    env_file = e2e.write_env(str(tmp_path))
    proc = e2e.cli("plan", "--env", env_file, "--plain")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Environment demo" in proc.stdout


def test_a_missing_environment_says_how_to_write_it_and_lists_those_that_exist() -> None:
    proc = e2e.cli("plan", "--env", "nosuch")
    assert proc.returncode == 2
    assert proc.stderr.count("nosuch.yaml") == 1, proc.stderr  # the path once, not twice
    # the hint names the program as it was started (here python -m cnxbackup with its PYTHONPATH), not a bare name
    assert f"PYTHONPATH={e2e.DRIVER} " in proc.stderr and " -m cnxbackup init --env nosuch" in proc.stderr
    assert "demo" in proc.stderr
