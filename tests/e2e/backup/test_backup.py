"""End to end: `cnxbackup backup` on a small demo deployment with the mocked wsadmin and fake DB2.

Each test drives the real CLI in a subprocess. Failure paths: DB tool failure, wsadmin death
and hang, dmgr down, disk full during an archive, Ctrl-C, bad YAML, a missing path; and resume.
"""
from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import time

import pytest

import e2e
from cnxbackup.demo import fakedb, mockcell
from cnxbackup.lock import RunLock
from restorekit import stops

PASSWORD = "Adm1n-Secret"


def _stop_events(log):
    return [i for i, e in enumerate(log) if e.get("event") == "call" and (
        (e["object"] == "AdminControl" and e["method"] == "stopServer")
        or (e["object"] == "AdminControl" and e["method"] == "invoke" and len(e["args"]) > 1 and "stop" in str(e["args"][1]).lower()))]


def test_full_demo_backup(tmp_path):
    tmp = str(tmp_path)
    env_file = e2e.write_env(tmp)
    proc = e2e.cli("backup", "--env", env_file)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [set_dir] = e2e.sets(os.path.join(tmp, "backups"))
    manifest = e2e.manifest(set_dir)
    assert manifest["status"] == "complete"
    assert manifest["connections"]["version"] == "8.0.0.0_CR14" and manifest["connections"]["release"] == "8.0"

    # every archive: checksum, size and entry count match an independent read
    names = {a["name"] for a in manifest["archives"]}
    assert {"dmgr-profile", "profile-AppSrv01", "profileRegistry", "connections-root", "shared-data",
            "shared-provision", "local-data", "engine-ws-ear", "im-data", "im-install", "im-shared"} <= names
    for item in manifest["archives"]:
        path = os.path.join(set_dir, item["path"])
        assert e2e.sha256(path) == item["sha256"], item["name"]
        assert os.path.getsize(path) == item["size"]
        if item["kind"] == "archive":
            listing = subprocess.run(f"zstd -dc '{path}' | tar -tf -", shell=True, capture_output=True, text=True, check=True)
            assert len(listing.stdout.splitlines()) == item["files"], item["name"]
    # provision/ is in its own archive and not in shared-data; shared data not in connections-root
    shared = subprocess.run(f"zstd -dc '{set_dir}/archives/shared-data.tar.zst' | tar -tf -", shell=True,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    assert not any(n.startswith("./provision") for n in shared) and shared
    root = subprocess.run(f"zstd -dc '{set_dir}/archives/connections-root.tar.zst' | tar -tf -", shell=True,
                          capture_output=True, text=True, check=True).stdout.splitlines()
    assert not any(n.startswith("./data/shared") or n.startswith("./data/local") for n in root)

    # databases: each with its 14-digit timestamp, in RESTORE.md too
    assert len(manifest["databases"]) == 16
    runbook = open(os.path.join(set_dir, "RESTORE.md")).read()
    for db in manifest["databases"]:
        assert db["status"] == "done" and len(db["timestamp"]) == 14 and db["timestamp"] in runbook
    assert "FNGCD" in {d["name"] for d in manifest["databases"]}

    # wsadmin: one JVM launch; role export before the first server stop; results recorded
    log = mockcell.read_log(e2e.mock_env(tmp))
    launches = [e for e in log if e.get("event") == "launch"]
    assert len(launches) == 1
    assert launches[0].get("credentialSource") == "prompt"  # typed at wsadmin's login prompt, not argv
    assert not any(PASSWORD in a for a in launches[0]["argv"])
    views = [i for i, e in enumerate(log) if e.get("event") == "call" and e["object"] == "AdminApp" and e["method"] == "view"]
    stops = _stop_events(log)
    assert views and stops and max(views) < min(stops)
    roles = json.load(open(os.path.join(set_dir, "wsadmin", "role_mappings.json")))
    fixture = json.load(open(os.path.join(mockcell.CELLS_DIR, "was905.json")))
    assert set(roles["applications"]) == {a["name"] for a in fixture["applications"]}
    assert manifest["wsadmin"]["filenetAdmin"]["fileBased"] in (0, False)
    assert not any(a["name"] == "fileRegistry" for a in manifest["archives"])

    # permissions and secrets
    assert stat.S_IMODE(os.stat(set_dir).st_mode) == 0o700
    for folder, _dirs, files in os.walk(set_dir):
        for name in files:
            path = os.path.join(folder, name)
            mode = stat.S_IMODE(os.stat(path).st_mode)
            assert mode & 0o077 == 0, (path, oct(mode))
            with open(path, "rb") as handle:
                assert PASSWORD.encode() not in handle.read(), path
    assert PASSWORD not in proc.stdout + proc.stderr
    assert all(PASSWORD not in json.dumps(e) for e in log)
    assert not e2e.partial_files(set_dir)

    # verify --deep agrees
    check = e2e.cli("verify", set_dir, "--deep", "--env", env_file)
    assert check.returncode == 0, check.stdout + check.stderr


def test_filebased_filenet_admin_saves_file_registry(tmp_path):
    tmp = str(tmp_path)
    env_file = e2e.write_env(tmp, cell="was855")
    proc = e2e.cli("backup", "--env", env_file)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [set_dir] = e2e.sets(os.path.join(tmp, "backups"))
    manifest = e2e.manifest(set_dir)
    registry = [a for a in manifest["archives"] if a["name"] == "fileRegistry"]
    assert registry and registry[0]["source"].endswith("/config/cells/%s/fileRegistry.xml" % manifest["wsadmin"]["filenetAdmin"]["cell"])
    assert manifest["wsadmin"]["filenetAdmin"]["alias"].endswith("/filenetAdmin")


def test_dry_run_and_plan_change_nothing(tmp_path):
    tmp = str(tmp_path)
    env_file = e2e.write_env(tmp)
    proc = e2e.cli("backup", "--env", env_file, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "db2 backup database OPNACT" in proc.stdout.replace("  ", " ") or "OPNACT" in proc.stdout
    assert "zstd" in proc.stdout and "stop_servers" in proc.stdout
    assert e2e.sets(os.path.join(tmp, "backups")) == []
    events = mockcell.read_log(e2e.mock_env(tmp))  # the gate's session logged in to the Dmgr, was asked nothing
    assert [e["event"] for e in events if e["event"] != "exit"] == ["launch"]
    assert e2e.db_changes(fakedb.read_log(e2e.fakedb_env(tmp))) == []  # the gate's read-only query only
    plan = e2e.cli("plan", "--env", env_file)
    assert plan.returncode == 0 and "shared-provision" in plan.stdout and "Connections 8.0.0.0_CR14" in plan.stdout


def test_missing_path_fails_preflight_naming_it(tmp_path):
    tmp = str(tmp_path)
    env_file = e2e.write_env(tmp, extra="")
    with open(env_file, "a") as handle:
        handle.write("")
    text = open(env_file).read().replace('profiles: ["{was_root}/profiles/AppSrv01"]',
                                         'profiles: ["{was_root}/profiles/AppSrv01", "{was_root}/profiles/Missing02"]')
    open(env_file, "w").write(text)
    line = next(n for n, text in enumerate(open(env_file), 1) if "Missing02" in text)
    proc = e2e.cli("backup", "--env", env_file)
    assert proc.returncode == 2, proc.stdout + proc.stderr  # the configuration is at fault: its key and line
    assert "profiles/Missing02 does not exist" in proc.stderr and "profile-Missing02" in proc.stderr
    assert f"{env_file}:{line}: key 'paths.profiles'" in proc.stderr
    assert e2e.sets(os.path.join(tmp, "backups")) == []


def test_bad_yaml_exits_2(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("target:\n  dir: /x\nwsadmin:\n  port: [8879\n")
    proc = e2e.cli("backup", "--env", str(path))
    assert proc.returncode == 2 and str(path) in proc.stderr and "YAML syntax error" in proc.stderr


def test_db_failure_then_resume(tmp_path):
    tmp = str(tmp_path)
    env_file = e2e.write_env(tmp)
    fake = fakedb.prepare(os.path.join(tmp, "demo", "fakedb"), "db2",
                          databases=["OPNACT", "BLOGS", "DOGEAR", "SNCOMM", "FILES", "FORUM", "HOMEPAGE", "METRICS",
                                     "MOBILE", "PEOPLEDB", "PNS", "WIKIS", "XCC", "ESSAPPS", "FNGCD", "FNOS"],
                          disk_full=["FILES"], in_use=["HOMEPAGE"])
    json.dump(fake, open(os.path.join(tmp, "demo", "fakedb", "env.json"), "w"))
    proc = e2e.cli("backup", "--env", env_file)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FILES" in proc.stdout and "SQL2419N" in proc.stdout
    [set_dir] = e2e.sets(os.path.join(tmp, "backups"))
    manifest = e2e.manifest(set_dir)
    assert manifest["status"] == "partial"
    status = {d["name"]: d["status"] for d in manifest["databases"]}
    assert status["FILES"] == "failed" and status["HOMEPAGE"] in ("done", "warning") and status["OPNACT"] == "done"
    assert all(a["status"] == "done" for a in manifest["archives"])  # files still archived
    calls = fakedb.read_log(fake)
    argv = [" ".join(c["argv"]) for c in calls]
    assert any("deactivate database HOMEPAGE" in a.replace("  ", " ") for a in argv)
    assert not any("force applications" in a for a in argv)
    verify = e2e.cli("verify", set_dir, "--trusted-keys", e2e.trusted_keys_of(set_dir))
    assert verify.returncode == 1 and "partial" in verify.stdout

    # fix the disk, resume: only FILES is redone, archives are not rewritten
    state = fakedb.read_state(fake)
    state["databases"]["FILES"]["disk_full"] = False
    json.dump(state, open(fake["FAKEDB_STATE"], "w"))
    mtimes = {a["name"]: os.stat(os.path.join(set_dir, a["path"])).st_mtime_ns for a in manifest["archives"]}
    before = len(calls)
    launches = sum(1 for e in mockcell.read_log(e2e.mock_env(tmp)) if e.get("event") == "launch")
    proc = e2e.cli("backup", "--env", env_file, "--resume")
    assert proc.returncode in (0, 3), proc.stdout + proc.stderr
    manifest = e2e.manifest(set_dir)
    assert manifest["status"] in ("complete", "complete-with-warnings")
    assert (proc.returncode == 3) == (manifest["status"] == "complete-with-warnings")
    new_calls = [" ".join(c["argv"]) for c in fakedb.read_log(fake)[before:]]
    backups = [a for a in new_calls if " backup " in f" {a} "]
    assert backups and all("FILES" in a for a in backups)
    assert {a["name"]: os.stat(os.path.join(set_dir, a["path"])).st_mtime_ns for a in manifest["archives"]} == mtimes
    # one launch more: the resume stopped the servers again (they were still stopped: nothing redone)
    assert sum(1 for e in mockcell.read_log(e2e.mock_env(tmp)) if e.get("event") == "launch") == launches + 1
    assert len(manifest["stops"]) == 2


def test_resume_after_the_servers_were_started_stops_them_again_and_redoes_what_followed_the_stop(tmp_path):
    tmp = str(tmp_path)
    env_file = e2e.write_env(tmp)
    fake = fakedb.prepare(os.path.join(tmp, "demo", "fakedb"), "db2", databases=e2e.ALL_DB2, disk_full=["FILES"])
    json.dump(fake, open(os.path.join(tmp, "demo", "fakedb", "env.json"), "w"))
    assert e2e.cli("backup", "--env", env_file).returncode == 1  # FILES failed: partial, servers left stopped
    [set_dir] = e2e.sets(os.path.join(tmp, "backups"))
    first = e2e.manifest(set_dir)
    mock = e2e.mock_env(tmp)
    state = mockcell.load_state(mock)
    state["runtime"]["servers"] = {}  # someone started every server again before the resume
    mockcell.save_state(mock, state)
    state = fakedb.read_state(fake)
    state["databases"]["FILES"]["disk_full"] = False
    json.dump(state, open(fake["FAKEDB_STATE"], "w"))
    before = len(fakedb.read_log(fake))
    log_before = len(mockcell.read_log(mock))
    proc = e2e.cli("--plain", "backup", "--env", env_file, "--resume")
    assert proc.returncode == 3, proc.stdout + proc.stderr  # complete, with the restart as a warning
    assert "were running again" in proc.stdout
    assert stops(mockcell.read_log(mock)[log_before:]), "the resume stopped the servers again"
    redone = [" ".join(c["argv"]) for c in fakedb.read_log(fake)[before:] if "backup" in c["argv"]]
    assert len(redone) == len(e2e.ALL_DB2)  # every database again, after the new stop
    manifest = e2e.manifest(set_dir)
    assert manifest["status"] == "complete-with-warnings" and len(manifest["stops"]) == 2
    assert all(a["status"] == "done" for a in manifest["archives"])
    after = [s for s, e in first["steps"].items() if s.startswith(("db:", "level1:"))
             or (s.startswith("item:") and e.get("level") != 0)]
    level0 = [s for s, e in first["steps"].items() if s.startswith("item:") and e.get("level") == 0]
    assert after and all(manifest["steps"][s]["ended"] >= manifest["stops"][1] for s in after)
    # the level-0 archives were taken while the servers ran anyway: kept, their level 1 was redone
    assert level0 and all(manifest["steps"][s]["ended"] == first["steps"][s]["ended"] for s in level0)


FAKE_WSADMIN = """#!/bin/sh
echo 'WASX7209I: Connected to process "dmgr" on node CellManager01 using SOAP connector;  The type of process is: DeploymentManager'
echo 'WASX7031I: For help, enter: "print Help.help()"'
echo $$ > "{pidfile}"
printf 'wsadmin>'
read line
{action}
"""


@pytest.mark.parametrize("action, expect", [
    ("exit 137", "died"),
    ("sleep 3600", "did not finish within 5s"),
])
def test_wsadmin_death_and_hang_are_reported(tmp_path, action, expect):
    tmp = str(tmp_path)
    pidfile = os.path.join(tmp, "fake-wsadmin.pid")
    script = os.path.join(tmp, "wsadmin.sh")
    with open(script, "w") as handle:
        handle.write(FAKE_WSADMIN.format(pidfile=pidfile, action=action))
    os.chmod(script, 0o755)
    env_file = e2e.write_env(tmp, wsadmin_command=script, step_timeout=5)
    started = time.monotonic()
    proc = e2e.cli("backup", "--env", env_file, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert expect in proc.stderr
    assert time.monotonic() - started < 60
    pid = int(open(pidfile).read())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    [set_dir] = e2e.sets(os.path.join(tmp, "backups"))
    assert not os.path.exists(os.path.join(set_dir, "manifest.json"))
    journal = json.load(open(os.path.join(set_dir, "journal.json")))
    assert journal["steps"]["wsadmin:list_auth_aliases"]["status"] == "failed"
    assert e2e.db_changes(fakedb.read_log(e2e.fakedb_env(tmp))) == []  # nothing after wsadmin ran


def test_dmgr_down_fails_plan_and_backup_at_the_gate_before_anything(tmp_path):
    """The gate reaches the Dmgr in the session the backup would use: with it stopped, ``plan`` and
    ``backup`` fail (exit 1) naming it and how to start it, before a set folder exists."""
    tmp = str(tmp_path)
    env_file = e2e.write_env(tmp)
    os.makedirs(os.path.join(tmp, "demo", "mock"))
    env = mockcell.prepare(os.path.join(tmp, "demo", "mock"), "was905", dmgrRunning=False)
    json.dump(env, open(os.path.join(tmp, "demo", "mock", "env.json"), "w"))
    gate_tmp = os.path.join(tmp, "gate-tmp")
    os.makedirs(gate_tmp)
    for command in ("plan", "backup"):
        proc = e2e.cli(command, "--env", env_file, env={"TMPDIR": gate_tmp})
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "WASX7023E" in proc.stderr and "ConnectorNotAvailableException" in proc.stderr
        profile = os.path.join(tmp, "demo", "tree", "opt", "IBM", "WebSphere", "AppServer", "profiles", "Dmgr01")
        assert re.search(rf"the Dmgr at \S+:8879 \(SOAP; profile {re.escape(profile)}\) does not answer", proc.stderr)
        assert "startManager.sh" in proc.stderr and f"start --env {env_file}" in proc.stderr
    assert e2e.sets(os.path.join(tmp, "backups")) == [] and os.listdir(gate_tmp) == []
    events = mockcell.read_log(env)  # one wsadmin per command, the gate's, asked nothing
    assert [e["event"] for e in events if e.get("event") != "exit"] == ["launch", "launch"]


def _wait_for(predicate, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _journal_status(tmp, step):
    sets = e2e.sets(os.path.join(tmp, "backups"))
    if not sets:
        return None
    try:
        return json.load(open(os.path.join(sets[-1], "journal.json")))["steps"].get(step, {}).get("status")
    except (OSError, ValueError):
        return None


def test_ctrl_c_then_resume(tmp_path):
    tmp = str(tmp_path)
    env_file = e2e.write_env(tmp)
    fake = fakedb.prepare(os.path.join(tmp, "demo", "fakedb"), "db2", databases=["OPNACT", "BLOGS", "FILES", "WIKIS"],
                          delay_seconds=3)
    json.dump(fake, open(os.path.join(tmp, "demo", "fakedb", "env.json"), "w"))
    with open(env_file, "a") as handle:
        handle.write("  databases: [OPNACT, BLOGS, FILES, WIKIS]\n")
    child = e2e.popen("backup", "--env", env_file)
    assert _wait_for(lambda: _journal_status(tmp, "db:OPNACT") == "running")
    # the archives run beside the databases: interrupt once they are done and only the databases run
    _wait_for(lambda: _journal_status(tmp, "item:im-shared") == "done", timeout=10)
    assert _journal_status(tmp, "db:OPNACT") == "running"
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130, out + err
    [set_dir] = e2e.sets(os.path.join(tmp, "backups"))
    journal = json.load(open(os.path.join(set_dir, "journal.json")))
    assert all(s["status"] != "done" for k, s in journal["steps"].items() if k.startswith("db:"))
    # interrupted, not failed; no worker speaks after the Ctrl-C as if the work went on; no traceback
    assert {s.get("error") for k, s in journal["steps"].items() if k.startswith("db:")} == {"interrupted"}
    assert not [line for line in out.splitlines() if line.startswith("[databases]") and
                ("finished" in line or "done:" in line)], out
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err
    # the last lines: the servers this backup stopped and left stopped, then the resume and the start
    state = err[err.index("The deployment is NOT fully running"):]
    assert len(journal["stoppedServers"]) == 7 and "PushCluster_server2" not in state  # stopped before the backup
    for server in journal["stoppedServers"]:
        node, name = server.split("/")
        assert re.search(rf"application servers on node {node}: .*\b{name}\b", state), (server, state)
    lines = err.rstrip().splitlines()
    assert lines[-3].endswith(f"backup --env {env_file} --resume {set_dir}") and lines[-1].endswith(f"start --env {env_file}")
    # the archives ran beside the databases: what is marked done is there and hashes as recorded
    for key, step in journal["steps"].items():
        if key.startswith("item:") and step["status"] == "done":
            record = step["result"]
            assert e2e.sha256(os.path.join(set_dir, record["path"])) == record["sha256"], key
    assert not os.path.exists(os.path.join(set_dir, "manifest.json"))
    # the lock is released (the file stays, by design: it is never unlinked, see cnxbackup.lock)
    assert RunLock(os.path.join(tmp, "backups"), "demo", "").holder() is None
    assert not e2e.partial_files(set_dir)
    # no fake db2 left running
    time.sleep(0.5)
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    # this test's own fakes only: another worker's backup may be running its db2 right now
    assert fake["FAKEDB_STATE"] not in ps
    assert not [line for line in ps.splitlines() if "demo/fakes/db2 backup" in line and tmp in line]

    # an image an interrupted run left in backup_dir, which no set will list: the resume, list and
    # cleanup name it; cleanup removes it, and nothing the set lists
    orphan = os.path.join(tmp, "demo", "db2-backups", "BLOGS.0.db2inst1.DBPART000.20200101000000.001")
    with open(orphan, "wb") as handle:
        handle.write(b"left by an interrupted run")
    proc = e2e.cli("backup", "--env", env_file, "--resume")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert e2e.manifest(set_dir)["status"] == "complete"
    assert "belong to no set" in proc.stdout and orphan in proc.stdout
    listed = e2e.cli("list", "--env", env_file)
    assert "belong to no set" in listed.stdout and orphan in listed.stdout and "cleanup --env" in listed.stdout
    cleaned = e2e.cli("cleanup", "--env", env_file, "--yes")
    assert cleaned.returncode == 0 and f"removed {orphan}" in cleaned.stdout, cleaned.stdout + cleaned.stderr
    assert not os.path.exists(orphan)
    assert all(os.path.isfile(i["path"]) for db in e2e.manifest(set_dir)["databases"] for i in db["images"])


def test_disk_full_during_archive(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    tmp = str(tmp_path)
    mount = os.path.join(tmp, "small")
    os.makedirs(mount)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mount]).returncode != 0:
        pytest.skip("cannot mount tmpfs here")
    try:
        env_file = e2e.write_env(tmp, target=os.path.join(mount, "backups"))
        fake = fakedb.prepare(os.path.join(tmp, "demo", "fakedb"), "db2", databases=["OPNACT", "BLOGS"], delay_seconds=2)
        json.dump(fake, open(os.path.join(tmp, "demo", "fakedb", "env.json"), "w"))
        with open(env_file, "a") as handle:
            handle.write("  databases: [OPNACT, BLOGS]\n")
        child = e2e.popen("backup", "--env", env_file)
        # the gate has passed once the wsadmin phase runs; fill the target before the archives start
        # (the level-0 archives, right after the role export, before the stop)
        assert _wait_for(lambda: os.path.exists(mount + "/backups") and
                         _journal_status(mount, "wsadmin:list_auth_aliases") in ("running", "done"))
        filler = os.path.join(mount, "filler")
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)
        os.truncate(filler, os.path.getsize(filler) - 96 * 1024)  # leave ~96 KB
        out, err = child.communicate(timeout=120)
        assert child.returncode == 1, out + err
        assert "full" in (out + err).lower()
        [set_dir] = e2e.sets(os.path.join(mount, "backups"))
        assert not e2e.partial_files(set_dir)
        journal = json.load(open(os.path.join(set_dir, "journal.json")))
        # with the disk full even the journal may not be written: what it marks done is there, the rest
        # is unfinished (failed, or still "running" when the journal could not record the end)
        # (the first level-0 archive, taken before the stop, met the full disk: the servers were not stopped)
        assert not os.path.exists(os.path.join(set_dir, "manifest.json"))
        assert journal["steps"].get("manifest", {}).get("status") != "done"
        assert not stops(mockcell.read_log(e2e.mock_env(tmp))), "phase 1 failed: nothing may be stopped"
        for key, step in journal["steps"].items():
            if key.startswith("item:") and step["status"] == "done":
                assert e2e.sha256(os.path.join(set_dir, step["result"]["path"])) == step["result"]["sha256"], key
        os.unlink(filler)
        proc = e2e.cli("backup", "--env", env_file, "--resume")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert e2e.manifest(set_dir)["status"] == "complete"
    finally:
        subprocess.run(["umount", "-l", mount])


def test_databases_and_file_archives_run_at_the_same_time_after_the_stop(tmp_path):
    tmp = str(tmp_path)
    env_file = e2e.write_env(tmp)
    fake = fakedb.prepare(os.path.join(tmp, "demo", "fakedb"), "db2", databases=e2e.ALL_DB2, delay_seconds=0.5)
    # 16 databases, 4 at a time, each backup and check 0.5 s: they run 4 s past the stop
    json.dump(fake, open(os.path.join(tmp, "demo", "fakedb", "env.json"), "w"))
    proc = e2e.cli("--plain", "backup", "--env", env_file)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [set_dir] = e2e.sets(os.path.join(tmp, "backups"))
    steps = json.load(open(os.path.join(set_dir, "journal.json")))["steps"]
    db_ends = sorted(e["ended"] for s, e in steps.items() if s.startswith("db:"))
    item_starts = sorted(e["started"] for s, e in steps.items() if s.startswith("level1:"))
    stopped = steps["wsadmin:stop_servers"]["ended"]
    assert stopped <= item_starts[0] < db_ends[-1], (stopped, item_starts[:2], db_ends[-2:])
