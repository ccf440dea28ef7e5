"""``backup --dry-run``: every command the run would execute, with nothing executed or written."""
from __future__ import annotations

import os
import shlex
from typing import Any, Dict, Optional

from ... import componentpack, remote_archive
from ...archive import incremental_args, low_priority_prefix, tar_create_args, zstd_compress_args
from ...databases import dry_run_commands
from ...plan import Item, Plan
from ...progress import Progress
from ...transport.local import LocalTransport
from ...wsadmin_session import step_arguments
from . import levels
from .wsadmin_phase import RESULT_FILES


def show_dry_run(plan: Plan, progress: Progress) -> None:
    env = plan.env
    ws = env.section("wsadmin")
    settings = env.section("archive")
    two_phase = settings["mode"] == "two-phase"
    out = ["", "Dry run: these commands would run (nothing was changed):", "",
           f"wsadmin session: {ws['command']} -lang jython -conntype {ws['conntype']} -host {ws['host']} -port {ws['port']}"]
    steps = [s for s in plan.wsadmin_steps if s != "stop_servers"]
    for script in steps:
        out.append(_wsadmin_line(script, ws))
    if two_phase:
        low = " ".join(low_priority_prefix()) + " " if settings["low_priority"] else ""
        out += ["", "phase 1, the servers still running: a level-0 archive of every folder"]
        out += [_archive_line(item, settings, 0, low) for item in plan.items if item.kind == "archive"]
    if "stop_servers" in plan.wsadmin_steps:
        out += ["", _wsadmin_line("stop_servers", ws)]
    out += ["", "after the stop, at the same time: the databases" + (" and the level-1 archives" if two_phase else
                                                                  " and the archives")]
    if plan.databases:
        out.extend(dry_run_commands(env, plan.version.raw))
    if componentpack.enabled(env):
        kube = componentpack.Kube(env, LocalTransport())
        out += [f"component pack: {kube.line('kubectl', ['version', '-o', 'json'])}; "
                f"{kube.line('helm', ['list', '-a', '-o', 'json'])}; helm get values R -o yaml (and --all) per release; "
                "kubectl get configmap connections-env, secrets -o json -> <set>/componentpack/; kubectl get secrets -l "
                "owner=helm -o json per namespace -> <set>/componentpack/helm-records/",
                "component pack: kubectl exec ETCD-MEMBER -- sh -c 'etcdctl snapshot save ...' (endpoint, user and TLS from "
                "the pod's environment); kubectl exec ETCD-MEMBER -- cat FILE -> <set>/componentpack/etcd/NS.STS.db; rm -f FILE",
                "component pack: mongosh db.fsyncLock() on a secondary; kubectl exec MEMBER -- mongodump --archive --gzip "
                "(directConnection=true, readPreference=secondary) -> <set>/componentpack/mongodb.archive.gz; "
                "db.fsyncUnlock()",
                "component pack: sendRequest.sh PUT /_snapshot/REPO/NAME?wait_for_completion=true (Connections "
                "indices, include_global_state false); then the repository folder's archive"]
    for item in plan.items:
        if item.kind == "copy":
            out.append(f"copy {shlex.quote(item.source)} -> {os.path.join('<set>', item.relpath)} (sha256 while copying)")
        else:
            out.append(_archive_line(item, settings, 1 if two_phase else None, ""))
    out.append("then: fileRegistry.xml if the filenetAdmin user is file-based; REPORT.md, RESTORE.md; manifest.json last")
    progress.message("\n".join(out))


def _wsadmin_line(script: str, ws: Dict[str, Any]) -> str:
    argv = step_arguments(script, ws, os.path.join("<set>", "wsadmin", RESULT_FILES[script]))
    return f"  wsadmin> cnxwas.cli.run({script!r}, {argv!r})"


def _archive_line(item: Item, settings: Dict[str, Any], level: Optional[int], prefix: str) -> str:
    dest = os.path.join("<set>", levels.level1_relpath(item) if level == 1 else item.relpath)
    args = remote_archive.archive_tar_args(item, settings, as_root=os.geteuid() == 0)
    if level is not None:
        args += incremental_args(f"<private folder>/{levels.SNAPSHOT_NAME}")
    tar = tar_create_args((), args)
    tar[1:1] = ["-C", item.source]
    where = f" (on host {item.host})" if item.host != "local" else ""
    snapshot = {0: f"; its snapshot -> <set>/{levels.snapshot_relpath(item)}",
                1: f"; from a fresh copy of <set>/{levels.snapshot_relpath(item)}"}.get(level, "") if level is not None else ""
    return (f"{prefix}{shlex.join(tar + ['.'])} | {prefix}{shlex.join(zstd_compress_args(settings['level'], settings['threads']))}"
            f" > {dest}{where} (sha256 while streaming{snapshot})")
