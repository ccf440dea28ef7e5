"""The gate before the outage, and the identity of a set.

``plan`` exits non-zero when the backup would fail; ``backup`` refuses before its set folder
exists and before anything stops. A set is resumed into, and restored onto, only its own
environment and cell unless ``--allow-other-environment`` says otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap

from cnxbackup.actions.backup.gate import _database_problems
from cnxbackup.config import load_environment
from cnxbackup.plan import build_plan


def _db2_env(tmp: str, backup_dir: str):
    path = os.path.join(tmp, "gate.yaml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(textwrap.dedent(f"""\
            connections:
              version: 8.0.0.0_CR14
            database:
              vendor: db2
              backup_dir: "{backup_dir}"
              databases: [OPNACT]
            target:
              dir: "{tmp}/backups"
            """))
    return load_environment(path)


def test_a_missing_db2_backup_dir_names_its_key_and_line(tmp_path) -> None:
    (tmp_path / "a-file").write_text("not a folder\n")
    env = _db2_env(str(tmp_path), str(tmp_path / "a-file" / "db2"))
    problems, _ = _database_problems(build_plan(env), None)
    assert problems == [f"{env.file}:5: key 'database.backup_dir': {tmp_path / 'a-file' / 'db2'} does not exist "
                        "and cannot be created here"]
    creatable = _db2_env(str(tmp_path), str(tmp_path / "new" / "db2"))
    problems, notes = _database_problems(build_plan(creatable), None)
    assert problems == [] and any("the backup creates it" in note for note in notes)


def test_the_db2_backup_dir_must_hold_the_last_run_s_images(tmp_path) -> None:
    backup_dir = tmp_path / "db2"
    backup_dir.mkdir()
    env = _db2_env(str(tmp_path), str(backup_dir))
    problems, notes = _database_problems(build_plan(env), None)
    assert problems == [] and any("no earlier set to size the images by" in n for n in notes)
    earlier = tmp_path / "backups" / "gate-20261101T010000"
    earlier.mkdir(parents=True)
    huge = shutil.disk_usage(backup_dir).free * 2
    (earlier / "manifest.json").write_text(json.dumps({"databases": [{"images": [{"size": huge}]}]}))
    problems, _ = _database_problems(build_plan(env), None)
    assert len(problems) == 1 and "the last run's images were" in problems[0] and "database.backup_dir" in problems[0]
