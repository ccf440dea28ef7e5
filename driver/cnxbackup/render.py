"""Jinja2 rendering of everything the driver generates (wsadmin jobs, DB scripts, reports)."""
from __future__ import annotations

import json
import re
import shlex
from typing import Any

import jinja2

from .paths import templates_dir


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


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pyrepr"] = jython_repr
    env.filters["shquote"] = lambda v: shlex.quote(str(v))
    env.filters["dquote"] = dquote
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=True)
    return env


_ENV = None


def render_template(name: str, **context: Any) -> str:
    global _ENV
    if _ENV is None:
        _ENV = _environment()
    return _ENV.get_template(name).render(**context)
