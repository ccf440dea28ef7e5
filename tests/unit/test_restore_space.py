"""Room for the staged copies, on this machine and on the other hosts (``df -Pk`` there)."""
from __future__ import annotations

import os

import pytest

from cnxbackup.actions.restore import checks as restore_checks
from cnxbackup.actions.restore.checks import space_problems
from cnxbackup.actions.restore.plan import RestoreStep
from cnxbackup.hosts import Host
from cnxbackup.manifest import ArchiveRecord
from cnxbackup.transport.local import LocalTransport

GIB = 1 << 30


def stage(name: str, host: str, destination: str, tar_bytes: int) -> RestoreStep:
    record = ArchiveRecord(name=name, kind="archive", source=destination, path=f"archives/{name}.tar.zst",
                           status="done", host=host, tar_bytes=tar_bytes)
    commands = [f"ssh {host} tar -x"] if host != "local" else ["tar -x"]
    return RestoreStep(f"stage-{name}", name, "stage", commands=commands, archive=record, destination=destination)


@pytest.fixture
def node1(monkeypatch, tmp_path):
    monkeypatch.setattr(restore_checks, "hosts_of", lambda env: {"node1": Host("node1", "192.0.2.1")})
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def fake_df(output: str, rc: int = 0) -> None:
        script = bin_dir / "df"
        script.write_text(f"#!/bin/sh\ncat <<'OUT'\n{output}\nOUT\nexit {rc}\n")
        script.chmod(0o755)
    return fake_df


DF_HEADER = "Filesystem     1024-blocks      Used Available Capacity Mounted on"


def test_a_remote_filesystem_without_room_for_both_copies_is_a_problem(node1, tmp_path) -> None:
    node1(DF_HEADER + "\n/dev/sdb1          10485760   9437184   1048576      90% /opt")  # 1 GiB free
    steps = [stage("node1-profile", "node1", str(tmp_path / "does/not/exist/yet"), 600 << 20),
             stage("node1-im", "node1", str(tmp_path / "other"), 600 << 20)]
    problems, notes = space_problems(steps, 0.10, env=object(), transport=LocalTransport())  # type: ignore[arg-type]
    assert len(problems) == 1 and problems[0].startswith("the filesystem of node1:/opt has 1.0 GB free"), problems
    assert notes == []


def test_a_remote_filesystem_with_room_passes(node1, tmp_path) -> None:
    node1(DF_HEADER + "\n/dev/sdb1          10485760   1048576   9437184      10% /opt")
    problems, notes = space_problems([stage("node1-profile", "node1", str(tmp_path), GIB)], 0.10, env=object(),
                                     transport=LocalTransport())  # type: ignore[arg-type]
    assert problems == [] and notes == []


def test_a_df_that_cannot_be_read_is_a_note_not_a_pass_in_silence(node1, tmp_path) -> None:
    node1("df: cannot read table of mounted file systems", rc=1)
    problems, notes = space_problems([stage("node1-profile", "node1", str(tmp_path), GIB)], 0.10, env=object(),
                                     transport=LocalTransport())  # type: ignore[arg-type]
    assert problems == [] and len(notes) == 1 and "room for staging node1-profile on node1 not checked" in notes[0]


def test_local_destinations_are_measured_here(tmp_path) -> None:
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    problems, _ = space_problems([stage("profile", "local", str(tmp_path / "new"), free * 2)], 0.0)
    assert len(problems) == 1 and str(tmp_path) in problems[0]
    assert space_problems([stage("profile", "local", str(tmp_path / "new"), 1)], 0.0)[0] == []
