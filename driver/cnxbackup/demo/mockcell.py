"""CPython helpers for tests that drive the mock wsadmin (cnxbackup/demo/mock_wsadmin/wsadmin.sh).

    env = prepare(tmp_path, "was905", dmgrRunning=False)
    subprocess.run([WSADMIN_SH, "-lang", "jython", ...], env={**os.environ, **env})
    read_log(env); load_state(env); save_state(env, state)
"""
from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

MOCK_DIR = Path(__file__).resolve().parent / "mock_wsadmin"
WSADMIN_SH = str(MOCK_DIR / "wsadmin.sh")
CELLS_DIR = MOCK_DIR / "cells"


def prepare(tmp_dir: str | os.PathLike[str], fixture_name: str, **overrides: Any) -> dict[str, str]:
    """Copy cells/<fixture_name>.json into tmp_dir (top-level keys overridden) and
    return the CNXMOCK_* environment variables for the mock."""
    tmp = Path(tmp_dir)
    tmp.mkdir(parents=True, exist_ok=True)
    data = json.loads((CELLS_DIR / f"{fixture_name}.json").read_text())
    data.update(overrides)
    cell_path = tmp / f"{fixture_name}.cell.json"
    cell_path.write_text(json.dumps(data, indent=1, sort_keys=True))
    return {
        "CNXMOCK_CELL": str(cell_path),
        "CNXMOCK_STATE": str(tmp / f"{fixture_name}.state.json"),
        "CNXMOCK_LOG": str(tmp / f"{fixture_name}.log.jsonl"),
    }


@contextmanager
def _locked(env: dict[str, str]) -> Iterator[None]:
    # Same lock file and POSIX (fcntl) lock type as the Jython side's FileChannel.lock().
    with open(env["CNXMOCK_STATE"] + ".lock", "a+") as handle:
        fcntl.lockf(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.lockf(handle, fcntl.LOCK_UN)


def read_log(env: dict[str, str]) -> list[dict[str, Any]]:
    path = Path(env["CNXMOCK_LOG"])
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load_state(env: dict[str, str]) -> dict[str, Any]:
    """The state file, or the fixture itself when no launch has created the state yet."""
    with _locked(env):
        path = Path(env["CNXMOCK_STATE"])
        if not path.exists():
            path = Path(env["CNXMOCK_CELL"])
        state = json.loads(path.read_text())
    state.setdefault("runtime", {"servers": {}, "clusters": {}})
    return state


def save_state(env: dict[str, str], state: dict[str, Any]) -> None:
    """Atomically replace the state file (under the mock's lock)."""
    path = Path(env["CNXMOCK_STATE"])
    tmp = path.with_name(path.name + f".tmp.{os.getpid()}")
    with _locked(env):
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
        os.replace(tmp, path)
