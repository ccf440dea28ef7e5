#!/usr/bin/env python3
"""Restore speed: one gated read per archive, side by side with ``zstd -dc | tar -x && sync -f``.

The restore path measured is what ``cnxbackup restore`` does for one archive before the
stop: the set's signature checked (openssl, over a manifest naming the archive), the archive
read once from inside the set -- hashed, its members checked by the gate, extracted into an
empty staging folder inside root's container -- and the staged tree flushed (``syncfs``). The baseline is the
shortest shell that unpacks the same archive and flushes it. Runs alternate; medians are
compared: ``restore_vs_zstd_tar=<ratio>`` (target <= 1.25).
"""
from __future__ import annotations

import io
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
for extra in (HERE.parent / "driver", HERE):
    sys.path.insert(0, str(extra))

from cnxbackup.actions.restore.moves import Moves  # noqa: E402
from cnxbackup.actions.restore.operations import Container, Extract, LocalRun, MakeContainer  # noqa: E402
from cnxbackup.actions.sets.trust import open_set  # noqa: E402
from cnxbackup.archive import list_archive  # noqa: E402
from cnxbackup.journal import Journal  # noqa: E402
from cnxbackup.manifest import write_manifest_data  # noqa: E402
from cnxbackup.progress import Progress  # noqa: E402
from cnxbackup.signing import ensure_signing_key, fingerprint, public_key_of, sign  # noqa: E402

MAX_RATIO = 1.25


def _set_with(archive: Path, work: Path) -> tuple:
    """A one-archive signed set around ``archive`` (hard-linked in); (set dir, trusted keys, members, sha256)."""
    set_dir = work / "restore-set"
    shutil.rmtree(set_dir, ignore_errors=True)
    (set_dir / "archives").mkdir(parents=True)
    os.link(archive, set_dir / "archives" / "bench.tar.zst")
    listing = list_archive(str(archive))
    key, trusted = work / "keys" / "signing-key.pem", work / "keys" / "trusted-keys"
    ensure_signing_key(str(key), str(trusted))
    data = {"tool": {"name": "cnxbackup", "version": "bench"}, "environment": "bench", "runId": "bench",
            "connections": {"version": "8.0.0.0_CR14"}, "status": "complete",
            "signing": {"keyFingerprint": fingerprint(public_key_of(str(key)))},
            "archives": [{"name": "bench", "kind": "archive", "source": "/bench", "path": "archives/bench.tar.zst",
                          "status": "done", "sha256": listing.sha256, "size": listing.size, "files": listing.files}]}
    write_manifest_data(str(set_dir), data, lambda text: sign(str(key), text))
    return set_dir, trusted, listing.files, listing.sha256


def run_baseline(archive: Path, dest: Path) -> float:
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    os.sync()  # the previous run's writeback must not be counted here
    started = time.perf_counter()
    subprocess.run(f"zstd -dc -q '{archive}' | tar -xf - -C '{dest}' && sync -f '{dest}'", shell=True, check=True)
    return time.perf_counter() - started


def run_restore(set_dir: Path, trusted: Path, dest: Path) -> float:
    """What ``restore`` does before the stop: the root-only container made, the archive staged in it."""
    box = Container(str(dest) + ".cnxrestore-bench", str(dest))
    journal_dir = Path(str(dest) + ".journal")
    for folder in (Path(box.path), journal_dir):
        shutil.rmtree(folder, ignore_errors=True)
    journal_dir.mkdir(mode=0o700)
    os.sync()
    started = time.perf_counter()
    opened = open_set(str(set_dir), str(trusted), trust_unsealed=False)
    record = opened.manifest.archives[0]
    run = LocalRun(Progress(io.StringIO(), plain=True), threading.Event(), "bench", record.sha256,
                   set_dir=str(set_dir), expected_members=record.files, allow_special=True,
                   moves=Moves(Journal.create(str(journal_dir))))
    MakeContainer(box).run_local(run)
    Extract(str(set_dir / record.path), box).run_local(run)
    return time.perf_counter() - started


def measure(workdir: str, archive: Path, runs: int = 3) -> dict:
    work = Path(workdir)
    set_dir, trusted, members, _ = _set_with(archive, work)
    base_dest, ours_dest = work / "restore-baseline", work / "restore-ours"
    run_baseline(archive, base_dest)  # warm-up
    run_restore(set_dir, trusted, ours_dest)
    base_times, ours_times = [], []
    for run in range(runs):
        base_times.append(run_baseline(archive, base_dest))
        ours_times.append(run_restore(set_dir, trusted, ours_dest))
        print(f"restore run {run + 1}: zstd|tar+sync {base_times[-1]:.2f} s   cnxbackup staging {ours_times[-1]:.2f} s")
    base, ours = statistics.median(base_times), statistics.median(ours_times)
    size = archive.stat().st_size / 1e6
    print(f"restore of a {size:.0f} MB archive ({members:,} members): median baseline {base:.2f} s, "
          f"cnxbackup {ours:.2f} s")
    for folder in (base_dest, Path(str(ours_dest) + ".cnxrestore-bench"), Path(str(ours_dest) + ".journal")):
        shutil.rmtree(folder, ignore_errors=True)
    return {"ratio": ours / base, "baseline_seconds": base, "restore_seconds": ours, "members": members}


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive")
    parser.add_argument("--workdir", default="/tmp/cnxbackup-bench")
    parser.add_argument("--runs", type=int, default=3)
    opts = parser.parse_args()
    result = measure(opts.workdir, Path(opts.archive), opts.runs)
    print(f"restore_vs_zstd_tar={result['ratio']:.3f}")
