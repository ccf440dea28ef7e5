"""One run per environment and target: a JSON lock file with stale-lock takeover (restic style)."""
from __future__ import annotations

import errno
import getpass
import json
import os
import socket
import time
from typing import Any, Dict, Optional

from .errors import LockHeld


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """``<target>/.cnxbackup-<env>.lock``; stale when its PID is dead on this host."""

    def __init__(self, target_dir: str, env_name: str, run_id: str) -> None:
        self.path = os.path.join(target_dir, f".cnxbackup-{env_name}.lock")
        self.run_id = run_id
        self.held = False

    def read(self) -> Optional[Dict[str, Any]]:
        try:
            with open(self.path, encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None

    def acquire(self) -> None:
        info = {
            "pid": os.getpid(), "host": socket.gethostname(), "user": getpass.getuser(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "run_id": self.run_id,
        }
        try:  # a restore onto a fresh machine may come before any backup made the target folder
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        except OSError as error:
            raise LockHeld(f"cannot create lock {self.path}: {error.strerror}") from None
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except OSError as error:
                if error.errno != errno.EEXIST:
                    raise LockHeld(f"cannot create lock {self.path}: {error.strerror}") from None
                holder = self.read()
                if holder and holder.get("host") == socket.gethostname() and not _pid_alive(int(holder.get("pid", 0))):
                    os.unlink(self.path)  # stale: its process is gone
                    continue
                who = (f"pid {holder.get('pid')} on {holder.get('host')} (user {holder.get('user')}, "
                       f"run {holder.get('run_id')}, since {holder.get('started')})" if holder else "an unreadable lock file")
                raise LockHeld(f"another cnxbackup run holds {self.path}: {who}; if that run is gone, remove the file") from None
            with os.fdopen(fd, "w") as handle:
                json.dump(info, handle)
                handle.flush()
                os.fsync(handle.fileno())
            self.held = True
            return
        raise LockHeld(f"could not take the lock {self.path}")

    def release(self) -> None:
        if self.held:
            holder = self.read()
            if holder and holder.get("run_id") == self.run_id:
                try:
                    os.unlink(self.path)
                except FileNotFoundError:
                    pass
            self.held = False

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
