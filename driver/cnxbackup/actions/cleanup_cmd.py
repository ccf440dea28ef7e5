"""``cnxbackup cleanup``: remove a restore's leftovers (and only those) after asking."""
from __future__ import annotations

import argparse
import shlex
import sys

from ..config import Environment
from ..errors import EXIT_FAILED, EXIT_OK, CnxBackupError
from ..hosts import Host, hosts_of
from ..plan import build_plan
from ..progress import Progress, human_bytes
from ..transport import make_transport
from .restore.leftovers import describe, find_leftovers


def run_cleanup(args: argparse.Namespace, env: Environment, progress: Progress) -> int:
    """``cnxbackup cleanup --env ENV [--yes]``: remove the leftovers, and only those."""
    plan = build_plan(env)
    hosts = hosts_of(env)
    transport = make_transport(env)
    try:
        leftovers = find_leftovers(plan.items, hosts, transport)
        progress.outcome.details["leftovers"] = [{"host": lo.host, "path": lo.path, "bytes": lo.size, "removed": False}
                                                 for lo in leftovers]
        progress.outcome.bytes = sum(lo.size for lo in leftovers)
        if not leftovers:
            progress.message(f"no restore leftovers under the sources of {env.name}")
            return EXIT_OK
        total = sum(lo.size for lo in leftovers)
        progress.message(f"{len(leftovers)} restore leftover(s), {human_bytes(total)}:\n  "
                         + "\n  ".join(describe(leftovers)))
        if not args.yes:
            if not sys.stdin.isatty():
                raise CnxBackupError("cleanup needs a terminal to confirm, or --yes")
            answer = input(f"remove these {len(leftovers)} folder(s)? [y/N] ").strip().lower()
            if answer not in ("y", "yes"):
                progress.message("nothing removed")
                return EXIT_OK
        failed = 0
        for lo, entry in zip(leftovers, progress.outcome.details["leftovers"]):
            host = hosts.get(lo.host) or Host("local", "local")
            proc = transport.run(host, f"rm -rf -- {shlex.quote(lo.path)}", timeout=36000)
            if proc.returncode != 0:
                failed += 1
                progress.failed(f"could not remove {lo.path}: {proc.stderr.strip()[-200:]}")
            else:
                entry["removed"] = True
                progress.message(f"removed {lo.path} ({human_bytes(lo.size)})")
        return EXIT_FAILED if failed else EXIT_OK
    finally:
        transport.close()
