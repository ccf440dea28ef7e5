"""The one escaping of values that come from outside (the live system, the environment, a set) on
their way to a terminal, the log, RESTORE.md, REPORT.md or a shell line.

A value shown is made ``printable``: control and format characters (ESC, BEL, CR, a newline, a
bidi override, a byte that is not UTF-8) appear as ``\\xNN`` / ``\\uNNNN``, so no value moves the
cursor, rings, rewrites a line, or starts a Markdown heading or fence of its own (those need a
line of their own). A value put into a shell line is ``shell_word``-quoted; a block of shell
lines in Markdown is ``fenced`` by a fence longer than any run of backticks inside it, so nothing
in it can close the block. ``render`` applies ``printable`` to every value of a Markdown template,
``progress`` and ``log`` to every line they print or write.
"""
from __future__ import annotations

import re
import shlex
import unicodedata
from typing import Iterable

_HIDDEN = ("Cc", "Cf", "Cs", "Zl", "Zp")  # control, format (bidi), surrogate (a byte not UTF-8), line/paragraph separator


def _hidden(char: str, keep_newlines: bool) -> bool:
    return unicodedata.category(char) in _HIDDEN and not (keep_newlines and char in "\n\t")


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for a byte that is not UTF-8
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: object, keep_newlines: bool = False) -> str:
    """``value`` as text with every control or format character shown as ``\\xNN`` (``\\uNNNN``);
    ``keep_newlines`` (and tabs) for a whole message of several lines the tool itself put together."""
    text = str(value)
    if not any(_hidden(char, keep_newlines) for char in text):
        return text
    return "".join(_escape(char) if _hidden(char, keep_newlines) else char for char in text)


def shell_word(value: object) -> str:
    """One shell word that is ``value`` (``shlex.quote``); a value with control characters becomes
    ``"$(printf '...')"`` with those bytes in octal, so that the line stays one printable line."""
    text = str(value)
    if not any(_hidden(char, False) for char in text):
        return shlex.quote(text)
    octal = "".join(f"\\{byte:03o}" for byte in text.encode("utf-8", "surrogateescape"))
    return f"\"$(printf '{octal}')\""


def quoted(value: object) -> str:
    """A name shown in prose (an interim fix, a file): printable and in quotes, so where it ends is plain."""
    return "'" + printable(value) + "'"


def fenced(lines: Iterable[str], info: str = "sh") -> str:
    """A Markdown code block of ``lines`` (each made printable but for its own newlines) whose fence
    is longer than any run of backticks inside, so no line of it can close the block."""
    body = "\n".join(printable(line, keep_newlines=True) for line in lines)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body}\n{fence}" if body else f"{fence}{info}\n{fence}"
