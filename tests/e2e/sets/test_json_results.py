"""``--json`` on every command: one document on stdout, valid under docs/result.schema.json, on
success and on failure; the messages go to stderr."""

from __future__ import annotations

import json
import os
import shlex
import shutil

import pytest

import e2e
from cnxbackup.demo.treegen import build_demo_deployment
from jsonresult import SCHEMA, VALIDATOR, run_json


@pytest.fixture(scope="module")
def demo_set(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("jsondemo"))
    env_file = e2e.write_env(tmp)
    document = run_json("backup", "--env", env_file, expect=0)
    return {"tmp": tmp, "env": env_file, "set": document["set"], "backup": document}


def test_backup_reports_every_item_and_database_of_the_set(demo_set):
    document, manifest = demo_set["backup"], e2e.manifest(demo_set["set"])
    assert [i["name"] for i in document["items"]] == [a["name"] for a in manifest["archives"]]
    assert [d["name"] for d in document["databases"]] == [d["name"] for d in manifest["databases"]]
    assert document["downtimeSeconds"] == manifest["downtimeSeconds"]
    assert document["details"]["setStatus"] == manifest["status"]
    assert "backup set:" in document["_stderr"]  # the messages went to stderr


def test_plan(demo_set):
    document = run_json("plan", "--env", demo_set["env"], expect=0)
    assert document["set"] is None and document["bytes"] > 0 and document["details"]["gate"] == "passed"
    assert all(i["status"] == "planned" for i in document["items"]) and len(document["databases"]) == 16


def test_verify_passes_then_fails_on_a_damaged_copy_and_records_the_result_beside_the_set(demo_set, tmp_path):
    keys = e2e.trusted_keys_of(demo_set["set"])
    document = run_json("verify", demo_set["set"], "--trusted-keys", keys, expect=0)
    assert document["details"]["checks"] and all(c["ok"] for c in document["details"]["checks"])
    recorded = json.load(open(os.path.join(demo_set["set"], "verify-result.json"), encoding="utf-8"))
    assert recorded["ok"] is True and recorded["bad"] == 0
    # REPORT.md's command names the environment: its trusted keys (and its database tools' verifiers)
    report = open(os.path.join(demo_set["set"], "REPORT.md"), encoding="utf-8").read()
    assert f"verify {shlex.quote(demo_set['set'])} --env {shlex.quote(os.path.abspath(demo_set['env']))}`" in report
    damaged = str(tmp_path / os.path.basename(demo_set["set"]))
    shutil.copytree(demo_set["set"], damaged)
    first = e2e.manifest(damaged)["archives"][0]["path"]
    with open(os.path.join(damaged, first), "r+b") as handle:
        handle.seek(100)
        handle.write(b"\0damage\0")
    document = run_json("verify", damaged, "--trusted-keys", keys, expect=1)
    assert document["status"] == "failed" and any(not c["ok"] for c in document["details"]["checks"])
    assert any("SHA-256" in e for e in document["errors"])
    assert json.load(open(os.path.join(damaged, "verify-result.json"), encoding="utf-8"))["ok"] is False


def test_restore_dry_run_and_a_refused_restore(demo_set, tmp_path):
    document = run_json("restore", demo_set["set"], "--env", demo_set["env"], "--dry-run", expect=0)
    assert document["details"]["dryRun"] is True and document["details"]["steps"]
    assert {i["name"] for i in document["items"]} <= {a["name"] for a in e2e.manifest(demo_set["set"])["archives"]}
    assert document["items"] and document["databases"]
    refused = run_json("restore", str(tmp_path / "no-such-set"), "--env", demo_set["env"], expect=1)
    assert refused["errors"] and "no-such-set" in refused["errors"][0]


def test_list_and_prune_dry_run(demo_set):
    listing = run_json("list", "--env", demo_set["env"], expect=0)
    [entry] = listing["details"]["sets"]
    assert entry["path"] == demo_set["set"] and entry["status"] in ("complete", "complete-with-warnings")
    assert entry["signed"] is True and entry["connectionsVersion"] == "8.0.0.0_CR14"
    pruned = run_json("prune", "--env", demo_set["env"], "--keep", "1", "--dry-run", expect=0)
    [decision] = pruned["details"]["sets"]
    assert decision["keep"] is True and decision["reason"] == "the newest complete set"
    assert os.path.isdir(demo_set["set"])


def test_cleanup_init_and_the_usage_errors(demo_set, tmp_path):
    cleanup = run_json("cleanup", "--env", demo_set["env"], "--yes", expect=0)
    assert cleanup["details"]["leftovers"] == []
    tree = str(tmp_path / "tree")
    build_demo_deployment(tree, scale=0.01, cell="CNXCell")
    args = ["init", "--env", "trial", "--output", str(tmp_path / "trial.yaml"),
            "--was-root", os.path.join(tree, "opt/IBM/WebSphere/AppServer"),
            "--im-data", os.path.join(tree, "var/ibm/InstallationManager"), "--target", str(tmp_path / "backups")]
    document = run_json(*args, expect=0)
    assert document["details"]["file"] == str(tmp_path / "trial.yaml") and document["details"]["found"]["cell"] == "CNXCell"
    again = run_json(*args, expect=2)
    assert again["status"] == "usage-error" and "never overwrites" in again["errors"][0]
    missing = run_json("plan", "--env", str(tmp_path / "absent.yaml"), expect=2)
    assert "absent.yaml" in missing["errors"][0]
    usage = run_json("prune", "--env", demo_set["env"], expect=2)  # --keep is required
    assert usage["status"] == "usage-error" and usage["command"] == "prune"
    unknown = run_json("bogus", expect=2)
    assert unknown["command"] == "" and unknown["errors"]


def test_stop_and_start(demo_set):
    for command in ("stop", "start"):
        document = run_json(command, "--env", demo_set["env"], expect=0)
        assert document["details"]["processes"] and document["errors"] == []


def test_the_schema_itself_is_valid_and_rejects_a_status_that_contradicts_the_exit_code(demo_set):
    VALIDATOR.check_schema(SCHEMA)
    wrong = {k: v for k, v in demo_set["backup"].items() if k != "_stderr"}
    VALIDATOR.validate(wrong)
    wrong["status"] = "failed"
    assert list(VALIDATOR.iter_errors(wrong))
    del wrong["status"]
    assert list(VALIDATOR.iter_errors(wrong))
