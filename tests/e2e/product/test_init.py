"""``cnxbackup init`` on the demo tree: a file that names the demo's cell and DB vendor and whose
``plan`` passes; and never over an existing file."""
from __future__ import annotations

import os
import shlex

import e2e
from cnxbackup.demo import fakedb, mockcell
from cnxbackup.demo.treegen import build_demo_deployment
from cnxbackup.paths import demo_dir


def test_init_on_the_demo_tree_writes_a_file_whose_plan_passes(tmp_path) -> None:
    tree = str(tmp_path / "tree")
    info = build_demo_deployment(tree, scale=0.01, cell="CNXCell")
    was_root = os.path.join(tree, "opt/IBM/WebSphere/AppServer")
    out = str(tmp_path / "env" / "trial.yaml")
    args = ["init", "--env", "trial", "--output", out, "--was-root", was_root,
            "--im-data", os.path.join(tree, "var/ibm/InstallationManager"), "--target", str(tmp_path / "backups")]
    proc = e2e.cli(*args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = open(out, encoding="utf-8").read()
    assert "cell CNXCell" in text and "vendor: db2\n" in text and "db2.example.com:50000" in text
    assert "# QUESTION:" not in text and ": QUESTION" not in text, text
    assert oct(os.stat(out).st_mode & 0o777) == "0o600"
    # what a real host has on its PATH and in its environment: the DB2 tools, the WAS password
    fakes = os.path.join(demo_dir(), "fakes")
    with open(out, "a", encoding="utf-8") as handle:  # keys that only a demo needs: the signing keys' folder
        handle.write(f'signing:\n  key: "{tmp_path}/keys/signing-key.pem"\n  trusted_keys: "{tmp_path}/keys/trusted-keys"\n')
    # and a DB2 instance that answers (the gate asks it for its authority groups before anything stops)
    instance = fakedb.prepare(str(tmp_path / "db2"), "db2", ["OPNACT"])
    # and a Dmgr that answers the gate's login: the tree's wsadmin.sh (a bare stand-in) becomes the mocked one
    cell = mockcell.prepare(tmp_path / "mock", "was905")
    with open(os.path.join(was_root, "bin", "wsadmin.sh"), "w", encoding="utf-8") as handle:
        handle.write(f'#!/bin/sh\nexec {shlex.quote(mockcell.WSADMIN_SH)} "$@"\n')
    env = {"PATH": f"{fakes}{os.pathsep}{os.environ['PATH']}", "CNX_WAS_PASSWORD": "Adm1n-Secret", **cell,
           **{key: instance[key] for key in ("FAKEDB_STATE", "FAKEDB_LOG", "DB2INSTANCE")}}
    plan = e2e.cli("--plain", "plan", "--env", out, env=env)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "Connections 8.0.0.0_CR14" in plan.stdout and info["cell"] == "CNXCell"
    again = e2e.cli(*args)
    assert again.returncode == 2 and "never overwrites" in again.stderr
