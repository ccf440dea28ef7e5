"""What the Component Pack tests share: the demo environment with a ``component_pack`` section on
the fake kubectl and helm (cnxbackup.demo.fakekube), and one backed-up set per session that the
restore tests copy."""
from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

import e2e
from cnxbackup.demo import fakekube
from restorekit import reset_copy, shared_set

CP = """\
component_pack:
  pv_root: "{demo_root}/tree/pv-connections"
  quiesce: [kudos-boards-cp-core]
  command:
    kubectl: "{demo_kit}/fakes/kubectl"
    helm: "{demo_kit}/fakes/helm"
"""


def setup(tmp: str, **faults) -> tuple:
    env_file = e2e.write_env(tmp, extra=CP)
    folder = os.path.join(tmp, "demo", "fakekube")
    kube = fakekube.prepare(folder, os.path.join(tmp, "demo", "tree", "pv-connections"))
    json.dump(kube, open(os.path.join(folder, "env.json"), "w"))
    for name, value in faults.items():
        fakekube.set_fault(kube, name, value)
    return env_file, kube


def events(kube: dict, name: str) -> list:
    return [e for e in fakekube.read_log(kube) if e.get("event") == name]


def backed_up(tmp: str):
    env_file, kube = setup(tmp)
    proc = e2e.cli("--plain", "backup", "--env", env_file)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [set_dir] = e2e.sets(os.path.join(tmp, "backups"))
    return env_file, kube, set_dir


def tree(root: str) -> dict:
    return {os.path.relpath(os.path.join(f, n), root): open(os.path.join(f, n), "rb").read()
            for f, _, names in os.walk(root) for n in names}


@pytest.fixture(scope="session")
def cp_shared(tmp_path_factory):
    """One Component Pack backup per test session (per xdist worker)."""
    return shared_set(tmp_path_factory, "cp-restore", backed_up)


@pytest.fixture
def cp_set(cp_shared) -> tuple:
    """(folder, environment file, fake cluster, set folder): a fresh copy of the session's backup."""
    base, pristine = cp_shared
    reset_copy(base, pristine)
    with open(os.path.join(base, "demo", "fakekube", "env.json"), encoding="utf-8") as handle:
        kube = json.load(handle)
    [set_dir] = e2e.sets(os.path.join(base, "backups"))
    return base, os.path.join(base, "demo.yaml"), kube, set_dir


def backup_until_the_dump(env_file: str, kube: dict) -> subprocess.Popen:
    """A backup started as a process, returned once its MongoDB dump has begun (the member locked)."""
    child = e2e.popen("--plain", "backup", "--env", env_file)
    deadline = time.monotonic() + 120
    while not events(kube, "mongodump") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert events(kube, "mongodump"), "the dump never started"
    return child
