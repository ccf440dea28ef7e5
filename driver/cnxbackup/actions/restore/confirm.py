"""Before a restore changes anything: what it will stop, replace, restore and change, and the
administrator's answer.

A restore that stops processes, replaces live paths, restores databases or changes the
Kubernetes cluster says so first (hosts, processes, paths, databases, sizes from the signed
manifest) and goes on only when the environment's name is typed, or with ``--yes`` (scripts).
Without a terminal and without ``--yes`` it refuses before anything is created or stopped.
A dry run, a restore under ``--target-root`` into folders that do not exist yet, and verify ask
nothing: they change nothing live.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence

from ...config import Environment
from ...errors import EXIT_USAGE, CnxBackupError
from ...hosts import hosts_of
from ...invocation import command_line
from ...progress import human_bytes
from ...shown import printable
from ...was_processes import deployment_processes
from . import component_pack as cp_restore
from .plan import RestoreStep, skipped_in_run


class NotConfirmed(CnxBackupError):
    """The restore was not confirmed: nothing was created, stopped or changed (exit 2)."""

    exit_code = EXIT_USAGE


@dataclass
class Impact:
    """What the steps still to run will do to the live deployment, in words for the prompt."""

    stops: List[str] = field(default_factory=list)
    replaces: List[str] = field(default_factory=list)
    databases: List[str] = field(default_factory=list)
    cluster: List[str] = field(default_factory=list)
    starts: List[str] = field(default_factory=list)

    @property
    def changes_live(self) -> bool:
        return bool(self.stops or self.replaces or self.databases or self.cluster)

    def lines(self) -> List[str]:
        out: List[str] = []
        for heading, entries in (("stop", self.stops), ("replace (what is there is kept beside it)", self.replaces),
                                 ("restore these databases over the live ones", self.databases),
                                 ("change the Kubernetes cluster", self.cluster), ("then start", self.starts)):
            if entries:
                out.append(f"  {heading}:")
                out.extend(f"    {entry}" for entry in entries)
        return out


def _size(count: Optional[int]) -> str:
    return f" ({human_bytes(count)} in the set)" if count else ""


def _replaced(step: RestoreStep, env: Environment, side_restore: bool) -> Optional[str]:
    """The line for a file step that replaces something, or None when its destination is new."""
    item, dest = step.archive, step.destination or ""
    if item is None:
        return None
    host = hosts_of(env).get(item.host)
    remote = host is not None and not host.is_local
    if not remote and side_restore and not os.path.lexists(dest):
        return None  # a new folder under --target-root: nothing live is touched
    where = f" on {host.name}" if remote and host is not None else ""
    size = item.tar_bytes or item.size
    return f"{printable(dest)}{where}: {item.name}{_size(size)}"


def _database(step: RestoreStep) -> str:
    db = step.database
    assert db is not None
    size = sum(image.size or 0 for image in db.images)
    hosts = sorted({image.host for image in db.images if image.host} | ({db.host} if db.host else set()))
    return f"{db.name}{' on ' + ', '.join(hosts) if hosts else ''}{_size(size)}"


def _process_labels(env: Environment, kind: str) -> List[str]:
    dmgr, agents = deployment_processes(env)
    chosen = [dmgr] if kind == "dmgr" and dmgr else (agents if kind == "agents" else [])
    return [process.label for process in chosen]


def impact(steps: Sequence[RestoreStep], env: Environment, *, side_restore: bool, start: bool,
           print_db_commands: bool, finished: Callable[[RestoreStep], bool] = lambda step: False) -> Impact:
    """What the steps that will run (not skipped, not finished by an interrupted run) do."""
    found = Impact()
    for step in steps:
        if finished(step) or skipped_in_run(step, side_restore=side_restore, start=start,
                                            print_db_commands=print_db_commands):
            continue
        kind = step.kind
        if kind == "stop":
            clusters = env.section("wsadmin").get("clusters") or []
            found.stops.append("the application servers" + (f" of the clusters {', '.join(clusters)}" if clusters
                                                              else " of the cell") + " (wsadmin stop_servers)")
        elif kind in ("stop-agents", "stop-dmgr"):
            found.stops.extend(_process_labels(env, kind.split("-")[1]))
        elif kind in ("start-dmgr", "start-agents"):
            found.starts.extend(_process_labels(env, kind.split("-")[1]))
        elif kind == "next":
            found.starts.append("the application servers (--start)")
        elif kind == "file":
            line = _replaced(step, env, side_restore)
            if line is not None:
                found.replaces.append(line)
        elif kind == "db":
            found.databases.append(_database(step))
        elif kind in cp_restore.KINDS and kind not in cp_restore.PRINTED:
            found.cluster.append(step.title)
    return found


def confirm(found: Impact, env: Environment, set_dir: str, yes: bool, resume: bool,
            say: Callable[[str], None], ask: Callable[[str], str] = input,
            on_terminal: Callable[[], bool] = lambda: sys.stdin.isatty()) -> str:
    """The summary and answer the restore goes on with (for its log), or NotConfirmed;
    ``say`` shows the summary."""
    if not found.changes_live:
        return "nothing live is stopped, replaced or restored: not asked"
    verb = "continue the interrupted restore of" if resume else "restore"
    summary = "\n".join([f"This will {verb} {printable(set_dir)} onto {env.name}; it will:"] + found.lines())
    if yes:
        say(summary + "\n(--yes: not asked)")
        return summary + "\n(--yes: not asked)"
    say(summary)
    if not on_terminal():
        again = command_line("restore", set_dir, "--env", env.argument, *(["--resume"] if resume else []), "--yes")
        raise NotConfirmed("restore asks before it stops or replaces anything, and there is no terminal to ask on: "
                           f"run it on a terminal, or add --yes where a script means it: {again} "
                           "(look first with --dry-run); nothing was changed")
    try:
        answer = ask(f"Type the environment's name ({env.name}) to go on; anything else stops with nothing changed: ")
    except EOFError:  # Ctrl-D: no answer
        answer = ""
    if answer.strip() != env.name:
        raise NotConfirmed("not confirmed: nothing was changed")
    return summary + f"\n(confirmed by typing {env.name})"
