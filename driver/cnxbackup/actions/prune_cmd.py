"""``cnxbackup prune``: remove the sets the retention rules let go, under the environment's lock."""
from __future__ import annotations

import argparse
import time
from typing import List

from ..config import Environment
from ..errors import EXIT_FAILED, EXIT_OK, ConfigError
from ..lock import RunLock
from ..progress import Progress
from ..transport import make_transport
from .sets.retention import PruneDecision, decide, finish_cut_prunes, planned_removal, remove_set, scan_sets, set_json
from .sets.trust import trusted_keys_path


def run_prune(args: argparse.Namespace, env: Environment, progress: Progress) -> int:
    if args.keep < 1:
        raise ConfigError("prune: --keep must be 1 or more (the newest complete set is always kept)")
    if args.keep_within is not None and args.keep_within < 0:
        raise ConfigError("prune: --keep-within must be 0 or more days")
    target = env.section("target")["dir"]
    lock = RunLock(target, env.name, "prune")
    lock.acquire()
    transport = make_transport(env)
    try:
        decisions = decide(scan_sets(env, trusted_keys_path(args, env)), args.keep, args.keep_within, time.time())
        results: List[PruneDecision] = []
        failed = False
        for decision in decisions:
            verb = "keep  " if decision.keep else ("would remove" if args.dry_run else "remove")
            progress.message(f"{verb} {decision.entry.name} ({decision.entry.state}): {decision.reason}")
            if decision.keep:
                results.append(decision)
                continue
            # a dry run lists what the real one removes (each image on its host, the snapshot), removing nothing
            done = planned_removal(env, decision) if args.dry_run else remove_set(env, decision, transport)
            for line in done.removed:
                progress.message(f"  {line}")
            for problem in done.problems:
                progress.failed(f"  {problem}; the set {'would be' if args.dry_run else 'is'} kept")
            failed |= bool(done.problems)
            results.append(done)
        if not args.dry_run:
            for line in finish_cut_prunes(target, env.name):
                progress.message(line)
        removed = [d for d in results if not d.keep and not d.problems]
        progress.message(f"prune {'(dry run) ' if args.dry_run else ''}of {env.name}: "
                         f"{sum(1 for d in results if d.keep)} kept, {len(removed)} "
                         f"{'would be ' if args.dry_run else ''}removed"
                         + (f", {sum(1 for d in results if d.problems)} {'would' if args.dry_run else 'could'} not be "
                            "removed" if failed else ""))
        progress.outcome.details.update({
            "dryRun": bool(args.dry_run), "keep": args.keep, "keepWithinDays": args.keep_within,
            "sets": [{**set_json(d.entry), "keep": d.keep, "reason": d.reason, "removed": d.removed,
                      "problems": d.problems} for d in results]})
        return EXIT_FAILED if failed else EXIT_OK
    finally:
        transport.close()
        lock.release()
