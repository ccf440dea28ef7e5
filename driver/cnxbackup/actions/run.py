"""``cnxbackup plan`` and ``cnxbackup backup``: load, preflight, show the plan, then act."""
from __future__ import annotations

import argparse

from ..errors import EXIT_OK
from ..hosts import make_transport
from ..plan import build_plan
from ..progress import Progress
from .common import load_env
from .preflight import preflight
from .show_plan import format_plan


def run_plan_or_backup(args: argparse.Namespace, progress: Progress) -> int:
    env = load_env(args.env, progress, build_tree=True)
    plan = build_plan(env)
    transport = make_transport(env)
    try:
        notes = preflight(plan, transport)
        progress.message(format_plan(plan, notes))
        if args.command == "plan":
            return EXIT_OK
        if args.dry_run:
            from .dryrun import show_dry_run

            show_dry_run(plan, progress)
            return EXIT_OK
        from .backup import run_backup

        return run_backup(env, plan, progress=progress, resume=args.resume, transport=transport)
    finally:
        transport.close()
