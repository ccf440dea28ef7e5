"""The kill matrix of the swap: a crash at every point, then the resume, never loses live data.

A small deployment with nested items (shared data and local data inside connections_root,
provision inside the shared data, and a copied file) is staged (once, then copied for each
point), then the swap is driven
operation by operation, as ``restore`` runs it, with a simulated crash (``SimulatedCrash``, a
BaseException nothing catches) at the k-th point: before each journal write and before each
rename, so every instant between two durable effects is one point. After the crash:

- nothing is lost: every live file still exists somewhere under the deployment (its place, the
  restored tree, a container's ``replaced`` copy or carried inside a staged tree), found by its
  unique content;
- the resume (a new run over the journal as it was on disk, skipping steps it says are done)
  succeeds, and the deployment then equals the backup for every restored item and the live
  originals for every item not restored; every replaced tree is kept in its container.

Each scenario prints how many points it had.
"""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import threading
from typing import Dict, Sequence, Tuple

import pytest

from cnxbackup.actions.restore import moves as moves_module
from cnxbackup.actions.restore import plan as restore_plan
from cnxbackup.actions.restore.moves import Moves
from cnxbackup.actions.restore.operations import LocalRun
from cnxbackup.actions.restore.records import StepLog
from cnxbackup.archive import create_archive, hash_file
from cnxbackup.journal import Journal
from cnxbackup.manifest import ArchiveRecord
from cnxbackup.progress import Progress

STAMP = "20261207T230000-0f1e2d"

# item -> (where below the deployment root, nested items excluded from its archive)
ITEMS: Dict[str, Tuple[str, Sequence[str]]] = {
    "connections-root": ("CR", ("./data/shared", "./data/local")),
    "shared-data": ("CR/data/shared", ("./provision",)),
    "local-data": ("CR/data/local", ()),
    "provision": ("CR/data/shared/provision", ()),
    "registry": ("registry.xml", ()),
}


class SimulatedCrash(BaseException):
    """kill -9 at this instant: nothing after it runs, nothing catches it."""


def write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def deployment(root: str, era: str) -> None:
    """The deployment at the backup (``era`` 'backup') or as it is live now ('live'): every file's
    content is unique (its era and path), so a file can be found wherever it went."""
    for rel in ("CR/bin/run.sh", "CR/config/app.xml", "CR/data/shared/files/a.doc", "CR/data/shared/wikis/p.txt",
                "CR/data/shared/provision/webresources/w.jar", "CR/data/local/search/index.dat"):
        write(os.path.join(root, rel), f"{era}:{rel}\n")
    write(os.path.join(root, "registry.xml"), f"{era}:registry.xml\n")
    if era == "live":  # what the failed upgrade added here and there
        write(os.path.join(root, "CR/upgrade-only.txt"), "live:CR/upgrade-only.txt\n")
        write(os.path.join(root, "CR/data/shared/files/new.doc"), "live:CR/data/shared/files/new.doc\n")
        os.symlink("files/a.doc", os.path.join(root, "CR/data/shared/latest"))


def files_under(root: str) -> Dict[str, str]:
    """rel path -> content of every regular file under ``root`` (containers included)."""
    found = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, encoding="utf-8") as handle:
                    found[os.path.relpath(path, root)] = handle.read()
    return found


def state(root: str) -> Dict[str, Tuple[str, str]]:
    """The deployment as a user sees it: every path outside the restore's containers."""
    out: Dict[str, Tuple[str, str]] = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if "cnxrestore-" not in d]
        for name in dirs + names:
            if "cnxrestore-" in name:
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                out[rel] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                out[rel] = ("dir", "")
            else:
                with open(path, "rb") as handle:
                    out[rel] = ("file", hashlib.sha256(handle.read()).hexdigest())
    return out


@pytest.fixture(scope="module")
def backup_set(tmp_path_factory):
    """The set: one archive per folder item (nested items excluded), the copied file."""
    base = tmp_path_factory.mktemp("swapset")
    source = str(base / "source")
    deployment(source, "backup")
    set_dir = str(base / "set")
    os.makedirs(os.path.join(set_dir, "archives"))
    records = {}
    for name, (rel, excluded) in ITEMS.items():
        if name == "registry":
            os.makedirs(os.path.join(set_dir, "files"))
            path = os.path.join(set_dir, "files", "registry.xml")
            with open(os.path.join(source, rel), "rb") as src, open(path, "wb") as dst:
                dst.write(src.read())
            digest, size = hash_file(path)
            records[name] = ArchiveRecord(name=name, kind="copy", source="/" + rel, path="files/registry.xml",
                                          status="done", sha256=digest, size=size, mode="0640",
                                          uid=os.getuid(), gid=os.getgid())
            continue
        archive = os.path.join(set_dir, "archives", name + ".tar.zst")
        result = create_archive(os.path.join(source, rel), archive,
                                extra_tar_args=[f"--exclude={e}" for e in excluded])
        records[name] = ArchiveRecord(name=name, kind="archive", source="/" + rel, path=f"archives/{name}.tar.zst",
                                      status="done", sha256=result.sha256, size=result.size, files=result.files,
                                      excluded=list(excluded))
    return set_dir, records, source


def expected_state(tmp: str, source: str, restored: Sequence[str]) -> Dict[str, Tuple[str, str]]:
    """The deployment after a restore of ``restored``: those items from the backup, the rest live."""
    root = os.path.join(tmp, "expected")
    deployment(root, "live")
    for name in sorted(restored, key=lambda n: ITEMS[n][0].count("/")):
        rel, excluded = ITEMS[name]
        dest = os.path.join(root, rel)
        keep = {}
        for nested in excluded:  # nested items stay as they are (restored on their own or live)
            inner = os.path.join(dest, nested[2:])
            if os.path.lexists(inner):
                keep[nested] = os.path.join(tmp, "keep-" + nested.replace("/", "_"))
                os.rename(inner, keep[nested])
        if os.path.isdir(dest) and not os.path.islink(dest):
            shutil.rmtree(dest)
        else:
            os.unlink(dest)
        if os.path.isdir(os.path.join(source, rel)):
            shutil.copytree(os.path.join(source, rel), dest, symlinks=True,
                            ignore=shutil.ignore_patterns(*[e[2:].split("/")[-1] for e in excluded]))
        else:
            shutil.copy2(os.path.join(source, rel), dest)
        for nested, kept in keep.items():
            os.makedirs(os.path.dirname(os.path.join(dest, nested[2:])), exist_ok=True)
            os.rename(kept, os.path.join(dest, nested[2:]))
    return state(root)


class Points:
    """Counts the durable effects of the swap and crashes before the k-th (None: never)."""

    def __init__(self, monkeypatch, crash_at=None) -> None:
        self.count, self.crash_at = 0, crash_at
        real_save, real_rename = Journal.save, moves_module.rename_noreplace
        from cnxbackup.actions.restore import operations as operations_module

        def save(journal: Journal) -> None:
            self.tick()
            real_save(journal)

        def rename(*args) -> None:
            self.tick()
            real_rename(*args)

        monkeypatch.setattr(Journal, "save", save)
        monkeypatch.setattr(moves_module, "rename_noreplace", rename)
        monkeypatch.setattr(operations_module, "rename_noreplace", rename)  # a mount point's entries

    def tick(self) -> None:
        self.count += 1
        if self.crash_at is not None and self.count == self.crash_at:
            raise SimulatedCrash(self.count)


def plan_swap(set_dir: str, records: Dict[str, ArchiveRecord], root: str, restored: Sequence[str]):
    """The stage and swap steps of the restore of ``restored``, as ``restore_steps`` orders them."""
    selected = [records[name] for name in restored]
    dests = {record.name: os.path.join(root, ITEMS[record.name][0]) for record in selected}
    stages, swaps = restore_plan._item_steps(selected, dests, set_dir, None, STAMP, provision_ok=True,
                                             provision_reason="", force_provision=False)
    swaps.sort(key=lambda s: len(os.path.normpath(s.destination or "/").split(os.sep)))
    return stages, swaps


def run_steps(steps, journal: Journal, set_dir: str) -> None:
    """The steps in order, as ``restore`` runs them: a step the journal says is done is skipped."""
    moves, log = Moves(journal), StepLog(journal)
    for step in steps:
        if log.is_finished(step):
            continue
        run = LocalRun(Progress(io.StringIO(), plain=True), threading.Event(), step.label, step.archive.sha256,
                       set_dir=set_dir, expected_members=step.archive.files if step.archive.is_archive else None,
                       moves=moves)
        log.begin(step)
        for op in step.operations:
            op.run_local(run)
        log.done(step)


class Staged:
    """One staging of a scenario, kept as a template: each crash point starts from a copy of it at
    the same paths (the journal's container identities fixed up to the copies), so the matrix
    stages once, not once per point."""

    def __init__(self, work: str, backup_set, restored: Sequence[str]) -> None:
        self.work, self.set_dir = work, backup_set[0]
        root = os.path.join(work, "live")
        deployment(root, "live")
        self.live_files = files_under(root)
        os.makedirs(os.path.join(work, "journal"), mode=0o700)
        journal = Journal.create(os.path.join(work, "journal"), stamp=STAMP)
        stages, self.swaps = plan_swap(self.set_dir, backup_set[1], root, restored)
        run_steps(stages, journal, self.set_dir)
        self.template = work + ".template"
        shutil.copytree(work, self.template, symlinks=True)

    def fresh(self) -> Tuple[str, Journal]:
        """The staged deployment as it was before the swap, and its journal."""
        shutil.rmtree(self.work)
        shutil.copytree(self.template, self.work, symlinks=True)
        journal = Journal.load(os.path.join(self.work, "journal"))
        for key, raw in journal.data["containers"].items():
            info = os.lstat(raw[2])  # the copy's identity, as staging would have recorded it
            journal.data["containers"][key] = [info.st_dev, info.st_ino, raw[2]]
        journal.save()
        return os.path.join(self.work, "live"), journal


def one_crash(staged: Staged, monkeypatch, crash_at=None) -> Tuple[str, int, bool]:
    """The swap from a fresh copy of the staging, a crash at point ``crash_at``, the resume:
    (deployment root, points, crashed)."""
    root, journal = staged.fresh()
    points = Points(monkeypatch, crash_at)
    crashed = False
    try:
        run_steps(staged.swaps, journal, staged.set_dir)
    except SimulatedCrash:
        crashed = True
    monkeypatch.undo()
    contents = set(files_under(root).values())
    lost = sorted(rel for rel, text in staged.live_files.items() if text not in contents)
    assert not lost, f"crash at point {crash_at}: live files gone: {lost}"
    if crashed:
        run_steps(staged.swaps, Journal.load(os.path.join(staged.work, "journal")), staged.set_dir)  # --resume
    return root, points.count, crashed


SCENARIOS = {
    "connections_root alone (shared and local data carried)": ["connections-root"],
    "all nested items and the copied file": ["connections-root", "shared-data", "local-data", "provision", "registry"],
    "shared data and provision": ["shared-data", "provision"],
    "provision alone": ["provision"],
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_a_crash_at_any_point_of_the_swap_then_resume_loses_nothing(tmp_path, backup_set, monkeypatch, scenario) -> None:
    restored = SCENARIOS[scenario]
    expected = expected_state(str(tmp_path / "expected-build"), backup_set[2], restored)
    staged = Staged(str(tmp_path / "work"), backup_set, restored)
    root, total, crashed = one_crash(staged, monkeypatch)
    assert not crashed and state(root) == expected  # the restore without a crash
    assert total > 4
    for point in range(1, total + 1):
        root, _, crashed = one_crash(staged, monkeypatch, point)
        assert crashed, point
        assert state(root) == expected, f"{scenario}: after a crash at point {point} of {total} and the resume"
        replaced = [os.path.join(folder, d) for folder, dirs, files in os.walk(root) for d in dirs + files if d == "replaced"]
        assert len(replaced) == len(restored), point  # every replaced tree is kept, in its container
    print(f"{scenario}: {total} crash points, each resumed to the restored state with nothing lost")


def test_the_swap_with_a_mount_point_survives_a_crash_at_any_point(tmp_path, backup_set, monkeypatch) -> None:
    """Shared data as an NFS mount (its entries moved one by one, inside it), provision inside it."""
    restored = ["shared-data", "provision"]
    expected = expected_state(str(tmp_path / "expected-build"), backup_set[2], restored)
    real_ismount = os.path.ismount
    with monkeypatch.context() as patch:
        patch.setattr(os.path, "ismount", lambda p: p.endswith("/work/live/CR/data/shared") or real_ismount(p))
        staged = Staged(str(tmp_path / "work"), backup_set, restored)
    root, total, _ = one_crash(staged, monkeypatch)
    assert state(root) == expected and os.path.isdir(os.path.join(root, "CR/data/shared", f"cnxrestore-{STAMP}"))
    for point in range(1, total + 1):
        root, _, crashed = one_crash(staged, monkeypatch, point)
        assert crashed and state(root) == expected, point
    print(f"mount point: {total} crash points")


def test_a_resume_refuses_when_something_else_moved_what_the_journal_recorded(tmp_path, backup_set, monkeypatch) -> None:
    """The intent says the live tree was about to move; it is at neither place: the resume names
    both and changes nothing (it never guesses by name)."""
    staged = Staged(str(tmp_path / "work"), backup_set, ["local-data"])
    root, journal = staged.fresh()
    Points(monkeypatch, 3)  # the step begun, the intent of the move aside written, the rename not made
    with pytest.raises(SimulatedCrash):
        run_steps(staged.swaps, journal, staged.set_dir)
    monkeypatch.undo()
    os.rename(os.path.join(root, "CR/data/local"), str(tmp_path / "elsewhere"))
    from cnxbackup.errors import StepFailed

    with pytest.raises(StepFailed, match="neither holds what the journal recorded"):
        run_steps(staged.swaps, Journal.load(os.path.join(staged.work, "journal")), staged.set_dir)
    assert os.listdir(str(tmp_path / "elsewhere")) == ["search"]


def test_what_is_live_at_the_swap_is_what_is_moved_aside(tmp_path, backup_set) -> None:
    """The live folder was replaced by another between the staging and the swap: that one is what
    is live, so that one is kept in the container (found by what is there, not by an earlier look)."""
    staged = Staged(str(tmp_path / "work"), backup_set, ["local-data"])
    root, journal = staged.fresh()
    os.rename(os.path.join(root, "CR/data/local"), str(tmp_path / "local-moved-by-someone"))
    write(os.path.join(root, "CR/data/local/planted"), "planted")  # put there after the staging
    run_steps(staged.swaps, journal, staged.set_dir)  # the planted folder is what is there: moved aside, not lost
    container = os.path.join(root, f"CR/data/local.cnxrestore-{STAMP}")
    assert os.listdir(os.path.join(container, "replaced")) == ["planted"]
    assert files_under(os.path.join(root, "CR/data/local")) == {"search/index.dat": "backup:CR/data/local/search/index.dat\n"}
