"""Two-phase backups: level 0 while the servers run, level 1 after the stop, restored as the tree stood at the stop.

A wrapper (``tarhook``) stands in for ``tar`` on PATH: it runs GNU tar itself, logs each level's
start and end, and, right after the level 0 of the test's own tree, changes
that tree in every way a live deployment can (between the phases, before the stop). The tree
is then restored with ``--target-root`` and compared, entry by entry, with the tree as it stood
when the backup ended (the servers stopped, nothing changed it after the stop).
"""
from __future__ import annotations

import json
import os
import stat
import textwrap

import e2e
import tarhook
from cnxbackup.demo import fakedb, mockcell
from e2e import ALL_DB2

MUTATE = r'''
import json, os, shutil, sys, time
root = sys.argv[1]
def j(*parts):
    return os.path.join(root, *parts)
with open(j("docs", "changed.txt"), "w") as handle:          # content
    handle.write("new content, longer than before\n")
with open(j("docs", "new.txt"), "w") as handle:              # a new file
    handle.write("added between the phases\n")
os.makedirs(j("newdir", "deep"))                              # a new folder with a file
with open(j("newdir", "deep", "n.bin"), "wb") as handle:
    handle.write(os.urandom(3000))
os.unlink(j("docs", "deleted.txt"))                          # a deleted file
shutil.rmtree(j("gone"))                                     # a deleted folder, with content
os.rename(j("docs", "old-name.txt"), j("docs", "new-name.txt"))  # a renamed file
os.rename(j("olddir"), j("renamed-dir"))                     # a renamed folder
os.chmod(j("docs", "mode.txt"), 0o600)                       # a mode
os.chmod(j("docs"), 0o750)
os.chown(j("docs", "owner.txt"), 4321, 4321)                 # an owner
os.unlink(j("links", "current"))                             # a symlink retargeted
os.symlink("../docs/new.txt", j("links", "current"))
os.link(j("blobs", "blob.bin"), j("blobs", "blob-hardlink.bin"))  # a hardlink added
os.unlink(j("links", "was-link"))                            # a symlink replaced by a folder
os.mkdir(j("links", "was-link"))
with open(j("links", "was-link", "inside.txt"), "w") as handle:
    handle.write("a folder where a link was\n")
shutil.rmtree(j("was-dir"))                                  # a folder replaced by a file
with open(j("was-dir"), "w") as handle:
    handle.write("a file where a folder was\n")
'''


def _tree(root: str) -> None:
    """The test's own folder: some of everything, one file with an old mtime."""
    for folder in ("docs", "gone/sub", "olddir/inner", "links", "blobs", "was-dir", "keep"):
        os.makedirs(os.path.join(root, folder))
    files = {"docs/changed.txt": "before\n", "docs/deleted.txt": "to be deleted\n", "docs/old-name.txt": "renamed\n",
             "docs/mode.txt": "mode\n", "docs/owner.txt": "owner\n", "gone/sub/x.txt": "x\n",
             "olddir/inner/y.txt": "y\n", "was-dir/z.txt": "z\n", "keep/old.txt": "never changes\n"}
    for rel, text in files.items():
        with open(os.path.join(root, rel), "w") as handle:
            handle.write(text)
    with open(os.path.join(root, "blobs", "blob.bin"), "wb") as handle:
        handle.write(os.urandom(200_000))
    os.utime(os.path.join(root, "keep", "old.txt"), (1_500_000_000, 1_500_000_000))
    os.symlink("../docs/changed.txt", os.path.join(root, "links", "current"))
    os.symlink("../keep", os.path.join(root, "links", "was-link"))


def tree_state(root: str) -> dict:
    """path -> type, mode, owner, mtime (ns), size + SHA-256 or link target; hardlinks as groups."""
    import hashlib
    out, inodes = {}, {}
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in [""] + dirs + sorted(files):
            path = os.path.join(folder, name) if name else folder
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            entry = [stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid]
            if stat.S_ISLNK(st.st_mode):
                entry.append(os.readlink(path))
            else:
                entry.append(st.st_mtime_ns // 1_000_000_000)  # tar keeps whole seconds
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as handle:
                    entry += [st.st_size, hashlib.sha256(handle.read()).hexdigest()]
                inodes.setdefault(st.st_ino, []).append(rel)
            out[rel] = tuple(entry)
    out["<hardlinks>"] = sorted(sorted(group) for group in inodes.values() if len(group) > 1)
    return out


def _setup(tmp: str, *, kill: bool = False, kill_level: int = 1):
    """Environment, wrapper and tree of one test: (env file, tree, run environment, wrapper log)."""
    tree = os.path.join(tmp, "changing")
    _tree(tree)
    env_file = e2e.write_env(tmp)
    text = open(env_file).read().replace("paths:\n", f'paths:\n  extra:\n    - name: changing\n      path: "{tree}"\n', 1)
    open(env_file, "w").write(text)
    log = os.path.join(tmp, "tar-log.jsonl")
    run_env = tarhook.install(os.path.join(tmp, "bin"), log, tree, mutate=MUTATE,
                              kill_marker=os.path.join(tmp, "killed") if kill else "", kill_level=kill_level)
    return env_file, tree, run_env, log


def _restored(tmp: str, env_file: str, set_dir: str, name: str) -> str:
    side = os.path.join(tmp, "side")
    proc = e2e.cli("--plain", "restore", set_dir, "--env", env_file, "--only", name, "--target-root", side)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return side


def _item(manifest: dict, suffix: str) -> dict:
    return next(a for a in manifest["archives"] if a["name"].endswith(suffix))


def test_a_tree_changed_between_the_phases_in_every_way_is_restored_as_it_stood_at_the_stop(tmp_path):
    tmp = str(tmp_path)
    env_file, tree, run_env, _ = _setup(tmp)
    before = tree_state(tree)
    proc = e2e.cli("--plain", "backup", "--env", env_file, env=run_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    at_the_stop = tree_state(tree)
    assert at_the_stop != before  # the tree did change between the phases
    [set_dir] = e2e.sets(os.path.join(tmp, "backups"))
    manifest = e2e.manifest(set_dir)
    assert manifest["format"] == 5 and manifest["archiveMode"] == "two-phase"  # 3 before every file was listed
    item = _item(manifest, "changing")
    assert item["level"] == 0 and item["level1"]["snapshotSha256"] == item["snapshot"]["sha256"]
    assert item["level1"]["files"] > 0 and os.path.isfile(os.path.join(set_dir, item["level1"]["path"]))
    assert isinstance(manifest["downtimeSeconds"], float) and manifest["stoppedAt"] and manifest["finishedAt"]
    assert "downtime" in proc.stdout.strip().splitlines()[-1]

    side = _restored(tmp, env_file, set_dir, item["name"])
    restored = tree_state(side + tree)
    assert restored == at_the_stop, sorted(set(restored.items()) ^ set(at_the_stop.items()), key=str)[:10]

    runbook = open(os.path.join(set_dir, "RESTORE.md")).read().splitlines()
    extracts = [line for line in runbook if line.startswith("zstd -dc") and f"/{item['name']}." in line]
    assert [line.split(" | ")[0].rsplit("/", 1)[1] for line in extracts] == [
        f"{item['name']}.tar.zst", f"{item['name']}.level1.tar.zst"]  # both levels, level 0 first
    assert all("--listed-incremental=/dev/null" in line for line in extracts)
    check = e2e.cli("verify", set_dir, "--deep", "--env", env_file)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"OK  {item['name']} level 1: sha256, size and" in check.stdout


def test_a_kill_during_level_1_then_resume_still_restores_the_tree_at_the_stop(tmp_path):
    """The level 1 that was killed had rewritten its snapshot; the resumed one starts from the set's."""
    tmp = str(tmp_path)
    env_file, tree, run_env, _ = _setup(tmp, kill=True)
    proc = e2e.cli("--plain", "backup", "--env", env_file, env=run_env)
    assert proc.returncode == -9, proc.stdout + proc.stderr
    assert os.path.exists(os.path.join(tmp, "killed"))
    at_the_stop = tree_state(tree)
    [set_dir] = e2e.sets(os.path.join(tmp, "backups"))
    assert not os.path.exists(os.path.join(set_dir, "manifest.json"))
    text = open(env_file).read()
    open(env_file, "w").write(text + "archive:\n  mode: full\n")
    refused = e2e.cli("--plain", "backup", "--env", env_file, "--resume", set_dir, env=run_env)
    assert refused.returncode != 0 and "was begun as two-phase" in refused.stdout + refused.stderr
    open(env_file, "w").write(text)
    resumed = e2e.cli("--plain", "backup", "--env", env_file, "--resume", env=run_env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "already done in this set, verified, skipped" in resumed.stdout  # the level 0s were not taken again
    first_stop = min(_stop_times(tmp))
    assert not [e for e in _tar_log(tmp) if e["level"] == 0 and e["time"] > first_stop]  # no level 0 after the stop
    item = _item(e2e.manifest(set_dir), "changing")
    side = _restored(tmp, env_file, set_dir, item["name"])
    assert tree_state(side + tree) == at_the_stop


def test_a_kill_during_phase_1_stops_nothing_and_the_resume_finishes_every_level_0_before_the_stop(tmp_path):
    tmp = str(tmp_path)
    env_file, tree, run_env, _ = _setup(tmp, kill=True, kill_level=0)
    proc = e2e.cli("--plain", "backup", "--env", env_file, env=run_env)
    assert proc.returncode == -9 and os.path.exists(os.path.join(tmp, "killed")), proc.stdout + proc.stderr
    assert not _stop_times(tmp)  # killed in phase 1: the servers still run
    resumed = e2e.cli("--plain", "backup", "--env", env_file, "--resume", env=run_env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    first_stop = min(_stop_times(tmp))
    level0 = [e for e in _tar_log(tmp) if e["level"] == 0]
    assert level0 and max(e["time"] for e in level0) < first_stop
    [set_dir] = e2e.sets(os.path.join(tmp, "backups"))
    item = _item(e2e.manifest(set_dir), "changing")
    assert tree_state(_restored(tmp, env_file, set_dir, item["name"]) + tree) == tree_state(tree)


def test_the_dry_run_shows_phase_1_before_the_stop_and_level_1_after(tmp_path):
    tmp = str(tmp_path)
    env_file = e2e.write_env(tmp)
    out = e2e.cli("backup", "--env", env_file, "--dry-run").stdout
    lines = out.splitlines()
    phase1 = lines.index("phase 1, the servers still running: a level-0 archive of every folder")
    stop = next(i for i, line in enumerate(lines) if "'stop_servers'" in line)
    level1 = [i for i, line in enumerate(lines) if ".level1.tar.zst" in line]
    export = next(i for i, line in enumerate(lines) if "'export_role_mappings'" in line)
    assert export < phase1 < stop < min(level1)
    assert "nice -n 19" in lines[phase1 + 1] and "--listed-incremental=" in lines[phase1 + 1]


def _stop_times(tmp: str) -> list:
    return [e["time"] for e in mockcell.read_log(e2e.mock_env(tmp)) if e.get("event") == "call" and (
        e["method"] == "stopServer" or (e["method"] == "invoke" and (e.get("args") or [None])[-1] == "stop"))]


def _tar_log(tmp: str) -> list:
    return [json.loads(line) for line in open(os.path.join(tmp, "tar-log.jsonl"))]


def test_the_call_log_shows_level_0_between_the_role_export_and_the_stop_then_level_1_beside_the_databases(tmp_path):
    tmp = str(tmp_path)
    env_file, tree, run_env, tar_log = _setup(tmp)
    fake = fakedb.prepare(os.path.join(tmp, "demo", "fakedb"), "db2", databases=ALL_DB2, delay_seconds=0.5)
    json.dump(fake, open(os.path.join(tmp, "demo", "fakedb", "env.json"), "w"))
    proc = e2e.cli("--plain", "backup", "--env", env_file, env=run_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    calls = mockcell.read_log(e2e.mock_env(tmp))
    views = [e["time"] for e in calls if e.get("event") == "call" and e["method"] == "view"]
    stops = _stop_times(tmp)
    tars = _tar_log(tmp)
    level0 = [e["time"] for e in tars if e["level"] == 0]
    level1 = [(e["source"], e["phase"], e["time"]) for e in tars if e["level"] == 1]
    assert views and stops and level0 and level1
    assert max(views) < min(level0) and max(level0) < min(stops)
    assert min(t for _, _, t in level1) > min(stops)
    backups = [e for e in fakedb.read_log(e2e.fakedb_env(tmp)) if e["tool"] == "db2" and "backup" in " ".join(
        e["argv"]).lower()]
    assert backups and all(e["started"] > min(stops) for e in backups)
    spans = [(e["started"], e["time"]) for e in backups]
    starts = {s: t for s, p, t in level1 if p == "start"}
    ends = {s: t for s, p, t in level1 if p == "end"}
    overlapping = [s for s in starts if any(a < ends[s] and starts[s] < b for a, b in spans)]
    assert overlapping, (spans, starts, ends)
    log_text = open(os.path.join(e2e.sets(os.path.join(tmp, "backups"))[0], "cnxbackup.log")).read()
    for phase in ("phase 1: level-0 archives", "phase 1 ended in", "phase 2: ", "downtime"):
        assert phase in log_text, phase


def test_full_mode_takes_one_archive_per_folder_after_the_stop(tmp_path):
    tmp = str(tmp_path)
    env_file, tree, run_env, tar_log = _setup(tmp)
    open(env_file, "a").write(textwrap.dedent("""\
        archive:
          mode: full
        """))
    proc = e2e.cli("--plain", "backup", "--env", env_file, env=run_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [set_dir] = e2e.sets(os.path.join(tmp, "backups"))
    manifest = e2e.manifest(set_dir)
    assert manifest["format"] == 5 and manifest["archiveMode"] == "full"
    assert not any("level1" in a or "level" in a for a in manifest["archives"])
    assert not os.listdir(os.path.join(set_dir, "snapshots"))
    assert not os.path.exists(tar_log)  # no --listed-incremental anywhere
