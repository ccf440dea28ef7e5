"""Monitoring around ``backup``: pings to a loopback listener in order, a dead monitor that does not
fail the backup, the Prometheus textfile, the hooks and their environment, and ``--json``."""

from __future__ import annotations

import os
import textwrap
import time
import urllib.parse

import pytest
from prometheus_client.parser import text_string_to_metric_families

import e2e
from cnxbackup.actions.backup import monitoring
from cnxbackup.config import load_environment
from cnxbackup.demo import fakedb
from cnxbackup.progress import Progress
from jsonresult import Listener, run_json

PASSWORD_FILE = "demo/mock/was-password"


def monitoring_yaml(tmp: str, ping_url: str, retries: int = 1, timeout: float = 5.0, before_exit: int = 0) -> str:
    hooks = os.path.join(tmp, "hooks.log")
    return textwrap.dedent(f"""\
        monitoring:
          ping_url: "{ping_url}"
          retries: {retries}
          timeout: {timeout}
          log_lines: 40
          textfile_dir: "{tmp}/textfile"
        hooks:
          before_backup:
            - echo before $CNXBACKUP_ENV $CNXBACKUP_COMMAND >> {hooks}; exit {before_exit}
          after_backup:
            - echo after $CNXBACKUP_STATUS $CNXBACKUP_EXIT_CODE $CNXBACKUP_SET >> {hooks}
          on_error:
            - echo error $CNXBACKUP_EXIT_CODE $CNXBACKUP_STATUS >> {hooks}
            - echo the was password is $(cat {tmp}/{PASSWORD_FILE})
        """)


def metrics(tmp: str, env_name: str = "demo") -> dict:
    """The textfile, parsed by the Prometheus client's own text-format parser."""
    with open(os.path.join(tmp, "textfile", f"cnxbackup_{env_name}.prom"), encoding="utf-8") as handle:
        text = handle.read()
    found = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge", family
        [sample] = family.samples
        assert sample.labels == {"environment": env_name}
        found[sample.name] = sample.value
    return found


def hook_lines(tmp: str) -> list:
    with open(os.path.join(tmp, "hooks.log"), encoding="utf-8") as handle:
        return handle.read().splitlines()


@pytest.fixture(scope="module")
def monitored(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("monitored"))
    os.makedirs(os.path.join(tmp, "textfile"))
    listener = Listener()
    env_file = e2e.write_env(tmp, extra=monitoring_yaml(tmp, listener.url))
    started = time.time()
    document = run_json("backup", "--env", env_file, expect=0)
    yield {"tmp": tmp, "env": env_file, "listener": listener, "first": document, "started": started}
    listener.close()


def test_a_good_backup_pings_start_then_success_runs_the_hooks_and_writes_the_textfile(monitored):
    tmp, listener, document = monitored["tmp"], monitored["listener"], monitored["first"]
    assert listener.kinds() == ["start", "success"]
    rids = {urllib.parse.parse_qs(urllib.parse.urlsplit(r["path"]).query)["rid"][0] for r in listener.requests}
    assert len(rids) == 1  # the monitor pairs start and end by the run id
    assert document["status"] == "ok" and os.path.isdir(document["set"])
    assert document["bytes"] > 0 and document["downtimeSeconds"] is not None
    assert document["items"] and all(i["status"] in ("done", "warning", "skipped") for i in document["items"])
    assert len(document["databases"]) == 16 and all(d["status"] in ("done", "warning") for d in document["databases"])
    assert hook_lines(tmp) == ["before demo backup", f"after ok 0 {document['set']}"]
    found = metrics(tmp)
    assert set(found) == set(monitoring.METRIC_NAMES)
    assert found["cnxbackup_last_status"] == 0 and found["cnxbackup_last_bytes"] == document["bytes"]
    assert monitored["started"] <= found["cnxbackup_last_success_timestamp_seconds"] <= time.time()
    assert found["cnxbackup_last_downtime_seconds"] == document["downtimeSeconds"]
    assert 0 < found["cnxbackup_last_duration_seconds"] <= time.time() - monitored["started"]


def test_a_failed_backup_pings_fail_with_the_masked_log_tail_and_keeps_the_last_success(monitored):
    tmp, listener = monitored["tmp"], monitored["listener"]
    last_success = metrics(tmp)["cnxbackup_last_success_timestamp_seconds"]
    fakedb.set_database(e2e.fakedb_env(tmp), "FILES", disk_full=True)
    try:
        document = run_json("backup", "--env", monitored["env"], expect=1)
    finally:
        fakedb.set_database(e2e.fakedb_env(tmp), "FILES", disk_full=False)
    assert document["status"] == "failed" and document["details"]["setStatus"] == "partial"
    files = next(d for d in document["databases"] if d["name"] == "FILES")
    assert files["status"] == "failed" and "SQL2419N" in (files["error"] or "")
    assert listener.kinds() == ["start", "success", "start", "fail"]
    body = listener.requests[-1]["body"]
    password = open(os.path.join(tmp, PASSWORD_FILE), encoding="utf-8").read().strip()
    assert "SQL2419N" in body and "the was password is *****" in body and password not in body
    assert hook_lines(tmp)[-2:] == ["before demo backup", "error 1 failed"]
    found = metrics(tmp)
    assert found["cnxbackup_last_status"] == 1
    assert found["cnxbackup_last_success_timestamp_seconds"] == last_success


def test_a_dead_monitor_does_not_fail_the_backup(monitored, tmp_path):
    tmp = monitored["tmp"]
    with open(monitored["env"], encoding="utf-8") as handle:
        text = handle.read()
    dead = "http://127.0.0.1:9/nobody-listens"  # the discard port: nothing answers on loopback
    with open(monitored["env"], "w", encoding="utf-8") as handle:
        handle.write(text.replace(monitored["listener"].url, dead))
    document = run_json("backup", "--env", monitored["env"], expect=0)
    assert any("start ping" in n and "failed after 2 attempts" in n for n in document["notes"])
    assert any("success ping" in n for n in document["notes"])
    assert metrics(tmp)["cnxbackup_last_status"] == 0


def test_a_failing_before_hook_aborts_before_anything_is_checked(tmp_path):
    tmp = str(tmp_path)
    os.makedirs(os.path.join(tmp, "textfile"))
    listener = Listener()
    try:
        env_file = e2e.write_env(tmp, extra=monitoring_yaml(tmp, listener.url, before_exit=5))
        document = run_json("backup", "--env", env_file, expect=1)
    finally:
        listener.close()
    assert "hooks.before_backup[1] failed (exit 5)" in document["errors"][0]
    assert document["set"] is None and e2e.sets(os.path.join(tmp, "backups")) == []
    assert listener.kinds() == ["start", "fail"]
    assert hook_lines(tmp)[0] == "before demo backup" and "error 1 failed" in hook_lines(tmp)
    assert metrics(tmp)["cnxbackup_last_status"] == 1
    assert "cnxbackup_last_success_timestamp_seconds" not in metrics(tmp)  # never succeeded: no value, not 0


def test_ping_retries_then_gives_up_quietly_on_a_monitor_that_answers_500(tmp_path):
    listener = Listener(status=500)
    try:
        env_file = e2e.write_env(str(tmp_path), extra=monitoring_yaml(str(tmp_path), listener.url, retries=2, timeout=2))
        progress = Progress(quiet=True)
        monitor = monitoring.Monitor(load_environment(env_file), progress)
        assert monitor.ping("start") is False
        assert listener.kinds() == ["start"] * 3 and monitor.warnings
        monitor.close()
    finally:
        listener.close()
