"""``cnxbackup verify SET``: the checks of the set, one line each, and the result recorded beside it."""
from __future__ import annotations

import argparse
import os
from typing import Optional

from ..config import Environment
from ..errors import EXIT_FAILED, EXIT_OK, ConfigError
from ..journal import JOURNAL
from ..manifest import MANIFEST, SIGNATURE
from ..progress import Progress, counted
from .sets.results import describe_set
from .sets.trust import trusted_keys_path
from .sets.verify import verify_set
from .sets.verify_record import record_verify_result


def set_folder(path: str) -> str:
    """The set's folder, absolute; a usage error (exit 2) naming it when it is none."""
    set_dir = os.path.abspath(path)
    if not os.path.isdir(set_dir):
        what = "is not a folder" if os.path.lexists(set_dir) else "does not exist"
        raise ConfigError(f"{set_dir}: {what}; give a backup set's folder (cnxbackup list --env ENV names them)")
    if not any(os.path.lexists(os.path.join(set_dir, name)) for name in (MANIFEST, SIGNATURE, JOURNAL)):
        raise ConfigError(f"{set_dir}: not a backup set (no {MANIFEST}, {SIGNATURE} or {JOURNAL} in it); give a backup "
                          "set's folder (cnxbackup list --env ENV names them)")
    return set_dir


def run_verify(args: argparse.Namespace, env: Optional[Environment], progress: Progress) -> int:
    set_dir = set_folder(args.set_dir)
    progress.outcome.set_dir = set_dir
    ok, lines = verify_set(set_dir, trusted_keys=trusted_keys_path(args, env), trust_unsealed=args.trust_unsealed,
                           deep=args.deep, env=env, progress=progress, identity=args.identity)
    notes = [line for line in lines if line.startswith("NOTE")]  # said, not counted as checks
    lines = [line for line in lines if not line.startswith("NOTE")]
    for line in lines:
        progress.message(line)
        if line.startswith("BAD"):
            progress.outcome.error(line[3:].strip())
    for line in notes:
        progress.note(line[4:].strip())
    bad = sum(1 for line in lines if line.startswith("BAD"))
    progress.message(f"verify {'passed' if ok else 'FAILED'}: {counted(len(lines) - bad, 'check')} ok, {bad} bad")
    progress.outcome.details.update({"deep": bool(args.deep), "checks": [
        {"ok": not line.startswith("BAD"), "text": line[3:].strip()} for line in lines]})
    describe_set(progress.outcome, set_dir)
    if os.path.isfile(os.path.join(set_dir, MANIFEST)):  # a folder that is a set: the result goes beside its signed part
        problem = record_verify_result(set_dir, ok, bool(args.deep), bad)
        if problem:
            progress.note(problem)
    return EXIT_OK if ok else EXIT_FAILED
