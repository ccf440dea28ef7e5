"""``cnxbackup plan`` and ``cnxbackup backup``: preflight, show the plan, then act."""
from __future__ import annotations

import argparse

from ..config import Environment
from ..errors import EXIT_OK
from ..hosts import hosts_of
from ..plan import build_plan
from ..progress import Progress
from ..transport import make_transport
from .backup import run_backup
from .dryrun import show_dry_run
from .estimate import expected_downtime
from .leftovers import describe, find_leftovers
from .preflight import preflight
from .show_plan import format_plan


def run_plan_or_backup(args: argparse.Namespace, env: Environment, progress: Progress) -> int:
    plan = build_plan(env)
    transport = make_transport(env)
    try:
        notes = preflight(plan, transport, allow_partial=bool(args.allow_partial))
        notes.append(expected_downtime(env, plan.estimated_bytes))
        notes += [f"restore leftover {line}: left out of every archive; cnxbackup cleanup --env {env.name} removes it"
                  for line in describe(find_leftovers(plan.items, hosts_of(env), transport))]
        progress.message(format_plan(plan, notes))
        if args.command == "plan":
            return EXIT_OK
        if args.dry_run:
            show_dry_run(plan, progress)
            return EXIT_OK
        return run_backup(env, plan, progress=progress, resume=args.resume, transport=transport,
                          allow_partial=bool(args.allow_partial),
                          allow_other_environment=bool(args.allow_other_environment), gate_notes=notes)
    finally:
        transport.close()
