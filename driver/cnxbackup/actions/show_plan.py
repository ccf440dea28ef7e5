"""The plan as text: what ``cnxbackup plan`` prints and what a backup shows before it starts."""
from __future__ import annotations

from typing import List

from ..plan import Plan
from ..progress import human_bytes


def format_plan(plan: Plan, notes: List[str]) -> str:
    env = plan.env
    ws = env.section("wsadmin")
    lines = [
        f"Environment {env.name} ({env.file})",
        f"  Connections {plan.version.raw} -> release {plan.version.release_line}, exact {plan.version.exact}",
        f"  WebSphere {plan.was_version or 'unknown'}; CCM: {'yes' if env.section('connections')['ccm'] else 'no'}",
        f"  Target: {env.section('target')['dir']}",
        "",
        f"1. wsadmin ({ws['command']}, {ws['host']}:{ws['port']}), one session:",
    ]
    for index, step in enumerate(plan.wsadmin_steps, 1):
        lines.append(f"   1.{index} {step}")
    lines.append(f"2. databases ({plan.db_vendor}, concurrency {env.section('database').get('concurrency', 1)}): "
                 + (", ".join(plan.databases) if plan.databases else "none"))
    lines.append(f"3. files: {len(plan.items)} items, {human_bytes(plan.estimated_bytes)}, {plan.estimated_files:,} entries")
    for item in plan.items:
        where = "" if item.host == "local" else f" @{item.host}"
        size = f"{human_bytes(item.est_bytes)}, {item.est_files:,} entries" if item.est_files else "size unknown"
        excluded = f" (without {', '.join(item.nested_excludes)})" if item.nested_excludes else ""
        lines.append(f"   - {item.name:<18} {item.kind:<7} {item.source}{where}{excluded} [{size}]")
    lines.append("4. REPORT.md, RESTORE.md, DB scripts; manifest.json last")
    for note in plan.notes + notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)
