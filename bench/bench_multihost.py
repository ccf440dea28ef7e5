"""Multi-host benchmark: backup wall time with 3 node hosts against 1 (real sshd hosts on loopback).

Each node host holds its own WAS profile, local data and Installation Manager directories
(a sample tree per node); the Dmgr host holds the rest and the shared data. Work on
different hosts runs in parallel, so 3 nodes should cost well under 3x one node.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for sub in ("driver", "tests"):
    sys.path.insert(0, os.path.join(ROOT, sub))

import e2e  # noqa: E402
from cnxbackup.demo import sshhosts  # noqa: E402


def _one_run(base: str, nodes: int, scale: float) -> float:
    work = os.path.join(base, f"nodes{nodes}")
    hosts = sshhosts.start_hosts(nodes + 2, os.path.join(work, "ssh"))
    try:
        known = sshhosts.write_known_hosts(hosts, os.path.join(work, "known_hosts"))
        env_file = e2e.write_multihost_env(work, hosts, nodes, str(known), scale=scale)
        e2e.cli("plan", "--env", env_file)  # builds the trees and warms the caches: not timed
        started = time.monotonic()
        proc = e2e.cli("backup", "--env", env_file, timeout=3600)
        elapsed = time.monotonic() - started
        if proc.returncode != 0:
            raise RuntimeError(f"backup with {nodes} node(s) failed: {proc.stderr[-500:]}")
        return elapsed
    finally:
        sshhosts.stop_all(hosts)


def multihost_bench(scale: float = 1.0, workdir: str = "") -> str:
    """Return one line: the wall time of a backup with 3 node hosts against 1."""
    base = workdir or tempfile.mkdtemp(prefix="cnxbench-mh-")
    try:
        one = _one_run(base, 1, scale)
        three = _one_run(base, 3, scale)
    finally:
        if not workdir:
            shutil.rmtree(base, ignore_errors=True)
    return (f"multihost: backup wall time 1 node host {one:.1f}s, 3 node hosts {three:.1f}s "
            f"(ratio {three / one:.2f}; 3.00 would mean no parallelism across hosts)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="sample tree size per host (1.0 = a few hundred MB)")
    parser.add_argument("--workdir", default="")
    options = parser.parse_args()
    print(multihost_bench(options.scale, options.workdir))
