"""Work on other hosts over ssh: probe sources, stream archives here, copy files both ways.

``tar | zstd`` runs on the host that holds the data; the compressed stream lands in the one
backup set here, hashed as it is written. Nothing is installed on the hosts: they need a
POSIX sh, GNU tar, zstd, find, awk and cat.
"""
from __future__ import annotations

import shlex
import threading
import time
from typing import Any, BinaryIO, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from .archive import (
    ArchiveError,
    ArchiveResult,
    Cipher,
    ListResult,
    attribute_args,
    create_archive_from_stream,
    remote_archive_command,
    stream_archive,
)
from .hosts import Host
from .plan import Item, Plan, source_problem
from .progress import counted
from .transport import HostUnreachable, Transport

_PROBE = r"""src={src}
if [ ! -e "$src" ]; then echo "CNXPROBE missing"; exit 0; fi
if [ ! -r "$src" ]; then echo "CNXPROBE unreadable"; exit 0; fi
if [ -d "$src" ]; then
  cd -- "$src" && find . {prunes} -printf '%s\n' 2>/dev/null | \
    awk '{{n++; b+=512+int(($1+511)/512)*512}} END {{print "CNXPROBE ok", n+0, b+0}}'
else
  echo "CNXPROBE file 1 $(wc -c < "$src")"
fi"""


def probe_command(item: Item, user_excludes: Sequence[str]) -> str:
    """The size probe of an item on its host: what tar would archive, the excluded left out."""
    return _PROBE.format(src=shlex.quote(item.source), prunes=item.excludes(user_excludes).find_prunes())


def remote_free_space(transport: Transport, host: Host, path: str) -> Tuple[str, int]:
    """(mount point, bytes available) of the filesystem that holds ``path`` (or would: its nearest
    existing parent) on ``host``, by POSIX ``df -Pk``; HostUnreachable or ValueError."""
    quoted = shlex.quote(path)
    proc = transport.run(host, f'p={quoted}; while [ ! -e "$p" ]; do p=$(dirname -- "$p"); done; df -Pk -- "$p"')
    lines = proc.stdout.strip().splitlines()
    fields = lines[-1].split() if proc.returncode == 0 and len(lines) >= 2 else []
    if len(fields) < 6 or not fields[3].isdigit():
        raise ValueError(f"df on {host.name} gave no size for {path}: {proc.stdout.strip()[-200:]}")
    return fields[-1], int(fields[3]) * 1024


def probe_remote_items(plan: Plan, transport: Transport, hosts: Dict[str, Host],
                       allow_partial: bool = False) -> List[str]:
    """Check reachability, tools and sources on every remote host; fill the size estimates.

    An unreachable host is a problem (the backup would end partial after the outage), unless
    ``allow_partial``: then its items will fail with the reason, the other hosts carry on
    (``--resume`` finishes them later), and the plan says so.
    """
    problems: List[str] = []
    by_host: Dict[str, List[Item]] = {}
    for item in plan.items:
        if item.host != "local":
            by_host.setdefault(item.host, []).append(item)
    for host_name, items in by_host.items():
        host = hosts[host_name]
        try:
            transport.check(host)
            tools = transport.run(host, "command -v tar && command -v zstd && command -v find && command -v awk")
        except HostUnreachable as error:
            if allow_partial:
                plan.notes.append(f"UNREACHABLE {error}: its {counted(len(items), 'item')} will fail, the other hosts go on "
                                  "(--allow-partial)")
            else:
                problems.append(f"UNREACHABLE {error}: its {counted(len(items), 'item')} would fail and the backup end partial "
                                "(--allow-partial accepts that)")
            continue
        if tools.returncode != 0:
            problems.append(f"host {host_name} ({host.describe()}): tar, zstd, find or awk is missing")
            continue
        for item in list(items):
            try:
                out = transport.run(host, probe_command(item, plan.env.section("archive")["excludes"]),
                                    timeout=3600).stdout
            except HostUnreachable as error:
                problems.append(f"host {host_name}: {error}")
                break
            words = next((line.split() for line in out.splitlines() if line.startswith("CNXPROBE")), ["CNXPROBE", "?"])
            state = words[1]
            if state == "missing" and item.optional:
                plan.items.remove(item)
                plan.notes.append(f"{host_name}:{item.source} does not exist; item {item.name} is skipped")
            elif state in ("missing", "unreadable"):
                problems.append(source_problem(plan.env, item, f"{item.source} on host {host_name} "
                                               f"{'does not exist' if state == 'missing' else 'is not readable'}"))
            elif state in ("ok", "file") and len(words) >= 4:
                item.est_files, item.est_bytes = int(words[2]), int(words[3])
            else:
                problems.append(f"item {item.name}: cannot probe {item.source} on host {host_name}: {out.strip()[-200:]}")
    return problems


def archive_tar_args(item: Item, settings: Dict[str, Any], *, as_root: bool) -> List[str]:
    """tar options of one item's archive, here or on its host: excludes (the user's, nested
    items', a restore's leftovers), the attributes kept, then the user's own tar options."""
    return (item.excludes(settings["excludes"]).tar_args()
            + attribute_args(settings["attributes"], as_root) + list(settings["tar_options"]))


def archive_remote(item: Item, dest: str, transport: Transport, host: Host, settings: Dict[str, Any],
                   progress: Optional[Callable[[int, int], None]], cancel: threading.Event, *,
                   tar_args: Sequence[str], low_priority: bool = False, cipher: Optional[Cipher] = None) -> ArchiveResult:
    """``tar | zstd`` on the item's host, streamed into ``dest`` here (``tar_args``: the item's
    ``archive_tar_args``, and a level's snapshot options)."""
    command = remote_archive_command(item.source, level=settings["level"], threads=settings["threads"],
                                     extra_tar_args=tar_args, low_priority=low_priority)
    try:
        return create_archive_from_stream(transport.argv(host, command), dest, source=f"{host.name}:{item.source}",
                                          progress=progress, cancel=cancel, cipher=cipher)
    except ArchiveError as error:
        failure = transport.explain_failure(host, 255, str(error))
        if failure is not None:
            raise failure from None
        raise


def copy_remote(item: Item, dest: str, transport: Transport, host: Host, cipher: Optional[Cipher] = None) -> ArchiveResult:
    started = time.monotonic()
    copied = transport.get(host, item.source, dest, cipher=cipher)
    return ArchiveResult(path=dest, sha256=copied.sha256, size=copied.size, files=1, source=f"{host.name}:{item.source}",
                         warnings=[], seconds=time.monotonic() - started)


def remote_stat(transport: Transport, host: Host, path: str) -> Dict[str, Any]:
    out = transport.run(host, f"stat -c '%a %u %g' {shlex.quote(path)}").stdout.split()
    if len(out) == 3:
        return {"mode": f"{int(out[0], 8):04o}", "uid": int(out[1]), "gid": int(out[2])}
    return {}


def extract_remote(source: BinaryIO, staging: str, transport: Transport, host: Host, *, expected_sha256: Optional[str],
                   expected_members: Optional[int], allow_special: bool,
                   cancel: Optional[threading.Event] = None, tar_options: Sequence[str] = (),
                   carried_symlinks: Iterable[str] = (), cipher: Optional[Cipher] = None) -> ListResult:
    """Stream an archive of the set, read and gated here (decrypted here with ``cipher``), into
    ``tar -x`` on the host.

    The gate sits here (the host needs no Python), so what crosses the wire is the checked
    tar stream, compressed again (``zstd -1``) for the network; the host unpacks it into the
    staging folder and flushes it (``sync -f``).
    """
    tar = shlex.join(["tar", "-xpf", "-", "--same-owner", *tar_options, "-C", staging])
    remote = (f"mkdir -p {shlex.quote(staging)} && zstd -dc -q | {tar} "
              f"&& sync -f {shlex.quote(staging)}")
    consumer = ["sh", "-c", "zstd -q -1 -T0 -c | " + shlex.join(transport.argv(host, remote))]
    try:
        return stream_archive(source, consumer, allow_special=allow_special, label=f"{host.name}:{staging}",
                              expected_sha256=expected_sha256, expected_members=expected_members, cancel=cancel,
                              carried_symlinks=carried_symlinks, cipher=cipher)
    except ArchiveError as error:
        failure = transport.explain_failure(host, 255, str(error))
        if failure is not None:
            raise failure from None
        raise
