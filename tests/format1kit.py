"""The format-1 fixture set (``tests/fixtures/format1``, written before the manifest model): a
fixture that lays it out as its manifest says, for the unit tests of the model and the e2e test
that verifies and restores it."""
from __future__ import annotations

import os
import shutil

import pytest

import e2e

FIXTURE = os.path.join(e2e.ROOT, "tests", "fixtures", "format1")

FIXTURE_ROOT = "/tmp/cnxbackup-format1-fixture"  # where the fixture's DB images were recorded


@pytest.fixture
def format1_set(tmp_path):
    """The fixture set copied into a temp folder, its DB images where its manifest says."""
    if os.path.exists(FIXTURE_ROOT):
        shutil.rmtree(FIXTURE_ROOT)
    os.makedirs(os.path.join(FIXTURE_ROOT, "demo"))
    shutil.copytree(os.path.join(FIXTURE, "db2-backups"), os.path.join(FIXTURE_ROOT, "demo", "db2-backups"))
    set_dir = str(tmp_path / "demo-20261201T194147")
    shutil.copytree(os.path.join(FIXTURE, "set"), set_dir)
    yield set_dir
    shutil.rmtree(FIXTURE_ROOT, ignore_errors=True)
