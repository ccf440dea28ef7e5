"""Jinja2 rendering of everything the driver generates (wsadmin jobs, DB scripts, reports).

A Markdown template (``*.md.j2``: REPORT.md, RESTORE.md) shows values from the live system and
the set: every ``{{ value }}`` in it passes through ``shown.printable`` (no value starts a heading
or a fence of its own), and its shell blocks are written by the ``sh_block`` filter
(``shown.fenced``: a fence no line inside can close); the template's own text is left as written.
"""
from __future__ import annotations

import json
import re
import shlex
from typing import Any, Dict

import jinja2

from .paths import templates_dir
from .shown import fenced, printable, shell_word


def jython_repr(value: Any) -> str:
    """A Python-2 literal that Jython 2.1 and 2.7 both parse (non-ASCII as u'\\uXXXX')."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        if all(32 <= ord(c) < 127 for c in value):
            return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        body = "".join(c if 32 <= ord(c) < 127 and c not in "\\'" else f"\\u{ord(c):04x}" for c in value)
        return "u'" + body + "'"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(jython_repr(v) for v in value) + "]"
    raise TypeError(f"cannot render {type(value).__name__} for Jython")


def dquote(text: str) -> str:
    """Quote for a POSIX shell in double quotes (keeps N'...' SQL literals readable)."""
    return '"' + re.sub(r'([\\"$`])', r"\\\1", text) + '"'


class Shown(str):
    """Text a Markdown template's filter already made safe to show (``finalize`` leaves it as is)."""


def _shown(value: Any) -> Any:
    return value if isinstance(value, Shown) else printable(value)


def _environment(markdown: bool = False) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_shown if markdown else None,
    )
    env.filters["pyrepr"] = jython_repr
    env.filters["shquote"] = (lambda v: Shown(shell_word(v))) if markdown else (lambda v: shlex.quote(str(v)))
    env.filters["dquote"] = dquote
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=True)
    env.filters["sh_block"] = lambda lines: Shown(fenced(lines))
    return env


_ENVS: Dict[bool, jinja2.Environment] = {}


def render_template(name: str, **context: Any) -> str:
    """Render ``templates/NAME``; a ``*.md.j2`` template through the Markdown environment (values shown printable)."""
    markdown = name.endswith(".md.j2")
    if markdown not in _ENVS:
        _ENVS[markdown] = _environment(markdown)
    return _ENVS[markdown].get_template(name).render(**context)
