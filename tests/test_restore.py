"""`cnxbackup restore` end to end on the demo deployment (mocked wsadmin, fake DB2).

One backup is shared by the module; every test starts from a pristine copy of the demo
folder and the set (`cp -a` back onto the same absolute paths, which the manifest, the
mock's state and the fake DB's state all record).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import tarfile
import time

import pytest

import e2e
from cnxbackup.demo import fakedb, mockcell
from cnxbackup.manifest import write_manifest_data

REPLACED = ".cnxbackup-replaced-"
STAMP_RE = re.compile(r"\d{8}T\d{6}(?:-\d+)?")


# --------------------------------------------------------------------------- helpers


def provision_jar(ctx) -> str:
    """A file inside the shared data's provision/ folder of the demo tree."""
    return next(os.path.join(folder, name) for folder, _, names in os.walk(os.path.join(ctx.shared, "provision"))
                for name in names if name.endswith(".jar"))


def snapshot(root: str) -> dict:
    """path -> (type, mode, size, sha256, link target, hardlink group); moved-aside copies ignored."""
    out = {}
    first_path_of_inode = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if REPLACED not in d)
        for name in [""] + dirs + sorted(f for f in files if REPLACED not in f):
            path = os.path.join(folder, name) if name else folder
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            entry = [stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode)]
            if stat.S_ISLNK(st.st_mode):
                entry.append(os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as handle:
                    entry += [st.st_size, hashlib.sha256(handle.read()).hexdigest()]
                if st.st_nlink > 1:
                    entry.append(("hardlink", first_path_of_inode.setdefault(st.st_ino, rel)))
            out[rel] = tuple(entry)
    return out


def role_mappings(state: dict) -> dict:
    keys = ("role", "everyone", "allAuthenticated", "users", "groups")
    return {app["name"]: sorted((tuple(json.dumps(r.get(k), sort_keys=True) for k in keys) for r in app["roles"]))
            for app in state["applications"]}


def app_server_actions(state: dict) -> dict:
    runtime = state.get("runtime", {}).get("servers", {})
    return {f"{s['node']}/{s['name']}": (runtime.get(f"{s['node']}/{s['name']}") or {}).get("action")
            for s in state["servers"] if s.get("type") == "APPLICATION_SERVER"}


def calls(log: list, method: str) -> list:
    return [e for e in log if e.get("event") == "call" and e.get("method") == method]


def set_installed_version(ctx: "Ctx", version: str, extra_fix: str = "") -> None:
    path = os.path.join(ctx.tree, "var/ibm/InstallationManager/installed.xml")
    text = open(path, encoding="utf-8").read()
    text, count = re.subn(r"(id='com\.ibm\.connections'[^>]*version=')[^']*'", rf"\g<1>{version}'", text)
    assert count == 1
    if extra_fix:
        text = text.replace("</location>\n</installInfo>",
                            f"  <fix id='{extra_fix}' offering='com.ibm.connections' version='1.0.0'/>\n"
                            "  </location>\n</installInfo>")
        assert extra_fix in text
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def reseal(set_dir: str, change) -> None:
    data = e2e.manifest(set_dir)
    change(data)
    write_manifest_data(set_dir, data)


class Ctx:
    def __init__(self, base: str, pristine: str) -> None:
        self.base = base
        self.pristine = pristine
        self.env_file = os.path.join(base, "demo.yaml")
        self.tree = os.path.join(base, "demo", "tree")
        [self.set_dir] = e2e.sets(os.path.join(base, "backups"))
        self.mock = e2e.mock_env(base)
        self.fake = e2e.fakedb_env(base)
        self.cnx = os.path.join(self.tree, "opt/IBM/Connections")
        self.shared = os.path.join(self.cnx, "data/shared")

    def reset(self) -> None:
        for name in ("demo", "backups"):
            shutil.rmtree(os.path.join(self.base, name), ignore_errors=True)
            subprocess.run(["cp", "-a", os.path.join(self.pristine, name), os.path.join(self.base, name)], check=True)
        self.original = snapshot(self.tree)

    def restore(self, *args: str) -> subprocess.CompletedProcess:
        return e2e.cli("--plain", "restore", self.set_dir, "--env", self.env_file, *args)

    def log_length(self) -> int:
        return len(mockcell.read_log(self.mock))


@pytest.fixture(scope="module")
def shared_backup(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("restore"))
    e2e.backup_demo(base)
    pristine = base + ".pristine"
    os.makedirs(pristine)
    for name in ("demo", "backups"):
        subprocess.run(["cp", "-a", os.path.join(base, name), os.path.join(pristine, name)], check=True)
    return base, pristine


@pytest.fixture
def ctx(shared_backup):
    context = Ctx(*shared_backup)
    context.reset()
    return context


def assert_nothing_changed(ctx: Ctx, log_before: int) -> None:
    assert snapshot(ctx.tree) == ctx.original
    new = mockcell.read_log(ctx.mock)[log_before:]
    assert not calls(new, "stopServer") and not any(e.get("event") == "launch" for e in new)
    assert not [n for n in os.listdir(ctx.set_dir) if n.startswith("restore-")]


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
    assert set(app_server_actions(after).values()) == {"start"}
    log = mockcell.read_log(ctx.mock)
    assert calls(log, "edit") and max(i for i, e in enumerate(log) if e in calls(log, "edit")) < \
        max(i for i, e in enumerate(log) if e.get("method") in ("startServer", "invoke"))
    # DB2 restore of every database from its recorded timestamp
    restores = [" ".join(e["argv"]) for e in fakedb.read_log(ctx.fake) if e["tool"] == "db2"]
    for db in manifest["databases"]:
        wanted = f"restore database {db['name']} from {db['location']} taken at {db['timestamp']}"
        assert any(wanted in line for line in restores), (wanted, restores[:3])
    # what was replaced is kept beside, with the damage in it
    stamp_dirs = [n for n in os.listdir(ctx.set_dir) if n.startswith("restore-")]
    assert len(stamp_dirs) == 1
    journal = json.load(open(os.path.join(ctx.set_dir, stamp_dirs[0], "journal.json")))
    assert journal["status"] == "complete" and journal["replaced"]
    assert all(os.path.lexists(p) and REPLACED in p for p in journal["replaced"])
    kept_root = [p for p in journal["replaced"] if p.endswith(os.path.basename(ctx.cnx) + REPLACED + journal["stamp"])]
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
    proc = ctx.restore("--dry-run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    printed = [line[5:] for line in proc.stdout.splitlines() if line.startswith("     ")]
    runbook = _runbook_commands(ctx.set_dir)
    assert len(runbook) > 40
    assert [_normalise(c) for c in printed] == [_normalise(c) for c in runbook]
    assert any("taken at" in c for c in printed)
    assert_nothing_changed(ctx, before)
    assert len(fakedb.read_log(ctx.fake)) == fakedb_before


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


def test_target_root_restores_files_only_under_it(ctx):
    changed = os.path.join(ctx.shared, "profiles/cache/profiles.cache")
    with open(changed, "ab") as handle:
        handle.write(b"live change")
    live = snapshot(ctx.tree)
    before = ctx.log_length()
    side = os.path.join(ctx.base, "side")
    proc = ctx.restore("--target-root", side)
    assert proc.returncode in (0, 3), proc.stdout + proc.stderr
    assert snapshot(ctx.tree) == live
    restored = snapshot(side + ctx.tree)
    for path in ("opt/IBM/Connections/data/shared/profiles/cache/profiles.cache",
                 "opt/IBM/WebSphere/AppServer/profiles/Dmgr01", "var/ibm/InstallationManager/installed.xml"):
        assert restored[path] == ctx.original[path]
    assert set(os.listdir(side)) == {ctx.tree.split("/")[1]}
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
    newest = sorted(n for n in os.listdir(ctx.set_dir) if n.startswith("restore-"))[-1]
    journal = json.load(open(os.path.join(ctx.set_dir, newest, "journal.json")))
    assert journal["forcedProvision"] is True and "IFLO99999" in journal["forcedProvisionReason"]
    assert journal["steps"]["file:shared-provision"]["forced"] is True
    assert "--force-provision" in open(os.path.join(ctx.set_dir, newest, "restore.log")).read()


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
    assert e2e.cli("verify", ctx.set_dir).returncode == 0  # the manifest is consistent: only the content is hostile
    before = ctx.log_length()
    proc = ctx.restore()
    assert proc.returncode == 1
    assert "escaped.txt" in proc.stderr and "'..'" in proc.stderr and "nothing was stopped or changed" in proc.stderr
    assert not os.path.exists(os.path.join(ctx.cnx, "data", "escaped.txt"))
    assert_nothing_changed(ctx, before)


def test_failed_restore_resumes_without_redoing_finished_steps(ctx):
    manifest = e2e.manifest(ctx.set_dir)
    victim = [d for d in manifest["databases"] if d["name"] == "FILES"][0]
    image = victim["images"][0]["path"]
    away = os.path.join(ctx.base, "image-away")
    os.rename(image, away)
    shared_file = os.path.join(ctx.shared, "profiles/cache/profiles.cache")
    with open(shared_file, "ab") as handle:
        handle.write(b"changed")
    first = ctx.restore()
    assert first.returncode == 1 and "FILES" in first.stdout and "--resume" in first.stdout
    [restore_dir] = [os.path.join(ctx.set_dir, n) for n in os.listdir(ctx.set_dir) if n.startswith("restore-")]
    journal = json.load(open(os.path.join(restore_dir, "journal.json")))
    assert journal["steps"]["db:FILES"]["status"] == "failed"
    assert journal["steps"]["file:dmgr-profile"]["status"] == "done"
    dmgr = os.path.join(ctx.tree, "opt/IBM/WebSphere/AppServer/profiles/Dmgr01")
    inode = os.stat(dmgr).st_ino
    done_dbs = [n[3:] for n, s in journal["steps"].items() if n.startswith("db:") and s["status"] == "done"]

    os.rename(away, image)
    second = ctx.restore("--resume")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "[file:dmgr-profile] already done" in second.stdout and "[stop] already done" in second.stdout
    assert os.stat(dmgr).st_ino == inode
    assert snapshot(ctx.tree) == ctx.original
    restores = [e["argv"] for e in fakedb.read_log(ctx.fake) if e["tool"] == "db2" and "restore" in e["argv"]]
    for name in done_dbs:
        assert sum(1 for argv in restores if name in argv) == 1, name
    assert sum(1 for argv in restores if "FILES" in argv) >= 2
    journal = json.load(open(os.path.join(restore_dir, "journal.json")))
    assert journal["status"] == "complete"
    assert len(os.listdir(ctx.set_dir)) == len(os.listdir(os.path.join(ctx.pristine, "backups",
                                                                         os.path.basename(ctx.set_dir)))) + 1
