"""``cnxbackup verify SET``: the checks of the set, one line each, and the result recorded beside it."""
from __future__ import annotations

import argparse
import os
from typing import Optional

from ..config import Environment
from ..errors import EXIT_FAILED, EXIT_OK
from ..manifest import MANIFEST
from ..progress import Progress
from .sets.results import describe_set
from .sets.trust import trusted_keys_path
from .sets.verify import verify_set
from .sets.verify_record import record_verify_result


def run_verify(args: argparse.Namespace, env: Optional[Environment], progress: Progress) -> int:
    set_dir = os.path.abspath(args.set_dir)
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
    progress.message(f"verify {'passed' if ok else 'FAILED'}: {len(lines) - bad} checks ok, {bad} bad")
    progress.outcome.details.update({"deep": bool(args.deep), "checks": [
        {"ok": not line.startswith("BAD"), "text": line[3:].strip()} for line in lines]})
    describe_set(progress.outcome, set_dir)
    if os.path.isfile(os.path.join(set_dir, MANIFEST)):  # a folder that is a set: the result goes beside its signed part
        problem = record_verify_result(set_dir, ok, bool(args.deep), bad)
        if problem:
            progress.note(problem)
    return EXIT_OK if ok else EXIT_FAILED
