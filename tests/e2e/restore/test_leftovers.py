"""What a restore leaves beside the live trees is never archived again, is listed by ``plan``
and is removed by ``cleanup`` -- only it, never a user file with a similar name."""
from __future__ import annotations

import os

import e2e


def archived_bytes(set_dir: str) -> int:
    return sum(a["tarBytes"] for a in e2e.manifest(set_dir)["archives"] if a["kind"] == "archive")


def leftovers_under(root: str) -> list:
    found = []
    for folder, dirs, files in os.walk(root):
        for name in list(dirs) + files:
            if "cnxbackup-replaced-" in name or name.endswith("cnxrestore-new") or "cnxrestore-2" in name:
                found.append(os.path.join(folder, name))
                if name in dirs:
                    dirs.remove(name)
    return sorted(found)


def test_a_backup_after_a_restore_is_the_size_it_was_and_cleanup_removes_only_the_leftovers(ctx) -> None:
    before = archived_bytes(ctx.set_dir)
    restored = ctx.restore()
    assert restored.returncode == 0, restored.stdout + restored.stderr
    moved = leftovers_under(ctx.tree)
    assert moved, "the restore moved the live trees aside"
    decoy = ctx.shared + ".cnxbackup-replaced-notes"  # a user's folder: not one of the fixed forms
    os.makedirs(decoy)
    open(os.path.join(decoy, "keep.txt"), "w").write("mine\n")
    # and a database image an interrupted backup left, which no set lists: plan names it, cleanup removes it
    orphan = os.path.join(ctx.base, "demo", "db2-backups", "HOMEPAGE.0.db2inst1.DBPART000.20200101000000.001")
    open(orphan, "wb").write(b"image")

    plan = e2e.cli("--plain", "plan", "--env", ctx.env_file)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert f"note: 1 database image(s) in {os.path.dirname(orphan)} belong to no set" in plan.stdout, plan.stdout
    assert orphan in plan.stdout
    listed = [line for line in plan.stdout.splitlines() if line.startswith("note: restore leftover ")]
    assert len(listed) == len(moved) and all(any(path in line for line in listed) for path in moved), plan.stdout
    assert not any(decoy in line for line in listed)

    backup = e2e.cli("--plain", "backup", "--env", ctx.env_file)
    assert backup.returncode == 0, backup.stdout + backup.stderr
    newest = e2e.sets(os.path.dirname(ctx.set_dir))[-1]
    after = archived_bytes(newest)
    assert abs(after - before) < before * 0.01 + 65536, (before, after)  # not nearly double

    cleanup = e2e.cli("--plain", "cleanup", "--env", ctx.env_file, "--yes")
    assert cleanup.returncode == 0, cleanup.stdout + cleanup.stderr
    assert [p for p in leftovers_under(ctx.tree) if p != decoy] == []
    assert open(os.path.join(decoy, "keep.txt")).read() == "mine\n"
    assert not os.path.exists(orphan) and f"removed {orphan}" in cleanup.stdout
    again = e2e.cli("--plain", "cleanup", "--env", ctx.env_file, "--yes")
    assert again.returncode == 0 and "no restore leftovers" in again.stdout


def test_cleanup_refuses_while_a_restore_has_not_finished_and_skips_a_linked_profile(ctx) -> None:
    """Issue 26: cleanup holds the lock, refuses beside an unfinished restore (its --resume needs the
    moved-aside copies), and never removes anything inside the target of a link put on an item's path."""
    restore = os.path.join(ctx.base, "demo", "restore-state", os.path.basename(ctx.set_dir), "restore-20990101T000000")
    os.makedirs(restore)
    with open(os.path.join(restore, "journal.json"), "w", encoding="utf-8") as handle:
        handle.write('{"status": "running"}')
    moved = ctx.shared + ".cnxbackup-replaced-20990101T000000"
    os.makedirs(moved)
    refused = e2e.cli("--plain", "cleanup", "--env", ctx.env_file, "--yes")
    assert refused.returncode == 1 and "restore-20990101T000000" in refused.stdout + refused.stderr
    assert os.path.isdir(moved)

    os.rename(restore, os.path.join(os.path.dirname(restore), "finished-elsewhere"))  # no restore pending now
    victim = os.path.join(ctx.base, "victim")
    os.makedirs(os.path.join(victim, "cnxrestore-new"))
    open(os.path.join(victim, "cnxrestore-new", "precious"), "w").write("root's\n")
    os.rename(ctx.shared, ctx.shared + ".real")
    os.symlink(victim, ctx.shared)  # the item's folder replaced by a link to another tree
    cleanup = e2e.cli("--plain", "cleanup", "--env", ctx.env_file, "--yes")
    out = cleanup.stdout + cleanup.stderr
    assert "skipped" in out and os.path.join(ctx.shared, "cnxrestore-new") in out, out
    assert open(os.path.join(victim, "cnxrestore-new", "precious")).read() == "root's\n"
    assert not os.path.exists(moved)  # the real leftover beside it went
