"""Issue 28, item 5: the README's command summary holds every command and option the program takes
(and none it does not), so the page read at 3 a.m. is the program's own."""
from __future__ import annotations

import argparse
import os
import re
from typing import Dict, List, Set

from cnxbackup.cli import REMOTE_TOOL, build_parser

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GLOBAL = {"-h", "--help", "-v", "--verbose", "--plain", "--json"}  # said once, under the summary


def readme() -> str:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        return handle.read()


def summary_lines() -> Dict[str, str]:
    """Each command's text in the summary block (an indented ``cnxbackup NAME ...`` line and the
    indented lines that continue it)."""
    text = readme()
    section = text[text.index("\n## The two commands"):]
    section = section[:section.index("\n## ", 1)]
    found: Dict[str, str] = {}
    current = None
    for line in section.split("\n"):
        head = re.match(r"^    cnxbackup ([a-z-]+)\b(.*)$", line)
        if head:
            current = head.group(1)
            found[current] = found.get(current, "") + head.group(2)
        elif current and line.startswith("          "):
            found[current] += " " + line.strip()
        else:
            current = None
    return found


def options_of(parser: argparse.ArgumentParser) -> Dict[str, Set[str]]:
    commands: Dict[str, Set[str]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                commands[name] = {option for a in sub._actions for option in a.option_strings
                                  if option.startswith("--")} - GLOBAL
    return commands


def test_every_command_and_option_is_in_the_readme_summary_and_nothing_else() -> None:
    summary = summary_lines()
    commands = options_of(build_parser())
    assert REMOTE_TOOL not in summary
    assert set(summary) == set(commands), "commands missing from or extra in the README's summary"
    for name, options in commands.items():
        written = set(re.findall(r"--[a-z][a-z-]*", summary[name]))
        missing: List[str] = sorted(options - written)
        extra: List[str] = sorted(written - options)
        assert not missing, f"README summary of `{name}` lacks {missing}"
        assert not extra, f"README summary of `{name}` names options it does not take: {extra}"
