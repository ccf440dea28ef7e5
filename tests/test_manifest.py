"""The manifest (sealed, checked on load, its format refused when newer) and the run journal."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from cnxbackup.errors import EXIT_USAGE
from cnxbackup.journal import DONE, FAILED, PENDING, RUNNING, SKIPPED, Journal
from cnxbackup.manifest import FORMAT, MANIFEST, ManifestError, ManifestFormatError, load_manifest, write_manifest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _write_raw(set_dir: str, body: dict) -> None:
    """A manifest with a correct self-checksum, exactly as given (format included)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    body = dict(body, manifestSha256=hashlib.sha256(canonical).hexdigest())
    with open(os.path.join(set_dir, MANIFEST), "w", encoding="utf-8") as handle:
        json.dump(body, handle)


def test_round_trip_seals_and_checks(tmp_path) -> None:
    sealed = write_manifest(str(tmp_path), {"environment": "prod", "status": "complete", "archives": []})
    assert sealed["format"] == FORMAT and len(sealed["manifestSha256"]) == 64
    assert load_manifest(str(tmp_path)) == sealed
    sidecar = (tmp_path / (MANIFEST + ".sha256")).read_text()
    assert sidecar.split()[0] == hashlib.sha256((tmp_path / MANIFEST).read_bytes()).hexdigest()


def test_an_edited_manifest_is_refused(tmp_path) -> None:
    write_manifest(str(tmp_path), {"environment": "prod", "status": "complete"})
    data = json.loads((tmp_path / MANIFEST).read_text())
    data["status"] = "partial"
    (tmp_path / MANIFEST).write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="checksum does not match"):
        load_manifest(str(tmp_path))


@pytest.mark.parametrize("written", [FORMAT + 1, 99, 0, "1", True, None])
def test_a_format_this_reader_does_not_know_is_refused_as_usage(tmp_path, written) -> None:
    _write_raw(str(tmp_path), {"format": written, "environment": "prod", "status": "complete"})
    with pytest.raises(ManifestFormatError, match="manifest format .* is not one this cnxbackup reads") as info:
        load_manifest(str(tmp_path))
    assert info.value.exit_code == EXIT_USAGE


def test_verify_of_a_newer_format_exits_2_with_one_line(tmp_path) -> None:
    _write_raw(str(tmp_path), {"format": FORMAT + 1, "environment": "prod", "status": "complete"})
    proc = subprocess.run([sys.executable, "-m", "cnxbackup", "verify", str(tmp_path)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "driver")}, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count("\n") == 1 and "manifest format 2" in proc.stderr


def test_journal_records_steps_in_order_and_reloads(tmp_path) -> None:
    journal = Journal.create(str(tmp_path), environment="prod")
    journal.set("db:FILES", RUNNING)
    journal.set("db:FILES", FAILED, error="SQL1035N")
    journal.set("item:a", DONE, result={"sha256": "x"})
    journal.set("db:FILES", RUNNING)  # a retry clears the old error
    loaded = Journal.load(str(tmp_path))
    assert loaded.data["order"] == ["db:FILES", "item:a"]
    assert loaded.status("db:FILES") == RUNNING and "error" not in loaded.step("db:FILES")
    assert loaded.result("item:a") == {"sha256": "x"} and loaded.is_finished("item:a")
    assert loaded.status("never") == PENDING and not loaded.is_finished("never")
    loaded.set("item:b", SKIPPED)
    assert Journal.load(str(tmp_path)).is_finished("item:b")
    assert oct(os.stat(loaded.path).st_mode & 0o777) == "0o600"
