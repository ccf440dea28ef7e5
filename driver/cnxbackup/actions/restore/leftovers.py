"""A restore's leftovers: the moved-aside copies and staging folders it leaves beside each item.

Found only in their fixed forms at each item's configured source (``<source>.cnxbackup-
replaced-<stamp>``, ``<source>/cnxbackup-replaced-<stamp>``, ``<source>.cnxrestore-new``,
``<source>/cnxrestore-new``, and the containers ``<source>.cnxrestore-<stamp>``,
``<source>/cnxrestore-<stamp>``), computed from the environment, never read from a set and never
by a looser glob. ``plan`` lists them (backups exclude them); ``cnxbackup cleanup`` removes
them after a prompt. Nothing is walked through a link: a leftover that is a link, or an inside form
whose source folder is one (a profile folder replaced by a link), is named and left alone, and the
removal runs from inside the very folder the listing saw (``remove_command``).
"""
from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from typing import Dict, List, Optional

from ...hosts import Host
from ...paths import CONTAINER_SUFFIX, REPLACED_SUFFIX, is_leftover_of
from ...plan import Item
from ...progress import human_bytes
from ...transport import HostUnreachable, Transport

# one line per existing candidate: "<KiB>\t<dev:ino of the folder holding it>\t<path>" (du -sk, which
# does not follow a link given to it), the names globbed by the shell; a candidate that is a link, or
# one whose holding folder is a link (a profile folder replaced by one), is "LINK\t\t<path>": named,
# never walked. The holder's type and identity come from ONE stat that does not follow links, so
# what is recorded is always a real folder's own dev:ino, never a link target's: a folder swapped
# for a link at any moment is either seen as the link (LINK) or recorded as itself, and the removal's
# check after `cd -P` (which would land in the target) then fails. LC_ALL=C: %F is translated.
_FIND = ('for p in {src}{replaced}-* {src}/{replaced_in}-* {src}{staging}* {src}/{staging_in}*; do '
         '[ -e "$p" ] || [ -L "$p" ] || continue; d=$(dirname -- "$p"); '
         'if [ -L "$p" ]; then printf "LINK\\t\\t%s\\n" "$p"; continue; fi; '
         'h=$(LC_ALL=C stat -c %F:%d:%i -- "$d" 2>/dev/null) || continue; '
         'case $h in directory:*) h=${{h#directory:}} ;; *) printf "LINK\\t\\t%s\\n" "$p"; continue ;; esac; '
         'k=$(du -sk -- "$p" 2>/dev/null | cut -f1); printf "%s\\t%s\\t%s\\n" "${{k:-0}}" "$h" "$p"; done')

# the removal, from inside the folder that holds the leftover (the shell's working folder is held,
# not looked up again): refused when that folder is no longer the one the listing saw (a link or
# another folder put there since: `cd -P` lands in its target, whose dev:ino is not the recorded
# folder's own), and when the leftover itself became a link
_REMOVE = ('cd -P -- {parent} && [ "$(stat -c %d:%i .)" = {holder} ] && [ ! -L {name} ] && rm -rf -- {name} '
           '|| {{ echo "cnxbackup: changed since it was listed (a link or another folder there): left alone" >&2; exit 1; }}')


@dataclass(frozen=True)
class Leftover:
    host: str
    item: str
    path: str
    size: int  # bytes (du)
    holder: str = ""  # dev:ino of the folder holding it when it was listed
    link: bool = False  # a link, or inside a source that is a link: named, never removed nor walked


def _find_command(source: str) -> str:
    src = shlex.quote(source.rstrip("/"))
    return _FIND.format(src=src, replaced=REPLACED_SUFFIX, replaced_in=REPLACED_SUFFIX.lstrip("."),
                        staging=CONTAINER_SUFFIX, staging_in=CONTAINER_SUFFIX.lstrip("."))


def remove_command(leftover: Leftover) -> str:
    """The shell line that removes ``leftover`` from inside the folder the listing saw, or refuses."""
    parent, name = os.path.split(leftover.path.rstrip("/"))
    return _REMOVE.format(parent=shlex.quote(parent), holder=shlex.quote(leftover.holder),
                          name=shlex.quote("./" + name))


def _parse(line: str, item: Item, seen: set) -> Optional[Leftover]:
    size, _, rest = line.partition("\t")
    holder, _, path = rest.partition("\t")
    if not is_leftover_of(path, item.source) or (item.host, path) in seen:
        return None
    if size == "LINK":
        return Leftover(item.host, item.name, path, 0, link=True)
    if not size.isdigit() or not re.fullmatch(r"\d+:\d+", holder):
        return None
    return Leftover(item.host, item.name, path, int(size) * 1024, holder)


def find_leftovers(items: List[Item], hosts: Dict[str, Host], transport: Transport) -> List[Leftover]:
    """Every leftover of the items' sources, on their hosts; unreachable hosts are skipped."""
    found: List[Leftover] = []
    seen: set = set()
    for item in items:
        host = hosts.get(item.host) or Host("local", "local")
        try:
            proc = transport.run(host, _find_command(item.source), timeout=3600)
        except HostUnreachable:
            continue
        for line in proc.stdout.splitlines():
            leftover = _parse(line, item, seen)
            if leftover is not None:
                seen.add((item.host, leftover.path))
                found.append(leftover)
    return found


def describe(leftovers: List[Leftover]) -> List[str]:
    return [f"{lo.path}{'' if lo.host == 'local' else ' @' + lo.host} "
            + ("(a symlink, or inside a source that is one: skipped, never followed; look at it by hand)" if lo.link else
               f"({human_bytes(lo.size)}, left by a restore of {lo.item})") for lo in leftovers]
