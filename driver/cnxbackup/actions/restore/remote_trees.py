"""Whether an item on another host may be restored there by the ssh user (issue 26, item 3).

On another host the restore is shell text run by the ssh user, often root, while the folders
it works in (WebSphere profiles, local data) usually belong to the WebSphere user. ``mv``,
``tar -C`` and ``chown`` go by names: whoever may change a folder on the way can swap a name
for a symbolic link between a check and a use, and root would then write, move or chown
where that user chose. So, before anything stops, every folder from ``/`` down to each
destination (as written, and as its symbolic links resolve) is looked at with one command
per host: a folder on the way owned by another user than root or the ssh user, a symbolic
link not owned by root, or a folder writable by group or others without the sticky bit
refuses the restore, naming the host, the path, its owner and what to do (docs/DESIGN.md,
"Restore on other hosts"). The output of the host is untrusted text: paths come back
hex-encoded (or are the ones asked for), and everything shown goes through ``printable``.
"""
from __future__ import annotations

import os
import shlex
import stat
import subprocess
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ...config import Environment
from ...hosts import Host, hosts_of
from ...shown import printable
from ...transport import HostUnreachable, Transport
from .operations import Carry
from .plan import RestoreStep

# st TAG ITEM INDEX PATH: one line "TAG ITEM INDEX UID RAWMODE OWNER" (lstat), or fails when PATH is missing.
# walk ITEM PATH: st R for every folder from / down to PATH (a canonical path), stopping at the first missing.
_PROLOGUE = r"""st() { s=$(stat -c '%u %f %U' -- "$4" 2>/dev/null) || return 1; printf '%s %s %s %s\n' "$1" "$2" "$3" "$s"; }
walk() { rest=${2#/}; p=; j=0; st R "$1" 0 / || return 0
  while [ -n "$rest" ]; do c=${rest%%/*}; case $rest in */*) rest=${rest#*/};; *) rest=;; esac
    p="$p/$c"; j=$((j+1)); st R "$1" "$j" "$p" || return 0; done; }
printf 'U %s %s\n' "$(id -u)" "$(id -un)"
"""


@dataclass
class Entry:
    """One path on the way, as the host's ``stat`` saw it (the symbolic link itself, not followed)."""

    path: str
    uid: int
    mode: int  # st_mode: type and permission bits
    owner: str  # the owner's name on the host (untrusted), "UNKNOWN" when it has none


def chain(destination: str) -> List[str]:
    """``/``, every folder down to the destination's parent, then the destination itself."""
    parts = [part for part in os.path.normpath(destination).split("/") if part]
    return ["/"] + ["/" + "/".join(parts[:count]) for count in range(1, len(parts) + 1)]


def script(destinations: List[str]) -> str:
    """The one shell command that looks at every destination of a host (its items numbered in order)."""
    lines = [_PROLOGUE]
    for item, destination in enumerate(destinations):
        literal = " && ".join(f"st L {item} {index} {shlex.quote(path)}" for index, path in enumerate(chain(destination)))
        parent = shlex.quote(os.path.dirname(os.path.normpath(destination)) or "/")
        lines.append(f"{{ {literal}; }}\n"
                     f"r=$(realpath -m -- {parent} && echo x) && r=${{r%??}} && "
                     f"printf 'P {item} %s\\n' \"$(printf '%s' \"$r\" | od -An -tx1 | tr -d ' \\n')\" && walk {item} \"$r\"\n")
    return "".join(lines)


@dataclass
class Report:
    """What the host answered: the ssh user's uid and name, the stat lines and the resolved parents."""

    uid: Optional[int] = None
    user: str = ""
    stats: Dict[Tuple[str, int, int], Entry] = field(default_factory=dict)
    resolved: Dict[int, str] = field(default_factory=dict)


def _parse_stat(fields: List[str]) -> Tuple[Tuple[str, int, int], int, int, str]:
    tag, item, index, uid, mode = fields[:5]
    return (tag, int(item), int(index)), int(uid), int(mode, 16), fields[5] if len(fields) > 5 else "UNKNOWN"


def parse(stdout: str) -> Report:
    """The host's lines, read defensively: a line that does not parse is ignored (its path then counts as missing)."""
    report = Report()
    for line in stdout.split("\n"):
        fields = line.split(" ", 5)
        try:
            if fields[0] == "U" and len(fields) >= 2:
                report.uid, report.user = int(fields[1]), fields[2] if len(fields) > 2 else ""
            elif fields[0] == "P" and len(fields) == 3:
                report.resolved[int(fields[1])] = os.fsdecode(bytes.fromhex(fields[2])) or "/"
            elif fields[0] in ("L", "R") and len(fields) >= 5:
                key, uid, mode, owner = _parse_stat(fields)
                report.stats[key] = Entry("", uid, mode, owner)
        except ValueError:
            continue
    return report


def entries(report: Report, item: int, destination: str) -> List[Entry]:
    """The paths on the way to one item that exist, as written then as resolved (each list up to the first missing)."""
    found: List[Entry] = []
    resolved = report.resolved.get(item)
    for tag, paths in (("L", chain(destination)), ("R", chain(resolved) if resolved else [])):
        for index, path in enumerate(paths):
            entry = report.stats.get((tag, item, index))
            if entry is None:
                break
            found.append(Entry(path, entry.uid, entry.mode, entry.owner))
    return found


def _who(entry: Entry) -> str:
    return f"uid {entry.uid}" if entry.owner in ("", "UNKNOWN") else f"{printable(entry.owner)} (uid {entry.uid})"


def entry_problem(entry: Entry, ssh_uid: int, ssh_user: str, host: str) -> Optional[Tuple[str, str]]:
    """(what is wrong, what to do) for one path on the way, None when nobody but root or the ssh user can change it."""
    who = _who(entry)
    user = f"the user of uid {entry.uid}" if entry.owner in ("", "UNKNOWN") else printable(entry.owner)
    connect = f"connect as that user (hosts[{host}].user: {user}) — its restore then cannot give anyone more than that user has"
    if stat.S_ISLNK(entry.mode) and entry.uid != 0:
        return f"is a symbolic link owned by {who}, not root", connect
    if entry.uid not in (0, ssh_uid):
        return (f"is owned by {who}, not the ssh user {printable(ssh_user)}: a restore as {printable(ssh_user)} there "
                f"would work through names {who} can change"), connect
    if stat.S_ISDIR(entry.mode) and entry.mode & 0o022 and not entry.mode & stat.S_ISVTX:
        return (f"is writable by group or others (mode {stat.S_IMODE(entry.mode):04o}) without the sticky bit: "
                "others can change the names a restore works through"), "make it writable by its owner only (chmod go-w)"
    return None


def host_problems(host: Host, items: List[Tuple[str, str]], transport: Transport) -> List[str]:
    """One line per path on the way to ``items`` ((name, destination)) that someone else could change."""
    try:
        proc = transport.run(host, script([destination for _, destination in items]), timeout=120)
    except (HostUnreachable, subprocess.TimeoutExpired) as error:
        return [f"host {host.name}: cannot be reached to check the folders its items are restored through: "
                f"{printable(error)}"]
    report = parse(proc.stdout if isinstance(proc.stdout, str) else os.fsdecode(proc.stdout or b""))
    if report.uid is None:
        return [f"host {host.name}: the folders its items are restored through could not be checked "
                f"(exit {proc.returncode}): {printable(str(proc.stderr or '').strip()[:200])}"]
    unresolved = [printable(name) for item, (name, _) in enumerate(items) if item not in report.resolved]
    if unresolved:
        return [f"host {host.name}: where the folders on the way to {', '.join(unresolved)} lead could not be "
                f"found (realpath -m): {printable(str(proc.stderr or '').strip()[:200])}"]
    ssh_user = host.user or report.user or f"uid {report.uid}"
    found: Dict[Tuple[str, str, str], List[str]] = {}
    for item, (name, destination) in enumerate(items):
        for entry in entries(report, item, destination):
            problem = entry_problem(entry, report.uid, ssh_user, host.name)
            if problem is not None:
                names = found.setdefault((entry.path, problem[0], problem[1]), [])
                if name not in names:
                    names.append(name)
    return [f"host {host.name}: {printable(path)} {what}; {todo} — or restore "
            f"{', '.join(printable(n) for n in names)} by hand (RESTORE.md)"
            for (path, what, todo), names in found.items()]


def remote_tree_problems(steps: List[RestoreStep], env: Environment, transport: Transport) -> List[str]:
    """Every item staged on another host: the folders on the way to it and to each live nested item
    its swap carries (``mv`` by name, as root: those folders too must be root's or the ssh user's)."""
    hosts = hosts_of(env)
    carried = {step.step_id[len("file:"):]: [op.live for op in step.operations if isinstance(op, Carry)]
               for step in steps if step.kind == "file"}
    by_host: Dict[str, List[Tuple[str, str]]] = {}
    for step in steps:
        if step.kind != "stage" or step.skip_reason or step.archive is None or step.destination is None:
            continue
        host = hosts.get(step.archive.host)
        if host is not None and not host.is_local:
            # the destination, and each live nested item the swap carries by name from inside it
            for path in [step.destination] + carried.get(step.archive.name, []):
                by_host.setdefault(host.name, []).append((step.archive.name, path))
    problems: List[str] = []
    for name, items in by_host.items():
        problems += host_problems(hosts[name], items, transport)
    return problems
