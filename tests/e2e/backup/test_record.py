"""A complete record: the set's log names every archive and database with its figures and ends
with the final status; the restore log names every step, what was moved aside, and its status."""
from __future__ import annotations

import os
import re

import e2e


def test_the_backup_log_holds_every_archive_every_database_and_the_final_status(ctx) -> None:
    text = open(os.path.join(ctx.set_dir, "cnxbackup.log"), encoding="utf-8").read()
    manifest = e2e.manifest(ctx.set_dir)
    for item in manifest["archives"]:
        line = next((ln for ln in text.splitlines() if f"item {item['name']} (host " in ln), None)
        assert line is not None, item["name"]
        assert f"{item['size']} bytes" in line and item["sha256"] in line and item["source"] in line
        if item["kind"] == "archive":
            assert f"{item['files']} entries" in line and "tar " in line and "zstd" in line
    for db in manifest["databases"]:
        assert re.search(rf"database {db['name']}: ok in [\d.]+ s, timestamp {db['timestamp']}, images .*command: ", text)
    # every line a vendor tool wrote names its database, even with four running at once
    tool_lines = [ln for ln in text.splitlines() if " rc=" in ln or "running: " in ln and "/fakes/" in ln]
    assert tool_lines and all(re.search(r"INFO    database [A-Z0-9]+: ", ln) for ln in tool_lines), tool_lines[:3]
    assert "gate passed" in text
    last = [ln for ln in text.splitlines() if ln.strip()][-1]
    assert re.search(r"backup complete, exit 0, in .*: \d+/\d+ items .* \d+/\d+ databases; set " + re.escape(ctx.set_dir), last), last
    assert "LEFT STOPPED" in text and "start_servers.py" in text


def test_the_restore_log_holds_every_step_what_was_moved_aside_and_the_final_status(ctx) -> None:
    proc = ctx.restore()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [log] = [os.path.join(d, "restore.log") for d in ctx.restore_dirs()]
    text = open(log, encoding="utf-8").read()
    assert re.search(r"version: backup 8\.0 CR14.*, deployment 8\.0 CR14.* \(allowed\)", text)
    for item in e2e.manifest(ctx.set_dir)["archives"]:
        moved = r"moved aside: .*\.cnxrestore-\d{8}T\d{6}-[0-9a-f]{6}/replaced"
        assert re.search(rf"{re.escape(item['name'])} restored to .*; {moved}", text), item["name"]
    for db in e2e.manifest(ctx.set_dir)["databases"]:
        assert f"database {db['name']}: restore ok" in text
    last = [ln for ln in text.splitlines() if ln.strip()][-1]
    assert re.search(r"restore of .* complete, exit 0: \d+ steps, \d+ moved aside", last), last
