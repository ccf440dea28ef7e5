#!/usr/bin/env python3
"""`make bench`: the performance targets of the driver, each on its own labelled line.

1. wsadmin JVM launches for a demo backup (``launch`` events in the mock's call log; must be 1).
2. Database step wall time, 8 fake DB2 databases (1 s per tool call), concurrency 4 against 1.
3. Archiver peak RSS (and with --million the 1,000,000-file check); must stay < 200 MB.
4. Multi-host figure from bench/bench_multihost.py:multihost_bench() when that file exists.
5. ``restore_vs_zstd_tar=<ratio>`` (bench_restore.measure: signature, one gated read, extraction
   and flush of the staged tree against ``zstd -dc | tar -x && sync -f``; goal <= 1.25).
6. ``downtime_two_phase_vs_full=<ratio>`` and ``db_files_overlap=<ratio>`` (bench_downtime.measure:
   the outage of a two-phase backup over a full one, goal <= 0.25; phase 2 over the longer of its
   parts alone, goal <= 1.15).
7. ``encrypted_archive_vs_plain=<ratio>`` and ``encrypted_scan_vs_plain=<ratio>`` (bench_encrypt.measure:
   archive.encrypt's cost on the bench tree, creating and on the gated read; goal <= 1.25 each).
8. Last line: ``archive_vs_tar_zstd=<ratio>`` (bench_archive.measure; must be <= 1.10).

Exits 1 and names the missed targets when one is missed. The bench tree is cached under --workdir.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for extra in (ROOT / "driver", ROOT / "tests", HERE):
    sys.path.insert(0, str(extra))

import bench_archive  # noqa: E402
import bench_downtime  # noqa: E402
import bench_encrypt  # noqa: E402
import bench_restore  # noqa: E402
import e2e  # noqa: E402
from cnxbackup.databases import backup_all, targets_from_settings  # noqa: E402
from cnxbackup.databases.settings import hook_settings  # noqa: E402
from cnxbackup.demo import fakedb, mockcell  # noqa: E402

MAX_RATIO = 1.10
MAX_RSS_MB = 200.0
DB_NAMES = ["HOMEPAGE", "BLOGS", "FILES", "WIKIS", "FORUM", "OPNACT", "SNCOMM", "PEOPLEDB"]


def demo_launches(workdir: Path) -> int:
    """Run a small demo backup through the CLI and count the wsadmin JVM launches."""
    run_dir = workdir / "demo-run"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    env_file = e2e.write_env(str(run_dir))
    started = time.monotonic()
    proc = e2e.cli("backup", "--env", env_file)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        print(proc.stdout[-2000:] + proc.stderr[-2000:], file=sys.stderr)
        raise SystemExit(f"demo backup failed with exit code {proc.returncode}")
    launches = sum(1 for event in mockcell.read_log(e2e.mock_env(str(run_dir))) if event.get("event") == "launch")
    print(f"wsadmin_jvm_launches={launches} (demo backup, exit 0, {seconds:.1f} s)")
    return launches


def database_step(workdir: Path, count: int = 8, delay: float = 1.0) -> tuple[float, float]:
    """Wall time of backup_all over ``count`` fake DB2 databases at concurrency 4 and 1."""
    times = {}
    for concurrency in (4, 1):
        state_dir = workdir / f"fakedb-c{concurrency}"
        shutil.rmtree(state_dir, ignore_errors=True)
        env = fakedb.prepare(str(state_dir), "db2", DB_NAMES[:count], delay_seconds=delay)
        settings = hook_settings({"vendor": "db2", "databases": DB_NAMES[:count], "concurrency": concurrency,
                                  "env": env, "command": {"db2": fakedb.tool_path("db2"),
                                                          "db2ckbkp": fakedb.tool_path("db2ckbkp")}})
        backup_dir = state_dir / "images"
        backup_dir.mkdir()
        targets = targets_from_settings(settings, "8.0", ccm=False)
        started = time.monotonic()
        results = backup_all(targets, settings, str(backup_dir), concurrency=concurrency)
        times[concurrency] = time.monotonic() - started
        failed = [r.name for r in results if not r.ok]
        if len(results) != count or failed:
            raise SystemExit(f"database bench: backups failed at concurrency {concurrency}: {failed}")
    print(f"db_step_8_databases: concurrency4={times[4]:.2f} s concurrency1={times[1]:.2f} s "
          f"speedup={times[1] / times[4]:.2f}x (fake db2, {delay:.0f} s per tool call, backup + db2ckbkp)")
    return times[4], times[1]


def multihost_line() -> str | None:
    """Print the multi-host figure (bench_multihost.multihost_bench); returns an error text if it broke."""
    path = HERE / "bench_multihost.py"
    if not path.exists():
        print("multihost: not available")
        return None
    try:
        spec = importlib.util.spec_from_file_location("bench_multihost", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        figure = module.multihost_bench()
        if figure:  # it returns its line (older versions printed it themselves)
            print(figure if str(figure).startswith("multihost") else f"multihost: {figure}")
    except Exception as error:  # keep the other figures and the last line
        print(f"multihost: error: {type(error).__name__}: {error}")
        return f"multihost bench failed ({type(error).__name__}: {error})"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "cnxbackup-bench"),
                        help="cache for the bench trees and scratch output (default %(default)s)")
    parser.add_argument("--bytes", type=int, default=1 << 30, help="archive bench tree size (>= 1 GiB for the target)")
    parser.add_argument("--files", type=int, default=20000, help="archive bench tree file count (>= 20,000)")
    parser.add_argument("--runs", type=int, default=5, help="alternating timed runs (median)")
    parser.add_argument("--million", action="store_true", help="also check RSS on 1,000,000 tiny files (slow first time)")
    opts = parser.parse_args()
    workdir = Path(opts.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    missed = []

    launches = demo_launches(workdir)
    if launches != 1:
        missed.append(f"wsadmin JVM launches {launches} != 1")
    database_step(workdir)
    figures = bench_archive.measure(str(workdir), total_bytes=opts.bytes, files=opts.files, runs=opts.runs,
                                    million=opts.million)
    rss = {"create_archive": figures["peak_rss_mb"]}
    for op, value in figures.get("million_rss_mb", {}).items():
        rss[f"million_{op}"] = value
    print("archiver_peak_rss_mb: " + " ".join(f"{k}={v:.0f}" for k, v in rss.items())
          + f" (tar/zstd children max {figures['children_peak_rss_mb']:.0f} MB)"
          + ("" if opts.million else " (1M-file check: run with ARGS=--million)"))
    missed += [f"{k} RSS {v:.0f} MB >= {MAX_RSS_MB:.0f} MB" for k, v in rss.items() if v >= MAX_RSS_MB]
    if opts.bytes < 1 << 30 or opts.files < 20000:
        print("note: tree smaller than the target's 1 GB / 20,000 files; the ratio is indicative only")
    restore = bench_restore.measure(str(workdir), workdir / "archive.tar.zst", runs=opts.runs)
    print(f"restore_vs_zstd_tar={restore['ratio']:.3f}")
    if restore["ratio"] > bench_restore.MAX_RATIO:
        missed.append(f"restore_vs_zstd_tar {restore['ratio']:.3f} > {bench_restore.MAX_RATIO}")
    downtime = bench_downtime.measure(str(workdir), total_bytes=opts.bytes, files=opts.files, runs=opts.runs)
    print(f"downtime_two_phase_vs_full={downtime['ratio']:.3f}")
    print(f"db_files_overlap={downtime['overlap']:.3f}")
    if downtime["ratio"] > bench_downtime.MAX_DOWNTIME_RATIO:
        missed.append(f"downtime_two_phase_vs_full {downtime['ratio']:.3f} > {bench_downtime.MAX_DOWNTIME_RATIO}")
    if downtime["overlap"] > bench_downtime.MAX_OVERLAP:
        missed.append(f"db_files_overlap {downtime['overlap']:.3f} > {bench_downtime.MAX_OVERLAP}")
    encrypted = bench_encrypt.measure(str(workdir), workdir / "tree", runs=opts.runs)
    print(f"encrypted_archive_vs_plain={encrypted['archive']:.3f}")
    print(f"encrypted_scan_vs_plain={encrypted['scan']:.3f}")
    missed += [f"encrypted_{what}_vs_plain {value:.3f} > {bench_encrypt.MAX_RATIO}"
               for what, value in encrypted.items() if value > bench_encrypt.MAX_RATIO]
    multihost_error = multihost_line()
    if multihost_error:
        missed.append(multihost_error)
    if figures["ratio"] > MAX_RATIO:
        missed.append(f"archive_vs_tar_zstd {figures['ratio']:.3f} > {MAX_RATIO}")
    for target in missed:
        print(f"TARGET MISSED: {target}", file=sys.stderr)
    print(f"archive_vs_tar_zstd={figures['ratio']:.3f}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
