"""``cnxbackup plan`` and ``cnxbackup backup``: preflight, show the plan, then act.

A real backup (not ``plan``, not ``--dry-run``) runs inside the environment's monitoring: the
start ping and the before hooks first (a failing hook aborts before the preflight), then the
after or on-error hooks, the success or failure ping and the textfile with the run's result.
"""
from __future__ import annotations

import argparse

from ..config import Environment
from ..errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, CnxBackupError
from ..hosts import hosts_of
from ..invocation import command_line
from ..plan import build_plan
from ..progress import Progress
from ..transport import make_transport
from .backup.component_pack_phase import resumed_lock
from .backup.dmgr_gate import DmgrGate
from .backup.dry_run import show_dry_run
from .backup.estimate import expected_downtime
from .backup.gate import preflight
from .backup.monitoring import Monitor
from .backup.sequence import run_backup
from .backup.show_plan import format_plan
from .restore.leftovers import describe, find_leftovers
from .sets.crypto import backup_cipher
from .sets.orphans import find_orphan_images
from .sets.results import describe_plan, describe_set
from .sets.trust import trusted_keys_path


def _plan_and_backup(args: argparse.Namespace, env: Environment, progress: Progress) -> int:
    plan = build_plan(env)
    transport = make_transport(env)
    dmgr = DmgrGate(env)  # the gate starts the backup's wsadmin session; the backup takes it over
    try:
        notes = preflight(plan, transport, allow_partial=bool(args.allow_partial),
                          own_lock=resumed_lock(env, getattr(args, "resume", None)), dmgr=dmgr)
        if args.command == "plan" or args.dry_run:
            dmgr.close()  # reached: that was the check
        with backup_cipher(env) as cipher:  # the keys are checked before anything stops (a bad one: exit 2)
            if cipher is not None:
                notes.append(f"encryption at rest: archives, copied files, Component Pack files and image copies "
                             f"are encrypted to {', '.join(cipher.recipients)} (GnuPG)")
        downtime = expected_downtime(env, plan.estimated_bytes)
        notes.append(downtime)
        notes += [f"restore leftover {line}: left out of every archive; {command_line('cleanup', '--env', env.argument)} removes it"
                  for line in describe(find_leftovers(plan.items, hosts_of(env), transport))]
        if args.command == "plan" or args.dry_run or args.resume:  # what an interrupted run left in backup_dir
            notes += find_orphan_images(env, transport, trusted_keys_path(args, env)).report(
                command_line("cleanup", "--env", env.argument))
        progress.message(format_plan(plan))
        for note in plan.notes + notes:
            progress.note(note)
        if args.command == "plan" or args.dry_run:
            describe_plan(progress.outcome, plan, downtime)
            progress.outcome.details["gate"] = "passed"
            progress.outcome.details["planNotes"] = notes
        if args.command == "plan":
            return EXIT_OK
        if args.dry_run:
            show_dry_run(plan, progress)
            return EXIT_OK
        return run_backup(env, plan, progress=progress, resume=args.resume, transport=transport,
                          allow_partial=bool(args.allow_partial),
                          allow_other_environment=bool(args.allow_other_environment), gate_notes=notes, dmgr=dmgr)
    finally:
        dmgr.close()  # unless the backup took the session over
        transport.close()
        if progress.outcome.set_dir:
            describe_set(progress.outcome, progress.outcome.set_dir)


def run_plan_or_backup(args: argparse.Namespace, env: Environment, progress: Progress) -> int:
    if args.command == "plan" or args.dry_run:
        return _plan_and_backup(args, env, progress)
    monitor = Monitor(env, progress)
    outcome = progress.outcome
    code = EXIT_FAILED
    try:
        monitor.start(outcome)
        code = _plan_and_backup(args, env, progress)
        return code
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
        raise
    except CnxBackupError as error:
        code = error.exit_code
        outcome.error(str(error))
        raise
    finally:
        monitor.finish(outcome, code)
        monitor.close()
