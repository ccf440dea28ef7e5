"""The plan as text: what ``cnxbackup plan`` prints and what a backup shows before it starts (its notes follow it)."""
from __future__ import annotations

from ... import componentpack
from ...plan import Plan
from ...progress import counted, human_bytes


def format_plan(plan: Plan) -> str:
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
    if env.section("archive")["mode"] == "two-phase":
        folders = [item for item in plan.items if item.kind == "archive"]
        lines.append(f"   (two-phase: right before stop_servers, a level-0 archive of the {counted(len(folders), 'folder')}, "
                     f"{human_bytes(sum(item.est_bytes for item in folders))}, while the servers run; after the stop, "
                     "their level 1 (what changed) and the single files, beside the databases)")
    lines.append(f"2. databases ({plan.db_vendor}, concurrency {env.section('database').get('concurrency', 1)}): "
                 + (", ".join(plan.databases) if plan.databases else "none") + ", after the stop")
    lines.append(f"3. files: {counted(len(plan.items), 'item')}, {human_bytes(plan.estimated_bytes)}, "
                 f"{counted(plan.estimated_files, 'entry')}"
                 f" (archive mode {env.section('archive')['mode']})")
    for item in plan.items:
        where = "" if item.host == "local" else f" @{item.host}"
        size = f"{human_bytes(item.est_bytes)}, {counted(item.est_files, 'entry')}" if item.est_files else "size unknown"
        excluded = f" (without {', '.join(item.nested_excludes)})" if item.nested_excludes else ""
        lines.append(f"   - {item.name:<18} {item.kind:<7} {item.source}{where}{excluded} [{size}]")
    if componentpack.enabled(env):
        cp = componentpack.settings(env)
        parts = ["inventory (versions, Helm releases and values and their release records, connections-env, secrets)"]
        parts += [f"the API gateway's etcd snapshot ({cp['etcd']}; namespaces {', '.join([cp['namespace'], *cp['namespaces']])})"
                  ] if cp["etcd"] != "off" else []
        parts += ["MongoDB dump from a fsync-locked secondary"] if cp["mongodb"] else []
        parts += [f"OpenSearch snapshot into {cp['opensearch_repository']}"] if cp["opensearch"] else []
        lines.append(f"   component pack (namespace {cp['namespace']}, kubectl on {cp['host']}), after the stop beside "
                     f"the databases: {'; '.join(parts)}" + (f"; {', '.join(cp['quiesce'])} scaled to 0 for the dump"
                                                           if cp["quiesce"] else ""))
    lines.append("4. REPORT.md, RESTORE.md, DB scripts; manifest.json last")
    return "\n".join(lines)
