"""A stand-in for ``tar`` on PATH that runs GNU tar itself and reports what each level did.

It logs the start and end of every incremental archive (level 0 when its snapshot is empty,
level 1 when it is not) with its source folder, and after the level 0 of one chosen folder it
can run a script that changes that folder (the changes between the two phases, before the
stop); after that folder's level 1 (or 0) it can kill its parent (the driver) once, the level
having run to its end, so that tar has rewritten the snapshot it was given. The two-phase tests and
the downtime bench share it.
"""
from __future__ import annotations

import os
import shutil
import sys
from typing import Dict

WRAPPER = r'''#!{python}
import fcntl, json, os, signal, subprocess, sys, time
REAL, LOG, MUTATE, KILL, TARGET, KILL_LEVEL = {real!r}, {log!r}, {mutate!r}, {kill!r}, {target!r}, {kill_level!r}
args = sys.argv[1:]
snapshot = next((a.split("=", 1)[1] for a in args if a.startswith("--listed-incremental=")), None)
source = args[args.index("-C") + 1] if "-C" in args else None
level = None
if snapshot not in (None, "/dev/null"):
    level = 1 if os.path.exists(snapshot) and os.path.getsize(snapshot) else 0

def log(phase):
    if level is None:
        return
    with open(LOG, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(json.dumps({{"event": "tar", "level": level, "phase": phase, "source": source,
                                  "time": time.time()}}) + "\n")

log("start")
rc = subprocess.call([REAL] + args)
log("end")
if rc in (0, 1) and source == TARGET:
    if level == 0 and MUTATE and not os.path.exists(MUTATE + ".done"):
        subprocess.check_call([sys.executable, MUTATE, TARGET])
        open(MUTATE + ".done", "w").close()
    if level == KILL_LEVEL and KILL and not os.path.exists(KILL):
        open(KILL, "w").close()
        os.kill(os.getppid(), signal.SIGKILL)
sys.exit(rc)
'''


def install(bin_dir: str, log: str, target: str, *, mutate: str = "", kill_marker: str = "",
            kill_level: int = 1) -> Dict[str, str]:
    """Write the wrapper into ``bin_dir``; the environment (PATH) that puts it first. ``mutate``:
    the text of a Python script run (once) with the folder as its argument after its level 0;
    ``kill_marker``: kill the driver once, after the folder's level ``kill_level``."""
    os.makedirs(bin_dir, exist_ok=True)
    script = ""
    if mutate:
        script = os.path.join(bin_dir, "mutate.py")
        with open(script, "w", encoding="utf-8") as handle:
            handle.write(mutate)
    path = os.path.join(bin_dir, "tar")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(WRAPPER.format(python=sys.executable, real=shutil.which("tar"), log=log, mutate=script,
                                    kill=kill_marker, target=target, kill_level=kill_level))
    os.chmod(path, 0o755)
    return {"PATH": bin_dir + os.pathsep + os.environ["PATH"]}
