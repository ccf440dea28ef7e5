"""A restore's leftovers: the moved-aside copies and staging folders it leaves beside each item.

Found only in their fixed forms at each item's configured source (``<source>.cnxbackup-
replaced-<stamp>``, ``<source>/cnxbackup-replaced-<stamp>``, ``<source>.cnxrestore-new``,
``<source>/cnxrestore-new``), computed from the environment, never read from a set and never
by a looser glob. ``plan`` lists them (backups exclude them); ``cnxbackup cleanup`` removes
them after a prompt.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Dict, List

from ...hosts import Host
from ...paths import REPLACED_SUFFIX, STAGING_SUFFIX, is_leftover_of
from ...plan import Item
from ...progress import human_bytes
from ...transport import HostUnreachable, Transport

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
