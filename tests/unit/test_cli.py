"""The command line: global options before or after the subcommand, help for every argument,
internal commands kept out of what users see."""

from __future__ import annotations

import argparse

import pytest

from cnxbackup.cli import build_parser


@pytest.mark.parametrize("argv, plain, verbose", [
    (["--plain", "plan", "--env", "x"], True, False),
    (["plan", "--env", "x", "--plain"], True, False),
    (["-v", "plan", "--env", "x"], False, True),
    (["plan", "-v", "--env", "x", "--plain"], True, True),
    (["--plain", "restore", "SET", "--env", "x", "-v"], True, True),  # before and after: both kept
    (["plan", "--env", "x"], False, False),
])
def test_global_options_are_accepted_before_and_after_the_subcommand(argv, plain, verbose) -> None:
    args = build_parser().parse_args(argv)
    assert (args.plain, args.verbose) == (plain, verbose)


def _actions(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                for inner in sub._actions:
                    yield name, inner
        else:
            yield "cnxbackup", action


def test_every_argument_has_help_text() -> None:
    missing = [f"{where}: {action.dest}" for where, action in _actions(build_parser())
               if not action.help and not isinstance(action, argparse._SubParsersAction)]
    assert missing == []
