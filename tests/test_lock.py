"""One run per environment: a live lock refuses a second run, a stale one is taken over."""
import json
import os
import socket
import subprocess
import sys

import pytest

from cnxbackup.errors import LockHeld
from cnxbackup.lock import RunLock


def _write_lock(path, pid):
    with open(path, "w") as handle:
        json.dump({"pid": pid, "host": socket.gethostname(), "user": "x", "started": "then", "run_id": "old"}, handle)


def test_live_lock_refuses(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        lock = RunLock(str(tmp_path), "prod", "new")
        _write_lock(lock.path, sleeper.pid)
        with pytest.raises(LockHeld) as info:
            lock.acquire()
        assert str(sleeper.pid) in str(info.value) and lock.path in str(info.value)
        assert json.load(open(lock.path))["run_id"] == "old"  # untouched
    finally:
        sleeper.kill()
        sleeper.wait()


def test_stale_lock_is_taken_over_and_released(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = RunLock(str(tmp_path), "prod", "new")
    _write_lock(lock.path, dead.pid)
    lock.acquire()
    assert json.load(open(lock.path))["run_id"] == "new"
    assert os.stat(lock.path).st_mode & 0o777 == 0o600
    lock.release()
    assert not os.path.exists(lock.path)


def test_release_leaves_someone_elses_lock(tmp_path):
    lock = RunLock(str(tmp_path), "prod", "mine")
    lock.acquire()
    _write_lock(lock.path, os.getpid())  # replaced behind our back (operator intervention)
    lock.release()
    assert os.path.exists(lock.path)
