"""Nothing from outside reaches a shell or a terminal unescaped (issue 26): the one escaping
(``cnxbackup.shown``), RESTORE.md rendered with a hostile interim-fix name, the names
``versions`` takes from the live system, and the console."""

from __future__ import annotations

import io
import logging
import logging.handlers
import subprocess
import types

import pytest

from cnxbackup.log import get_logger
from cnxbackup.progress import Progress
from cnxbackup.render import render_template
from cnxbackup.shown import fenced, printable, quoted, shell_word
from cnxbackup.versions import ConnectionsVersion, detect_interim_fixes

EVIL = "LO1\n## 9. Injected step\n```sh\nrm -rf / `id` $(id)\n```\x1b]0;t\x07\r\u202e"


def test_printable_shows_control_and_format_characters_as_escapes() -> None:
    assert printable("plain text é") == "plain text é"
    assert printable("a\x1b[2Jb\x07c\rd\ne") == "a\\x1b[2Jb\\x07c\\x0dd\\x0ae"
    assert printable("two\nlines\tok\x1b", keep_newlines=True) == "two\nlines\tok\\x1b"
    assert printable("\u202eevil\u2028") == "\\u202eevil\\u2028"
    assert printable(b"bad\xff".decode("utf-8", "surrogateescape")) == "bad\\xff"
    assert quoted("IF\x1b") == "'IF\\x1b'"


@pytest.mark.parametrize("value", ["plain", "it's", "$(id) `id` ;|&", EVIL.rstrip("\n") + "x", "é ü"])
def test_a_shell_word_is_the_value_and_one_printable_line(value: str) -> None:
    word = shell_word(value)
    assert "\n" not in word and printable(word) == word
    out = subprocess.run(["sh", "-c", f"printf %s {word}"], capture_output=True, check=True).stdout
    assert out.decode("utf-8") == value


def test_a_fenced_block_cannot_be_closed_from_inside() -> None:
    block = fenced(["echo one", "echo '\n```\n# heading'"])
    fence = block.split("\n", 1)[0][:-2]
    assert fence == "````" and block.endswith("\n" + fence)
    assert [line for line in block.split("\n") if line.startswith(fence)] == [fence + "sh", fence]
    assert fenced(["echo a"]) == "```sh\necho a\n```" and fenced([]) == "```sh\n```"


def _runbook(fix: str) -> str:
    exact = ConnectionsVersion(raw="8.0.0.0_CR14", interim_fixes=[fix, "LO2"]).exact
    m = {"environment": "demo", "runId": "r1", "was": {"version": "9.0.5.14"},
         "connections": {"version": "8.0 CR14", "release": "8.0", "exact": exact}}
    steps = [types.SimpleNamespace(title=f"Check the release (backup taken on {exact})", skip_reason=None,
                                   note=f"provision/ was backed up on {exact}",
                                   commands=[f"grep -F -- {shell_word(fix)} /var/ibm/InstallationManager/installed.xml"])]
    return render_template("report/RESTORE.md.j2", m=m, set_dir="/backups/demo-20260101T000000", steps=steps,
                           env_name="demo", cp_steps=[])


def test_restore_md_with_a_hostile_interim_fix_name_has_no_injected_heading_fence_or_escape() -> None:
    text = _runbook(EVIL)
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text and "\u202e" not in text
    benign = _runbook("LO99999")  # the same runbook with a harmless name: the template's own structure
    headings = [line for line in text.split("\n") if line.startswith("#")]
    assert len(headings) == len([line for line in benign.split("\n") if line.startswith("#")])
    assert headings[0].startswith("# Restore runbook")
    [step] = [h for h in headings if h.startswith("## 1. Check the release")]
    assert "\\x0a## 9. Injected step" in step and not any(h.startswith("## 9. Injected") for h in headings)
    fences = [line for line in text.split("\n") if line.lstrip().startswith(("```", "~~~"))]
    assert fences == [line for line in benign.split("\n") if line.lstrip().startswith(("```", "~~~"))]
    block = text.split("## 1. Check the release", 1)[1].split("```sh\n", 1)[1].split("\n```", 1)[0]
    assert block.count("\n") == 0  # one shell line, the value quoted inside it
    shown = subprocess.run(["sh", "-c", block.replace("grep -F --", "printf %s").split(" /var/")[0]],
                           capture_output=True, check=True).stdout.decode()
    assert shown == EVIL
    assert _runbook("LO1").count("```") == 2  # an ordinary name renders as before


def test_interim_fix_names_from_the_live_system_are_checked_and_others_left_out(tmp_path) -> None:
    version = tmp_path / "version"
    version.mkdir()
    (version / "LO12345.efix").write_text("")
    (version / "CFix.80.2301.efix").write_text("")
    (version / (EVIL.replace("/", "_") + ".efix")).write_text("")
    heard = logging.handlers.BufferingHandler(100)
    get_logger().addHandler(heard)
    try:
        found = detect_interim_fixes(str(tmp_path), installed_xml=str(tmp_path / "none.xml"))
    finally:
        get_logger().removeHandler(heard)
    assert found == ["CFix.80.2301", "LO12345"]
    said = [record.getMessage() for record in heard.buffer]
    assert len(said) == 1 and "is not an interim fix's name" in said[0] and "\\x1b" in said[0] and "\x1b" not in said[0]


def test_the_console_shows_an_escape_from_outside_as_text() -> None:
    out = io.StringIO()
    Progress(out, plain=True).message("set folder demo\x1b[2J\x07 and\nits second line")
    assert out.getvalue() == "set folder demo\\x1b[2J\\x07 and\nits second line\n"
