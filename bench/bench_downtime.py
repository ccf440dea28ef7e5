#!/usr/bin/env python3
"""Benchmark: the outage of a two-phase backup against a full one, and databases beside files.

The deployment is the small demo plus one extra folder, a copy of the archive bench's tree
(>= 1 GB, >= 20,000 files). Fake DB2 databases stand in for a remote DB host: they wait (a
sleep per tool call) rather than compete for this machine's CPU and disk, and their backups
take about 15 % of the folder's full archive time (measured first). Between phase 1 and the
stop, ``tarhook`` changes 5 % of the folder's files (modified, added, deleted, renamed).

Side by side, in alternating runs (the median of at least 5):
- ``downtime_two_phase_vs_full``: the manifest's ``downtimeSeconds`` (from the stop to the end of
  the backup), two-phase over full, both with the databases beside the files;
- ``db_files_overlap``: the outage of the two-phase run over the longer of its two parts run
  alone (the level-1 archives of a run without databases; the databases through ``backup_all``).
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

HERE = Path(__file__).resolve().parent
for extra in (HERE.parent / "driver", HERE.parent / "tests", HERE):
    sys.path.insert(0, str(extra))

import bench_archive  # noqa: E402
import e2e  # noqa: E402
import tarhook  # noqa: E402
from cnxbackup.databases import backup_all, targets_from_settings  # noqa: E402
from cnxbackup.databases.settings import hook_settings  # noqa: E402
from cnxbackup.demo import fakedb  # noqa: E402

MAX_DOWNTIME_RATIO = 0.25
MAX_OVERLAP = 1.15
DATABASES = ["HOMEPAGE", "BLOGS", "FILES", "WIKIS"]
DB_SHARE = 0.15

CHANGE_5_PERCENT = r'''
import os, sys
root = sys.argv[1]
files = sorted(os.path.join(folder, name) for folder, _, names in os.walk(root) for name in names)
quarter = max(1, len(files) // 80)   # 4 x 1.25 % = 5 %
for path in files[0:quarter]:                                 # modified (same size, new content)
    size = os.path.getsize(path)
    with open(path, "r+b") as handle:
        handle.write(os.urandom(min(size, 4096)))
for path in files[quarter:2 * quarter]:                       # deleted
    os.unlink(path)
for path in files[2 * quarter:3 * quarter]:                   # renamed
    os.rename(path, path + ".renamed")
for index, path in enumerate(files[3 * quarter:4 * quarter]):  # added, beside an existing one
    with open(path + ".added", "wb") as handle:
        handle.write(os.urandom(min(os.path.getsize(path), 65536)))
'''


def _database_section() -> str:
    return ("database:\n  vendor: db2\n  backup_dir: \"{demo_root}/db2-backups\"\n  concurrency: 4\n"
            f"  databases: [{', '.join(DATABASES)}]\n"
            "  command:\n    db2: \"{demo_kit}/fakes/db2\"\n    db2ckbkp: \"{demo_kit}/fakes/db2ckbkp\"\n")


def _run(base: Path, tree: Path, name: str, mode: str, delay: float, with_databases: bool) -> Dict[str, float]:
    """One backup of the demo and a fresh copy of the bench tree; its outage and the folder's times."""
    work = base / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    folder = work / "bench-tree"
    subprocess.run(["cp", "-al", str(tree), str(folder)], check=True)  # hard links: changes replace files
    database = _database_section() if with_databases else "database:\n  vendor: none\n"
    env_file = e2e.write_env(str(work), database=database)
    text = Path(env_file).read_text().replace(
        "paths:\n", f'paths:\n  extra:\n    - name: bench\n      path: "{folder}"\n', 1)
    Path(env_file).write_text(text + f"archive:\n  mode: {mode}\n")
    run_env = tarhook.install(str(work / "bin"), str(work / "tar-log.jsonl"), str(folder),
                              mutate=CHANGE_5_PERCENT if mode == "two-phase" else "")
    if with_databases:
        fake = fakedb.prepare(str(work / "demo" / "fakedb"), "db2", databases=DATABASES, delay_seconds=delay)
        (work / "demo" / "fakedb" / "env.json").write_text(json.dumps(fake))
    proc = e2e.cli("--plain", "backup", "--env", env_file, env=run_env, timeout=3600)
    if proc.returncode not in (0, 3):
        raise RuntimeError(f"{name}: backup failed (exit {proc.returncode}): {proc.stdout[-800:]}{proc.stderr[-400:]}")
    [set_dir] = e2e.sets(str(work / "backups"))
    manifest = e2e.manifest(set_dir)
    bench = next(a for a in manifest["archives"] if a["name"] == "bench")
    figures = {"downtime": float(manifest["downtimeSeconds"]), "archive": float(bench["seconds"]),
               "level1": float((bench.get("level1") or {}).get("seconds") or 0.0)}
    shutil.rmtree(work, ignore_errors=True)
    return figures


def databases_alone(base: Path, delay: float) -> float:
    """Wall time of the same fake databases with nothing beside them."""
    state_dir = base / "db-alone"
    shutil.rmtree(state_dir, ignore_errors=True)
    env = fakedb.prepare(str(state_dir), "db2", DATABASES, delay_seconds=delay)
    settings = hook_settings({"vendor": "db2", "databases": DATABASES, "concurrency": 4, "env": env,
                              "command": {"db2": fakedb.tool_path("db2"), "db2ckbkp": fakedb.tool_path("db2ckbkp")}})
    images = state_dir / "images"
    images.mkdir()
    started = time.monotonic()
    results = backup_all(targets_from_settings(settings, "8.0", ccm=False), settings, str(images), concurrency=4)
    if any(not r.ok for r in results):
        raise RuntimeError("databases alone: a fake backup failed")
    return time.monotonic() - started


def measure(workdir: str, *, total_bytes: int = 1 << 30, files: int = 20000, runs: int = 5) -> Dict[str, float]:
    base = Path(workdir) / "downtime"
    tree = Path(workdir) / "tree"
    bench_archive.ensure_tree(tree, total_bytes, files)
    _run(base, tree, "warm-up", "full", 0.0, with_databases=False)  # the page cache as the timed runs find it
    calibration = _run(base, tree, "calibrate", "full", 0.0, with_databases=False)
    delay = DB_SHARE * calibration["archive"] / 2  # two fake tool calls per database (backup, db2ckbkp)
    alone = databases_alone(base, delay)
    ratios: List[float] = []
    overlaps: List[float] = []
    details: List[Tuple[float, float, float]] = []
    for index in range(runs):
        full = _run(base, tree, f"full-{index}", "full", delay, with_databases=True)
        two = _run(base, tree, f"two-{index}", "two-phase", delay, with_databases=True)
        files_only = _run(base, tree, f"files-{index}", "two-phase", delay, with_databases=False)
        ratios.append(two["downtime"] / full["downtime"])
        overlaps.append(two["downtime"] / max(files_only["downtime"], alone))
        details.append((full["downtime"], two["downtime"], files_only["downtime"]))
    shutil.rmtree(base, ignore_errors=True)
    full_med = statistics.median(d[0] for d in details)
    two_med = statistics.median(d[1] for d in details)
    files_med = statistics.median(d[2] for d in details)
    print(f"downtime: full {full_med:.1f} s, two-phase {two_med:.1f} s (its level 1 alone {files_med:.1f} s, "
          f"databases alone {alone:.1f} s = {alone / calibration['archive']:.0%} of the folder's full archive "
          f"{calibration['archive']:.1f} s); medians of {runs} alternating runs")
    return {"ratio": statistics.median(ratios), "overlap": statistics.median(overlaps)}


if __name__ == "__main__":
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "cnxbackup-bench"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bytes", type=int, default=1 << 30)
    parser.add_argument("--files", type=int, default=20000)
    options = parser.parse_args()
    result = measure(options.workdir, total_bytes=options.bytes, files=options.files, runs=options.runs)
    print(f"downtime_two_phase_vs_full={result['ratio']:.3f}")
    print(f"db_files_overlap={result['overlap']:.3f}")
