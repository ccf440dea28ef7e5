#!/usr/bin/env python3
"""Benchmark: create_archive against a plain ``tar | zstd -T0 -3 > FILE`` on the same tree.

Builds (or reuses) a >= 1 GB, >= 20,000-file tree under --workdir, runs both
pipelines alternately (one warm-up each, then --runs timed runs), prints the
medians and a final ``archive_vs_tar_zstd=<ratio>`` line. Peak RSS of the Python
process doing create_archive is measured in a fresh child process (so the tree
generator's memory does not count). --million adds a 1,000,000-entry tree of
tiny files and reports RSS for create_archive, list_archive and scan_archive (the member gate).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "driver"))

from cnxbackup import archive  # noqa: E402
from cnxbackup.demo import treegen  # noqa: E402


def ensure_tree(path: Path, total_bytes: int, files: int) -> dict:
    marker = path.with_suffix(".json")
    wanted = {"bytes": total_bytes, "files": files, "fraction": 0.5}
    if marker.exists() and path.exists():
        info = json.loads(marker.read_text())
        if info.get("params") == wanted:
            return info
    subprocess.run(["rm", "-rf", str(path)], check=True)
    started = time.monotonic()
    info = treegen.build_bench_tree(str(path), total_bytes=total_bytes, files=files, compressible_fraction=0.5)
    info["params"] = wanted
    print(f"built {path}: {info['files']} files, {info['bytes'] / 1e6:.0f} MB in {time.monotonic() - started:.1f} s")
    marker.write_text(json.dumps(info))
    return info


def ensure_million(path: Path, count: int = 1_000_000) -> None:
    marker = path.with_suffix(".json")
    if marker.exists() and path.exists():
        return
    subprocess.run(["rm", "-rf", str(path)], check=True)
    started = time.monotonic()
    for index in range(count):
        if index % 1000 == 0:
            directory = path / f"{index // 100000:02d}" / f"{(index // 1000) % 100:02d}"
            directory.mkdir(parents=True)
        fd = os.open(directory / f"{index:07d}", os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, b"x" * (index % 64))
        os.close(fd)
    marker.write_text(json.dumps({"files": count}))
    print(f"built {path}: {count} files in {time.monotonic() - started:.1f} s")


def run_baseline(tree: Path, out: Path) -> float:
    started = time.perf_counter()
    # the archiver fsyncs what it writes: the baseline pays for durability too (sync FILE)
    subprocess.run(["bash", "-c", 'tar -cf - -C "$1" . | zstd -T0 -3 -q > "$2" && sync "$2"', "bench", str(tree),
                    str(out)], check=True)
    return time.perf_counter() - started


def run_child(op: str, *args: str) -> dict:
    """Run one operation in a fresh interpreter; returns its JSON report (seconds, maxrss)."""
    out = subprocess.run([sys.executable, __file__, "--child", op, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM (its memory since exec). getrusage's ru_maxrss survives
    execve, so a child forked from a large parent would report the parent's size."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(op: str, args: list) -> None:
    started = time.perf_counter()
    if op == "create":
        result = archive.create_archive(args[0], args[1], level=3, threads=0)
        report = {"files": result.files, "size": result.size, "warnings": len(result.warnings)}
    elif op == "list":
        listed = archive.list_archive(args[0])
        report = {"files": listed.files, "size": listed.size}
    elif op == "validate":
        scanned = archive.scan_archive(args[0], allow_special=True)
        report = {"files": scanned.files}
    else:
        raise SystemExit(f"unknown op {op}")
    report["seconds"] = time.perf_counter() - started
    report["python_maxrss_mb"] = peak_rss_mb()
    report["children_maxrss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(report))


def measure(workdir: str, *, total_bytes: int = 1 << 30, files: int = 20000, runs: int = 5,
            million: bool = False) -> dict:
    """Run the comparison (and optionally the 1M-file check), printing progress; returns the figures.

    Keys: ratio, baseline_seconds, archive_seconds, tree_files, tree_bytes, peak_rss_mb (the Python
    process), children_peak_rss_mb (largest tar/zstd child),
    and with ``million``: million_rss_mb {create, list, validate}, million_seconds {...}.
    """
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    tree = work / "tree"
    info = ensure_tree(tree, total_bytes, files)
    baseline_file, archive_file = work / "baseline.tar.zst", work / "archive.tar.zst"

    run_baseline(tree, baseline_file)  # warm-up (page cache, both pipelines)
    run_child("create", str(tree), str(archive_file))
    base_times, arch_times, rss, child_rss = [], [], [], []
    for run in range(runs):
        base_times.append(run_baseline(tree, baseline_file))
        report = run_child("create", str(tree), str(archive_file))
        arch_times.append(report["seconds"])
        rss.append(report["python_maxrss_mb"])
        child_rss.append(report["children_maxrss_mb"])
        print(f"run {run + 1}: tar|zstd {base_times[-1]:.2f} s   create_archive {arch_times[-1]:.2f} s "
              f"(python maxrss {report['python_maxrss_mb']:.0f} MB, tar/zstd maxrss {report['children_maxrss_mb']:.0f} MB)")
    base, arch = statistics.median(base_times), statistics.median(arch_times)
    mb = info["bytes"] / 1e6
    print(f"tree: {info['files']} files, {mb:.0f} MB; baseline output {baseline_file.stat().st_size / 1e6:.0f} MB, "
          f"archive output {archive_file.stat().st_size / 1e6:.0f} MB")
    print(f"median tar|zstd {base:.2f} s ({mb / base:.0f} MB/s)   create_archive {arch:.2f} s ({mb / arch:.0f} MB/s)")
    print(f"create_archive peak python RSS {max(rss):.0f} MB")
    result = {"ratio": arch / base, "baseline_seconds": base, "archive_seconds": arch, "tree_files": info["files"],
              "tree_bytes": info["bytes"], "peak_rss_mb": max(rss),
              "children_peak_rss_mb": max(child_rss)}

    if million:
        million_tree = work / "million"
        ensure_million(million_tree)
        target = work / "million.tar.zst"
        result["million_rss_mb"], result["million_seconds"] = {}, {}
        for op, args in (("create", [str(million_tree), str(target)]), ("list", [str(target)]),
                         ("validate", [str(target)])):
            report = run_child(op, *args)
            result["million_rss_mb"][op] = report["python_maxrss_mb"]
            result["million_seconds"][op] = report["seconds"]
            print(f"million {op}: {report.get('files', '')} entries in {report['seconds']:.1f} s, "
                  f"python maxrss {report['python_maxrss_mb']:.0f} MB")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="/tmp/cnxbackup-bench")
    parser.add_argument("--bytes", type=int, default=1 << 30)
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--million", action="store_true", help="also measure RSS on 1,000,000 tiny files")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.child:
        child(opts.child[0], opts.child[1:])
        return 0
    result = measure(opts.workdir, total_bytes=opts.bytes, files=opts.files, runs=opts.runs, million=opts.million)
    print(f"archive_vs_tar_zstd={result['ratio']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
