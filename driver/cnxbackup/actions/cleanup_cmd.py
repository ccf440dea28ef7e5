"""``cnxbackup cleanup``: remove a restore's leftovers, and the database images no set lists
(``sets.orphans``), and only those, after asking.

It holds the environment's run lock (no backup, restore or prune of the environment runs
meanwhile), refuses while a restore of the environment has not finished (its ``--resume`` needs
the moved-aside copies), and never walks through a link (``restore.leftovers``).
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, List

from ..config import Environment
from ..errors import EXIT_FAILED, EXIT_OK, CnxBackupError
from ..hosts import Host, hosts_of
from ..lock import RunLock
from ..plan import build_plan
from ..progress import Progress, human_bytes
from ..transport import Transport, make_transport
from .restore.leftovers import Leftover, describe, find_leftovers, remove_command
from .sets.naming import unfinished_restores_of
from .sets.orphans import OrphanSearch, find_orphan_images, remove_orphan
from .sets.trust import trusted_keys_path


def refuse_while_a_restore_is_unfinished(env: Environment) -> None:
    """CnxBackupError naming every unfinished restore of the environment's sets."""
    unfinished = [path for path, _journal in unfinished_restores_of(env)]
    if unfinished:
        raise CnxBackupError(f"cleanup refused: a restore of {env.name} has not finished ({', '.join(unfinished)}); "
                             "its --resume needs the moved-aside copies: finish it (restore --resume) first")


def remove_leftovers(leftovers: List[Leftover], entries: List[Dict[str, Any]], hosts: Dict[str, Host],
                     transport: Transport, progress: Progress) -> int:
    """Remove each leftover (a link is named and skipped); the number that failed."""
    failed = 0
    for lo, entry in zip(leftovers, entries):
        if lo.link:
            progress.warning(f"skipped {lo.path}: a symlink, or inside a source that is one; never followed")
            continue
        host = hosts.get(lo.host) or Host("local", "local")
        proc = transport.run(host, remove_command(lo), timeout=36000)
        if proc.returncode != 0:
            failed += 1
            progress.failed(f"could not remove {lo.path}: {proc.stderr.strip()[-200:]}")
        else:
            entry["removed"] = True
            progress.message(f"removed {lo.path} ({human_bytes(lo.size)})")
    return failed


def _confirmed(what: str, progress: Progress) -> bool:
    if not sys.stdin.isatty():
        raise CnxBackupError("cleanup needs a terminal to confirm, or --yes")
    answer = input(f"remove these {what}? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        progress.message("nothing removed")
        return False
    return True


def run_cleanup(args: argparse.Namespace, env: Environment, progress: Progress) -> int:
    """``cnxbackup cleanup --env ENV [--yes]``: remove the leftovers, and only those."""
    plan = build_plan(env)
    hosts = hosts_of(env)
    lock = RunLock(env.section("target")["dir"], env.name, "cleanup")
    lock.acquire()
    try:
        refuse_while_a_restore_is_unfinished(env)
        transport = make_transport(env)
        try:
            orphans = find_orphan_images(env, transport, trusted_keys_path(args, env), own_lock=True)
            return _cleanup(args, env, hosts, transport, find_leftovers(plan.items, hosts, transport), orphans,
                            progress)
        finally:
            transport.close()
    finally:
        lock.release()


def remove_orphans(env: Environment, orphans: OrphanSearch, entries: List[Dict[str, Any]], transport: Transport,
                   progress: Progress) -> int:
    """Remove each orphan database image; the number that failed."""
    failed = 0
    for image, entry in zip(orphans.orphans, entries):
        try:
            remove_orphan(env, transport, image)
        except CnxBackupError as error:
            failed += 1
            progress.failed(f"could not remove {error}")
            continue
        entry["removed"] = True
        progress.message(f"removed {image.where} ({human_bytes(image.size)})")
    return failed


def _cleanup(args: argparse.Namespace, env: Environment, hosts: Dict[str, Host], transport: Transport,
             leftovers: List[Leftover], orphans: OrphanSearch, progress: Progress) -> int:
    """Name the leftovers and the orphan images, ask (unless ``--yes``), remove them; the exit code."""
    progress.outcome.details["leftovers"] = [{"host": lo.host, "path": lo.path, "bytes": lo.size, "removed": False,
                                              "skipped": lo.link} for lo in leftovers]
    progress.outcome.details["orphanImages"] = [dict(entry, removed=False) for entry in orphans.as_json()]
    progress.outcome.bytes = sum(lo.size for lo in leftovers) + orphans.size
    for line in orphans.notes():  # the images kept, or why none were searched
        progress.note(line)
    if not leftovers and not orphans.orphans:
        progress.message(f"no restore leftovers under the sources of {env.name}, and no database image that no set lists")
        return EXIT_OK
    what = []
    if leftovers:
        what.append(f"{len(leftovers)} folder(s)")
        progress.message(f"{len(leftovers)} restore leftover(s), {human_bytes(sum(lo.size for lo in leftovers))}:\n  "
                         + "\n  ".join(describe(leftovers)))
    if orphans.orphans:
        what.append(f"{len(orphans.orphans)} database image(s)")
        progress.message(f"{len(orphans.orphans)} database image(s) in {orphans.backup_dir} that no set lists "
                         f"(left by an interrupted or failed backup), {human_bytes(orphans.size)}:\n  "
                         + "\n  ".join(f"{image.where} ({human_bytes(image.size)})" for image in orphans.orphans))
    if not args.yes and not _confirmed(" and ".join(what), progress):
        return EXIT_OK
    failed = remove_leftovers(leftovers, progress.outcome.details["leftovers"], hosts, transport, progress)
    failed += remove_orphans(env, orphans, progress.outcome.details["orphanImages"], transport, progress)
    return EXIT_FAILED if failed else EXIT_OK
