"""`cnxbackup restore` end to end on the demo deployment (mocked wsadmin, fake DB2).

One backup is shared by the module; every test starts from a pristine copy of the demo
folder and the set (`cp -a` back onto the same absolute paths, which the manifest, the
mock's state and the fake DB's state all record).
"""
from __future__ import annotations

import io
import json
import os
import pty
import re
import shlex
import shutil
import stat
import subprocess
import tarfile
import time

import pytest

import e2e
from cnxbackup.actions.backup import component_pack_phase
from cnxbackup.actions.backup.runbook import relative_to_set
from cnxbackup.demo import fakedb, mockcell
from restorekit import (
    REPLACED,
    STAMP_RE,
    app_server_actions,
    assert_nothing_changed,
    calls,
    provision_jar,
    role_mappings,
    set_installed_version,
    snapshot,
    staging_left,
)

reseal = e2e.reseal


# --------------------------------------------------------------------------- helpers


# --------------------------------------------------------------------------- round trip


def test_round_trip_restores_tree_roles_databases_and_starts_servers(ctx):
    manifest = e2e.manifest(ctx.set_dir)
    state = mockcell.load_state(ctx.mock)
    original_roles = role_mappings(state)
    # damage the deployment: content, a mode, a deleted dir, a replaced symlink, a new file
    some_jar = os.path.join(ctx.tree, "opt/IBM/WebSphere/AppServer/profiles/AppSrv01")
    changed_file = next(os.path.join(f, n) for f, _, ns in os.walk(ctx.shared) for n in sorted(ns)
                        if os.path.isfile(os.path.join(f, n)) and not os.path.islink(os.path.join(f, n)))
    with open(changed_file, "r+b") as handle:
        handle.write(b"CHANGED")
    ear = [a for a in manifest["archives"] if a["name"] == "engine-ws-ear"][0]["source"]
    os.chmod(ear, 0o600)
    shutil.rmtree(os.path.join(some_jar, "config"))
    link = os.path.join(ctx.shared, "provision", "customization-link")
    assert os.path.islink(link)
    os.unlink(link)
    os.symlink("/etc", link)
    open(os.path.join(ctx.cnx, "stray-after-backup.txt"), "w").write("new\n")
    # role mappings and server states
    apps = {a["name"]: a for a in state["applications"]}
    apps["Activities"]["roles"][0].update(everyone=False, users=["mallory"])
    apps["Blogs"]["roles"][-1]["groups"] = ["intruders"]
    servers = sorted(app_server_actions(state))
    state["runtime"]["servers"][servers[0]] = {"action": "start", "at": time.time() - 100}
    state["runtime"]["servers"][servers[1]] = {"action": "stop", "at": time.time() - 100}
    mockcell.save_state(ctx.mock, state)
    assert role_mappings(mockcell.load_state(ctx.mock)) != original_roles
    assert snapshot(ctx.tree) != ctx.original

    proc = ctx.restore("--start")
    assert proc.returncode == 0, proc.stdout + proc.stderr

    assert snapshot(ctx.tree) == ctx.original
    after = mockcell.load_state(ctx.mock)
    assert role_mappings(after) == original_roles
    actions = app_server_actions(after)
    # every server that ran is started again; the demo's one stopped before the backup stays stopped
    assert actions.pop("CNXNode02/PushCluster_server2") is None and set(actions.values()) == {"start"}
    log = mockcell.read_log(ctx.mock)
    assert calls(log, "edit") and max(i for i, e in enumerate(log) if e in calls(log, "edit")) < \
        max(i for i, e in enumerate(log) if e.get("method") in ("startServer", "invoke"))
    # DB2 restore of every database from its recorded timestamp
    restores = [" ".join(e["argv"]) for e in fakedb.read_log(ctx.fake) if e["tool"] == "db2"]
    for db in manifest["databases"]:
        wanted = f"restore database {db['name']} from {db['location']} taken at {db['timestamp']}"
        assert any(wanted in line for line in restores), (wanted, restores[:3])
    # what was replaced is kept beside, with the damage in it
    stamp_dirs = ctx.restore_dirs()
    assert len(stamp_dirs) == 1 and not [n for n in os.listdir(ctx.set_dir) if n.startswith("restore-")]
    assert stat.S_IMODE(os.stat(stamp_dirs[0]).st_mode) == 0o700  # root's own, never inside the set
    journal = json.load(open(os.path.join(stamp_dirs[0], "journal.json")))
    assert journal["status"] == "complete" and journal["replaced"]
    assert all(os.path.lexists(p) and REPLACED in p for p in journal["replaced"])
    kept_root = [p for p in journal["replaced"]
                 if p == os.path.join(ctx.cnx + REPLACED + journal["stamp"], "replaced")]
    assert stat.S_IMODE(os.stat(os.path.dirname(kept_root[0])).st_mode) == 0o700  # the container: root only
    assert kept_root and os.path.isfile(os.path.join(kept_root[0], "stray-after-backup.txt"))
    kept_ear = os.path.join(kept_root[0], os.path.relpath(ear, ctx.cnx))  # the ear lives in connections_root
    assert stat.S_IMODE(os.lstat(kept_ear).st_mode) == 0o600
    assert "already done" not in proc.stdout


def _runbook_commands(set_dir: str) -> list:
    text = open(os.path.join(set_dir, "RESTORE.md"), encoding="utf-8").read()
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        commands += [line for line in block.splitlines() if line.strip()]
    return commands


def _normalise(line: str) -> list:
    return [STAMP_RE.sub("<timestamp>", token) for token in shlex.split(line, comments=False)]


def test_dry_run_prints_the_runbook_commands_and_changes_nothing(ctx):
    before = ctx.log_length()
    fakedb_before = len(fakedb.read_log(ctx.fake))
    proc = ctx.restore("--dry-run", "--json")  # the steps' text on stderr, the result document on stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # RESTORE.md says "$SET" for the set's folder and runs the set's own wsadmin scripts: the same commands
    printed = [relative_to_set(line[5:], ctx.set_dir) for line in proc.stderr.splitlines() if line.startswith("     ")]
    runbook = _runbook_commands(ctx.set_dir)
    assert len(runbook) > 40
    assert [_normalise(c) for c in printed] == [_normalise(c) for c in runbook]
    assert any("taken at" in c for c in printed)
    assert_nothing_changed(ctx, before)
    assert len(fakedb.read_log(ctx.fake)) == fakedb_before
    # the README's "Rolling back a failed upgrade" lists the same steps in the same order
    kinds = [step["kind"] for step in json.loads(proc.stdout)["details"]["steps"]]
    in_order = [kind for index, kind in enumerate(kinds) if index == 0 or kinds[index - 1] != kind]
    assert in_order == readme_restore_order() and len(in_order) == 13


def test_the_quick_start_lists_every_entry_of_a_set_and_nothing_else(ctx):
    text = open(os.path.join(e2e.ROOT, "README.md"), encoding="utf-8").read()
    block = text[text.index("\n## Quick start: the demo"):]
    block = block[:block.index("\n## ", 1)]
    listed = re.findall(r"^    (\S+?)/?  +\S", block, re.M)
    entries = sorted(os.listdir(ctx.set_dir))
    assert sorted(set(listed) - {component_pack_phase.FOLDER}) == entries  # the Component Pack's: with its section
    assert component_pack_phase.FOLDER in listed


def readme_restore_order() -> list:
    """The ``<!-- step: KIND -->`` marks of the README's rollback section, in order."""
    text = open(os.path.join(e2e.ROOT, "README.md"), encoding="utf-8").read()
    section = text[text.index("\n## Rolling back a failed upgrade"):]
    section = section[:section.index("\n## ", 1)]
    return re.findall(r"<!-- step: ([a-z-]+) -->", section)


def test_only_shared_data_keeps_provision_and_the_rest(ctx):
    shared_file = os.path.join(ctx.shared, "profiles/cache/profiles.cache")
    provision_file = provision_jar(ctx)
    root_file = os.path.join(ctx.cnx, "only-test.txt")
    for path in (shared_file, provision_file):
        with open(path, "ab") as handle:
            handle.write(b"local change")
    open(root_file, "w").write("untouched\n")
    local_before = snapshot(os.path.join(ctx.cnx, "data/local"))
    proc = ctx.restore("--only", "shared-data")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    now = snapshot(ctx.tree)
    rel = lambda p: os.path.relpath(p, ctx.tree)  # noqa: E731
    assert now[rel(shared_file)] == ctx.original[rel(shared_file)]
    assert now[rel(provision_file)] != ctx.original[rel(provision_file)]  # live provision carried over
    assert open(root_file).read() == "untouched\n"
    assert snapshot(os.path.join(ctx.cnx, "data/local")) == local_before
    assert not any(e["tool"] == "db2" and "restore" in e["argv"] for e in fakedb.read_log(ctx.fake))
    unknown = ctx.restore("--only", "no-such-item", "--dry-run")
    assert unknown.returncode == 2 and "no-such-item" in unknown.stderr


def test_without_a_terminal_and_without_yes_a_restore_says_what_it_would_do_and_refuses_before_anything(ctx):
    before = ctx.log_length()
    db_before = len(fakedb.read_log(ctx.fake))
    whole = ctx.restore(confirm=False)
    assert whole.returncode == 2, whole.stdout + whole.stderr
    assert "no terminal to ask on" in whole.stderr and "--yes" in whole.stderr
    summary = whole.stdout[whole.stdout.index("This will restore"):]
    for heading in ("stop:", "the application servers of the cell", "dmgr (Dmgr01)", "replace (what is there is kept",
                    "restore these databases over the live ones:", "HOMEPAGE", "then start:"):
        assert heading in summary, heading
    assert f"{ctx.shared}: shared-data (" in summary  # the path, the item and its size from the manifest
    databases = ctx.restore("--only", "databases", confirm=False)
    assert databases.returncode == 2 and "no terminal to ask on" in databases.stderr
    assert "replace (what" not in databases.stdout and "HOMEPAGE" in databases.stdout
    on_terminal = _restore_on_a_terminal(ctx, answer="demo-typo")
    assert on_terminal["code"] == 2 and "Type the environment's name (demo)" in on_terminal["output"]
    assert "not confirmed: nothing was changed" in on_terminal["output"]
    assert_nothing_changed(ctx, before)
    assert ctx.restore_dirs() == []  # refused before its journal was made
    assert not any("restore" in e["argv"] for e in fakedb.read_log(ctx.fake)[db_before:])


def _restore_on_a_terminal(ctx, answer: str) -> dict:
    """``restore`` with a pseudo-terminal for stdin and output; ``answer`` typed at the question."""
    main, child = pty.openpty()
    proc = subprocess.Popen(e2e.cli_argv("--plain", "restore", ctx.set_dir, "--env", ctx.env_file),
                            stdin=child, stdout=child, stderr=child, env=e2e.cli_env(None), close_fds=True)
    os.close(child)
    output = b""
    deadline = time.monotonic() + 120
    while b"to go on" not in output and time.monotonic() < deadline and proc.poll() is None:
        try:
            output += os.read(main, 65536)
        except OSError:
            break
    os.write(main, answer.encode() + b"\n")
    code = proc.wait(timeout=120)
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(main)
    return {"code": code, "output": output.decode(errors="replace")}


def test_target_root_restores_files_only_under_it(ctx):
    changed = os.path.join(ctx.shared, "profiles/cache/profiles.cache")
    with open(changed, "ab") as handle:
        handle.write(b"live change")
    live = snapshot(ctx.tree)
    before = ctx.log_length()
    side = os.path.join(ctx.base, "side")
    proc = ctx.restore("--target-root", side, confirm=False)  # new folders, nothing live: not asked
    assert proc.returncode in (0, 3), proc.stdout + proc.stderr
    assert "This will restore" not in proc.stdout and "what was replaced is kept" not in proc.stdout
    assert snapshot(ctx.tree) == live
    restored = snapshot(side + ctx.tree)
    for path in ("opt/IBM/Connections/data/shared/profiles/cache/profiles.cache",
                 "opt/IBM/WebSphere/AppServer/profiles/Dmgr01", "var/ibm/InstallationManager/installed.xml"):
        assert restored[path] == ctx.original[path]
    assert set(os.listdir(side)) == {ctx.tree.split("/")[1]}
    assert staging_left(side) == []  # nothing was replaced: no empty container is left beside the new trees
    assert not any(e.get("event") == "launch" for e in mockcell.read_log(ctx.mock)[before:])
    assert not any(e["tool"] == "db2" and "restore" in e["argv"] for e in fakedb.read_log(ctx.fake))


# --------------------------------------------------------------------------- version guard (CLI level)


@pytest.mark.parametrize("version, why", [("9.0.0.0_CR1", "later release"), ("7.0.0.0_CR5", "different (earlier)")])
def test_other_release_is_refused_before_any_change(ctx, version, why):
    set_installed_version(ctx, version)
    ctx.original = snapshot(ctx.tree)
    before = ctx.log_length()
    proc = ctx.restore()
    assert proc.returncode == 1
    assert "refused" in proc.stderr and why in proc.stderr and version in proc.stderr
    assert_nothing_changed(ctx, before)


def test_rolling_back_a_failed_upgrade_puts_installation_manager_back_first(ctx):
    """The upgrade moved Installation Manager to 9.0: the whole restore is refused and says how to
    get back; the Installation Manager folders alone restore (the guard's exception), and then
    the deployment reads as the set's release again and the rest restores."""
    set_installed_version(ctx, "9.0.0.0_CR1")
    refused = ctx.restore()
    assert refused.returncode == 1 and "later release" in refused.stderr
    assert "--only im-data im-install im-shared" in refused.stderr and "Rolling back a failed upgrade" in refused.stderr
    im = ctx.restore("--only", "im-data", "im-install", "im-shared")
    assert im.returncode == 0, im.stdout + im.stderr
    installed = open(os.path.join(ctx.tree, "var/ibm/InstallationManager/installed.xml"), encoding="utf-8").read()
    assert "version='8.0.0.0_CR14'" in installed  # IM knows the set's release again
    rest = ctx.restore()
    assert rest.returncode == 0, rest.stdout + rest.stderr


def test_6_0_cr6_counts_as_6_5_and_cr5_does_not(ctx):
    set_installed_version(ctx, "6.5.0.0_CR1")
    ctx.original = snapshot(ctx.tree)
    reseal(ctx.set_dir, lambda m: m["connections"].update(version="6.0.0.0_CR6", release="6.5", cr=6, exact="6.0 CR6"))
    allowed = ctx.restore("--dry-run")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "provision/ SKIPPED" in allowed.stdout  # same release line, not the exact version
    reseal(ctx.set_dir, lambda m: m["connections"].update(version="6.0.0.0_CR5", release="6.0", cr=5, exact="6.0 CR5"))
    before = ctx.log_length()
    refused = ctx.restore()
    assert refused.returncode == 1 and "later release" in refused.stderr and "6.0.0.0_CR5" in refused.stderr
    assert_nothing_changed(ctx, before)


def test_provision_skipped_on_other_interim_fix_then_forced(ctx):
    set_installed_version(ctx, "8.0.0.0_CR14", extra_fix="8.0.0.0-HCL-IC-Multi-IFLO99999")
    provision_file = provision_jar(ctx)
    other = os.path.join(ctx.shared, "profiles/cache/profiles.cache")
    for path in (provision_file, other):
        with open(path, "ab") as handle:
            handle.write(b"changed")
    rel = lambda p: os.path.relpath(p, ctx.tree)  # noqa: E731
    proc = ctx.restore()
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "provision/ SKIPPED" in proc.stdout and "IFLO99999" in proc.stdout and "exact same version" in proc.stdout
    now = snapshot(ctx.tree)
    assert now[rel(other)] == ctx.original[rel(other)]
    assert now[rel(provision_file)] != ctx.original[rel(provision_file)]

    # the restore put installed.xml back too (im-data): apply the newer fix again
    set_installed_version(ctx, "8.0.0.0_CR14", extra_fix="8.0.0.0-HCL-IC-Multi-IFLO99999")
    forced = ctx.restore("--force-provision")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "WARNING: --force-provision" in forced.stdout
    assert snapshot(ctx.tree)[rel(provision_file)] == ctx.original[rel(provision_file)]
    newest = max(ctx.restore_dirs(), key=os.path.getmtime)
    journal = json.load(open(os.path.join(newest, "journal.json")))
    assert journal["forcedProvision"] is True and "IFLO99999" in journal["forcedProvisionReason"]
    assert journal["steps"]["file:shared-provision"]["forced"] is True
    assert "--force-provision" in open(os.path.join(newest, "restore.log")).read()


# --------------------------------------------------------------------------- safety and resume


def _evil_archive(path: str) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in (("./ok.txt", b"fine\n"), ("./../escaped.txt", b"evil\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    subprocess.run(["zstd", "-q", "-f", "-o", path], input=buffer.getvalue(), check=True)


def test_archive_entry_escaping_its_folder_is_refused_before_anything_changes(ctx):
    archive = os.path.join(ctx.set_dir, "archives", "local-data.tar.zst")
    _evil_archive(archive)
    digest = e2e.sha256(archive)
    size = os.path.getsize(archive)

    def point_at_evil(m):
        item = [a for a in m["archives"] if a["name"] == "local-data"][0]
        item.update(sha256=digest, size=size, files=2)
    reseal(ctx.set_dir, point_at_evil)
    assert e2e.cli("verify", ctx.set_dir, "--trusted-keys", e2e.trusted_keys_of(ctx.set_dir)).returncode == 0  # only the content is hostile
    before = ctx.log_length()
    proc = ctx.restore()
    assert proc.returncode == 1
    assert "escaped.txt" in proc.stderr and "'..'" in proc.stderr and "nothing was stopped or changed" in proc.stderr
    assert not os.path.exists(os.path.join(ctx.cnx, "data", "escaped.txt"))
    assert_nothing_changed(ctx, before)


def test_failed_restore_resumes_without_redoing_finished_steps(ctx):
    # an application reconnects to FILES right after it is deactivated: its restore fails (SQL1035N)
    # after the files were put back; the images were all there, so the checks before the stop passed
    fakedb.set_database(ctx.fake, "FILES", in_use=True, reconnects=True)
    shared_file = os.path.join(ctx.shared, "profiles/cache/profiles.cache")
    with open(shared_file, "ab") as handle:
        handle.write(b"changed")
    first = ctx.restore()
    assert first.returncode == 1 and "FILES" in first.stdout and "--resume" in first.stdout
    [restore_dir] = ctx.restore_dirs()
    journal = json.load(open(os.path.join(restore_dir, "journal.json")))
    assert journal["steps"]["db:FILES"]["status"] == "failed"
    assert journal["steps"]["file:dmgr-profile"]["status"] == "done"
    dmgr = os.path.join(ctx.tree, "opt/IBM/WebSphere/AppServer/profiles/Dmgr01")
    inode = os.stat(dmgr).st_ino
    done_dbs = [n[3:] for n, s in journal["steps"].items() if n.startswith("db:") and s["status"] == "done"]

    fakedb.set_database(ctx.fake, "FILES", in_use=False, reconnects=False)
    second = ctx.restore("--resume")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "[file:dmgr-profile] done by the interrupted run, skipped" in second.stdout
    assert os.stat(dmgr).st_ino == inode
    assert snapshot(ctx.tree) == ctx.original
    restores = [e["argv"] for e in fakedb.read_log(ctx.fake) if e["tool"] == "db2" and "restore" in e["argv"]]
    for name in done_dbs:  # the journal is root's own: a database it says is restored is not restored again
        assert sum(1 for argv in restores if name in argv) == 1, name
    assert sum(1 for argv in restores if "FILES" in argv) >= 2
    journal = json.load(open(os.path.join(restore_dir, "journal.json")))
    assert journal["status"] == "complete"
    assert len(os.listdir(ctx.set_dir)) == len(os.listdir(os.path.join(ctx.pristine, "backups",
                                                                         os.path.basename(ctx.set_dir))))


# --------------------------------------------------------------------------- kill -9 mid-swap


def _stop_mid_swap(proc: subprocess.Popen, ctx, moves_at_least: int) -> dict:
    """Watch the restore's journal; once it has carried the shared data's container into the new
    connections_root (the instant a resume must not look for that container at its own place) and
    recorded ``moves_at_least`` moves of the swap, freeze the process (SIGSTOP) and return the
    journal as it is on disk then."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        for folder in ctx.restore_dirs():
            try:
                journal = json.load(open(os.path.join(folder, "journal.json")))
            except (OSError, ValueError):
                continue
            moves = journal.get("moves") or {}
            swap_moves = [k for k in moves if not k.startswith("container:")]
            inner_carried = any(k.startswith(f"carry:{ctx.cnx}:data/shared.cnxrestore-") and m.get("state") == "done"
                                for k, m in moves.items())
            if len(swap_moves) >= moves_at_least and inner_carried:
                os.kill(proc.pid, 19)  # SIGSTOP: the state on disk stays as read
                return json.load(open(os.path.join(folder, "journal.json")))
        time.sleep(0.002)
    raise AssertionError("the restore ended before its swap was caught: " + (proc.communicate()[0] or ""))


def test_a_restore_killed_mid_swap_resumes_to_the_backup_and_loses_nothing(ctx):
    """Issue 26: SIGKILL of a real ``cnxbackup restore`` while it swaps the trees in, then
    ``--resume``: the deployment equals the backup, every replaced tree is kept."""
    shared_file = next(os.path.join(f, n) for f, _, ns in os.walk(ctx.shared) for n in sorted(ns)
                       if os.path.isfile(os.path.join(f, n)) and not os.path.islink(os.path.join(f, n)))
    with open(shared_file, "ab") as handle:
        handle.write(b"after the backup")
    for attempt, threshold in enumerate((4, 2, 8)):
        if attempt:
            ctx.reset()
            with open(shared_file, "ab") as handle:
                handle.write(b"after the backup")
        # the nested items only (connections_root, the shared data in it, provision in that, the local
        # data): every kind of move, without the databases and the role import of a full restore
        proc = subprocess.Popen(e2e.cli_argv("--plain", "restore", ctx.set_dir, "--env", ctx.env_file, "--yes", "--only",
                                             "connections-root", "shared-data", "shared-provision", "local-data"),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                                env=e2e.cli_env())
        journal = _stop_mid_swap(proc, ctx, threshold)
        files = {sid: step["status"] for sid, step in journal["steps"].items() if sid.startswith("file:")}
        mid_swap = "done" not in files.values() or any(s != "done" for s in files.values())
        os.killpg(proc.pid, 9)
        proc.communicate()
        if mid_swap and files:
            print(f"killed at attempt {attempt + 1}: {len(journal['moves'])} moves recorded, file steps {files}")
            break
    else:
        pytest.fail("three attempts and never caught mid-swap")
    moves = journal["moves"]
    assert any(m["state"] == "done" for m in moves.values())
    assert snapshot(ctx.tree) != ctx.original  # killed: not the backup yet

    resumed = ctx.restore("--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert snapshot(ctx.tree) == ctx.original
    [folder] = ctx.restore_dirs()
    final = json.load(open(os.path.join(folder, "journal.json")))
    assert final["status"] == "complete"
    for path in final["replaced"]:  # each replaced tree is kept, in its root-only container
        assert os.path.lexists(path) and stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700, path
    [shared_kept] = [p for p in final["replaced"] if os.path.dirname(p).startswith(ctx.shared + REPLACED)]
    kept = os.path.join(shared_kept, os.path.relpath(shared_file, ctx.shared))
    assert open(kept, "rb").read().endswith(b"after the backup")  # the live change, kept aside
