"""A restore's leftovers: the moved-aside copies and staging folders it leaves beside each item.

Found only in their fixed forms at each item's configured source (``<source>.cnxbackup-
replaced-<stamp>``, ``<source>/cnxbackup-replaced-<stamp>``, ``<source>.cnxrestore-new``,
``<source>/cnxrestore-new``), computed from the environment, never read from a set and never
by a looser glob. ``plan`` lists them (backups exclude them); ``cnxbackup cleanup`` removes
them after a prompt.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass
from typing import Dict, List

from ..config import Environment
from ..errors import EXIT_FAILED, EXIT_OK, CnxBackupError
from ..hosts import Host, hosts_of
from ..paths import REPLACED_SUFFIX, STAGING_SUFFIX, is_leftover_of
from ..plan import Item, build_plan
from ..progress import Progress, human_bytes
from ..transport import HostUnreachable, Transport, make_transport

# one line per existing candidate: "<KiB>\t<path>" (du -sk), the names globbed by the shell
_FIND = ('for p in {src}{replaced}-* {src}/{replaced_in}-* {src}{staging} {src}/{staging_in}; do '
         '[ -e "$p" ] || [ -L "$p" ] || continue; du -sk -- "$p" 2>/dev/null || printf "0\\t%s\\n" "$p"; done')


@dataclass(frozen=True)
class Leftover:
    host: str
    item: str
    path: str
    size: int  # bytes (du)


def _find_command(source: str) -> str:
    src = shlex.quote(source.rstrip("/"))
    return _FIND.format(src=src, replaced=REPLACED_SUFFIX, replaced_in=REPLACED_SUFFIX.lstrip("."),
                        staging=STAGING_SUFFIX, staging_in=STAGING_SUFFIX.lstrip("."))


def find_leftovers(items: List[Item], hosts: Dict[str, Host], transport: Transport) -> List[Leftover]:
    """Every leftover of the items' sources, on their hosts; unreachable hosts are skipped."""
    found: List[Leftover] = []
    seen = set()
    for item in items:
        host = hosts.get(item.host) or Host("local", "local")
        try:
            proc = transport.run(host, _find_command(item.source), timeout=3600)
        except HostUnreachable:
            continue
        for line in proc.stdout.splitlines():
            size, _, path = line.partition("\t")
            if not size.isdigit() or not is_leftover_of(path, item.source) or (item.host, path) in seen:
                continue
            seen.add((item.host, path))
            found.append(Leftover(item.host, item.name, path, int(size) * 1024))
    return found


def describe(leftovers: List[Leftover]) -> List[str]:
    return [f"{lo.path}{'' if lo.host == 'local' else ' @' + lo.host} ({human_bytes(lo.size)}, left by a restore of "
            f"{lo.item})" for lo in leftovers]


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
                progress.message(f"FAILED to remove {lo.path}: {proc.stderr.strip()[-200:]}")
            else:
                entry["removed"] = True
                progress.message(f"removed {lo.path} ({human_bytes(lo.size)})")
        return EXIT_FAILED if failed else EXIT_OK
    finally:
        transport.close()
