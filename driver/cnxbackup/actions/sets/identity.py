"""Which deployment a set belongs to: its environment and its WebSphere cell.

A set of one deployment must not be resumed into, or restored onto, another. The live cell
is read from the Dmgr profile's ``config/cells/`` (WebSphere keeps one folder per cell there);
where there is no Dmgr profile yet (a host being rebuilt) the cell check is skipped and the
caller says so. ``--allow-other-environment`` overrides both checks, and is recorded.
"""
from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from typing import List, Optional

from ...config import Environment
from ...hosts import first_with_role, hosts_of
from ...journal import Journal
from ...transport import HostUnreachable, Transport

ALLOW_OTHER = "--allow-other-environment"


@dataclass
class Identity:
    problems: List[str] = field(default_factory=list)  # each names both sides
    notes: List[str] = field(default_factory=list)


def single_cell(names: List[str]) -> Optional[str]:
    cells = sorted(n for n in names if n and not n.startswith("."))
    return cells[0] if len(cells) == 1 else None


def live_cell(env: Environment, transport: Optional[Transport] = None) -> Optional[str]:
    """The cell of the Dmgr profile (its one ``config/cells/<cell>`` folder), or None when the
    profile is not there (or holds no single cell)."""
    cells_dir = os.path.join(env.paths["dmgr_profile"], "config", "cells")
    host_name = first_with_role(env, "dmgr")
    host = hosts_of(env).get(host_name)
    if host is None or host.is_local:
        try:
            return single_cell([n for n in os.listdir(cells_dir) if os.path.isdir(os.path.join(cells_dir, n))])
        except OSError:
            return None
    if transport is None:
        return None
    try:
        proc = transport.run(host, f"cd -- {shlex.quote(cells_dir)} && for c in *; do [ -d \"$c\" ] && echo \"$c\"; done")
    except HostUnreachable:
        return None
    return single_cell(proc.stdout.split("\n")) if proc.returncode == 0 else None


def journal_cell(journal: Journal) -> Optional[str]:
    """The cell the wsadmin steps of a backup saw (recorded in its journal), if any ran."""
    for step in ("wsadmin:list_auth_aliases", "wsadmin:check_filenet_admin", "wsadmin:export_role_mappings"):
        cell = (journal.result(step) or {}).get("cell")
        if isinstance(cell, str) and cell:
            return cell
    return None


def check_identity(env: Environment, set_dir: str, set_environment: Optional[str], set_cell: Optional[str],
                   transport: Optional[Transport] = None) -> Identity:
    """Problems when the set is another environment's or another cell's than the live one."""
    found = Identity()
    if set_environment != env.name:
        found.problems.append(f"{set_dir} is a set of environment {set_environment}, not of {env.name}")
    cell = live_cell(env, transport)
    if cell is None:
        found.notes.append(f"no Dmgr profile cell under {env.paths['dmgr_profile']}/config/cells: the set's cell "
                           f"({set_cell or 'not recorded'}) is not compared (a host being rebuilt)")
    elif set_cell is not None and set_cell != cell:
        found.problems.append(f"{set_dir} is a set of cell {set_cell}, the Dmgr profile's cell is {cell}")
    return found
