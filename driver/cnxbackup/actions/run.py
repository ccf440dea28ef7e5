"""``cnxbackup plan`` and ``cnxbackup backup``: preflight, show the plan, then act."""
from __future__ import annotations

import argparse

from ..config import Environment
from ..errors import EXIT_OK
from ..plan import build_plan
from ..progress import Progress
from ..transport import make_transport
from .backup import run_backup
from .dryrun import show_dry_run
from .preflight import preflight
from .show_plan import format_plan


def run_plan_or_backup(args: argparse.Namespace, env: Environment, progress: Progress) -> int:
    plan = build_plan(env)
    transport = make_transport(env)
    try:
        notes = preflight(plan, transport)
        progress.message(format_plan(plan, notes))
        if args.command == "plan":
            return EXIT_OK
        if args.dry_run:
            show_dry_run(plan, progress)
            return EXIT_OK
        return run_backup(env, plan, progress=progress, resume=args.resume, transport=transport)
    finally:
        transport.close()
