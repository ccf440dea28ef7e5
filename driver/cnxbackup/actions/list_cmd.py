"""``cnxbackup list``: the environment's sets, newest first, with what their signed manifests prove."""
from __future__ import annotations

import argparse
from typing import Any, Dict, List, Optional

from ..config import Environment
from ..errors import EXIT_OK
from ..invocation import command_line
from ..progress import Progress, human_bytes, human_seconds
from ..transport import make_transport
from .sets.orphans import OrphanSearch, find_orphan_images
from .sets.retention import SetEntry, scan_sets, set_json
from .sets.trust import trusted_keys_path


def _verify_text(result: Optional[Dict[str, Any]], problem: str = "") -> str:
    if result is None:
        return f"verify record unreadable: {problem}" if problem else "never verified"
    return f"{'passed' if result['ok'] else 'FAILED'}{' (deep)' if result['deep'] else ''} {result['at']}"


def run_list(args: argparse.Namespace, env: Environment, progress: Progress) -> int:
    entries = scan_sets(env, trusted_keys_path(args, env))
    rows = [f"{'SET':<34} {'STATUS':<23} {'VERSION':<14} {'SIZE':>10} {'DOWNTIME':>9}  LAST VERIFY"]
    for entry in reversed(entries):
        data = set_json(entry)
        downtime = data["downtimeSeconds"]
        rows.append(f"{entry.name:<34} {entry.state:<23} {str(data['connectionsVersion'] or '-'):<14} "
                    f"{human_bytes(entry.size):>10} {human_seconds(downtime) if downtime is not None else '-':>9}  "
                    f"{_verify_text(entry.verify, entry.verify_problem)}")
        if entry.trust_problem:
            rows.append(f"    {'' if entry.state == 'misnamed' else 'not trusted: '}{entry.trust_problem}")
        if entry.restore_running:
            rows.append(f"    an unfinished restore: {entry.restore_running}")
    progress.message("\n".join(rows) if entries else f"no backup sets of {env.name} under {env.section('target')['dir']}")
    progress.outcome.details["sets"] = [set_json(entry) for entry in reversed(entries)]
    orphans = _orphan_images(args, env, entries)
    if orphans.orphans or orphans.notes():
        for line in orphans.report(command_line("cleanup", "--env", env.argument)):
            progress.note(line)
    progress.outcome.details["orphanImages"] = orphans.as_json()
    return EXIT_OK


def _orphan_images(args: argparse.Namespace, env: Environment, entries: List[SetEntry]) -> OrphanSearch:
    """The database images no set lists (none to look for without a ``database.backup_dir``)."""
    if not env.section("database").get("backup_dir"):
        return OrphanSearch()
    transport = make_transport(env)
    try:
        return find_orphan_images(env, transport, trusted_keys_path(args, env), entries=entries)
    finally:
        transport.close()
