"""What tar leaves out of an item's archive, said once: the options the archiver gives GNU tar,
the test the size estimate walks the tree with, and the ``find`` prunes of a remote host's probe.

Two kinds of pattern, with GNU tar's defaults for ``--exclude``: wildcards on, ``*`` and ``?``
match ``/`` too, and a pattern that matches a folder leaves out everything under it. Members are
named as tar names them under ``-C SOURCE .`` (``./a/b``). An anchored pattern (nested items'
sources, a restore's leftovers: ``paths.leftover_patterns``) matches the whole name; an
unanchored one (the user's ``archive.excludes``) matches the whole name or any tail of it after a
``/`` (``*.log`` leaves out ``./logs/a.log``).
"""
from __future__ import annotations

import fnmatch
import re
import shlex
from dataclasses import dataclass, field
from typing import List, Pattern, Sequence, Tuple


def _compiled(patterns: Sequence[str], unanchored: bool) -> Tuple[Pattern[str], ...]:
    prefix = "(?s:.*/)?" if unanchored else ""  # any tail after a '/', or the whole name
    return tuple(re.compile(prefix + fnmatch.translate(pattern)) for pattern in patterns)


@dataclass(frozen=True)
class TarExcludes:
    """The patterns tar is given for one archive: ``user`` unanchored, ``anchored`` anchored."""

    user: Tuple[str, ...] = ()
    anchored: Tuple[str, ...] = ()
    _tests: Tuple[Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tests", _compiled(self.anchored, False) + _compiled(self.user, True))

    def tar_args(self) -> List[str]:
        """GNU tar's options: the user's patterns match anywhere; the anchored ones from the root."""
        args = ["--no-anchored"] + [f"--exclude={p}" for p in self.user]
        if self.anchored:
            args += ["--anchored"] + [f"--exclude={p}" for p in self.anchored] + ["--no-anchored"]
        return args

    def leaves_out(self, member: str) -> bool:
        """Whether tar leaves out the member ``./a/b`` (a walk that skips a left-out folder's
        contents then counts exactly what tar archives)."""
        return any(test.match(member) for test in self._tests)

    def find_prunes(self) -> str:
        """``find .`` expressions (before the action) that skip what tar leaves out: ``-path``
        matches the whole name with ``*`` matching ``/``, as tar's anchored patterns do."""
        paths = list(self.anchored) + [form for p in self.user for form in (p, "*/" + p)]
        return " ".join(f"-path {shlex.quote(p)} -prune -o" for p in paths)
