"""``backup --dry-run``: every command the run would execute, with nothing executed or written."""
from __future__ import annotations

import os
import shlex

from ..archive import tar_exclude_args
from ..databases import dry_run_commands
from ..plan import Plan
from ..progress import Progress
from .wsphase import RESULT_FILES, step_arguments


def show_dry_run(plan: Plan, progress: Progress) -> None:
    env = plan.env
    ws = env.section("wsadmin")
    settings = env.section("archive")
    out = ["", "Dry run: these commands would run (nothing was changed):", "",
           f"wsadmin session: {ws['command']} -lang jython -conntype {ws['conntype']} -host {ws['host']} -port {ws['port']}"]
    for script in plan.wsadmin_steps:
        argv = step_arguments(script, ws, os.path.join("<set>", "wsadmin", RESULT_FILES[script]))
        out.append(f"  wsadmin> cnxwas.cli.run({script!r}, {argv!r})")
    if plan.databases:
        out.append("")
        out.extend(dry_run_commands(env, plan.version.raw))
    out.append("")
    level, threads = settings["level"], settings["threads"]
    for item in plan.items:
        dest = os.path.join("<set>", item.relpath)
        if item.kind == "copy":
            out.append(f"copy {shlex.quote(item.source)} -> {dest} (sha256 while copying)")
        else:
            tar = ["tar", "--format=gnu", "-C", item.source, "-cvf", "-"]
            tar += tar_exclude_args(settings["excludes"], item.nested_excludes) + list(settings["tar_options"]) + ["."]
            out.append(f"{' '.join(shlex.quote(a) for a in tar)} | zstd -T{threads} -{level} -c > {dest} (sha256 while streaming)")
    out.append("then: fileRegistry.xml if the filenetAdmin user is file-based; REPORT.md, RESTORE.md; manifest.json last")
    progress.message("\n".join(out))
