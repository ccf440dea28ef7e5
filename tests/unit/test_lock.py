"""One run per environment: a kernel lock (flock) held for the whole run, never a takeover race.

The race test uses real processes and widens the window deterministically: each process
opens the lock file, then waits at a barrier until both have opened it, and only then asks
for the lock -- exactly one must get it, whatever the stale description in the file says.
"""
import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

import e2e
from cnxbackup.errors import LockHeld
from cnxbackup.lock import RunLock, describe_holder

ROOT = e2e.ROOT

RACER = textwrap.dedent("""\
    import fcntl, os, sys, time
    sys.path.insert(0, {driver!r})
    from cnxbackup.errors import LockHeld
    from cnxbackup import lock as lockmod
    barrier, me, other = sys.argv[1], sys.argv[2], sys.argv[3]
    real_flock = fcntl.flock

    def flock_after_barrier(fd, op):
        open(os.path.join(barrier, me), "w").close()      # I have the file open
        deadline = time.time() + 20
        while not os.path.exists(os.path.join(barrier, other)):  # wait until the other has it open too
            if time.time() > deadline:
                sys.exit(3)
            time.sleep(0.01)
        return real_flock(fd, op)

    lockmod.fcntl.flock = flock_after_barrier
    lock = lockmod.RunLock(barrier, "prod", me)
    try:
        lock.acquire()
    except LockHeld as error:
        print("HELD", error)
        sys.exit(1)
    print("RUN")
    time.sleep(1.0)  # hold it while the other one asks
    lock.release()
""")


def _stale(path, pid=999999):
    with open(path, "w") as handle:
        json.dump({"pid": pid, "host": socket.gethostname(), "user": "x", "started": "then", "run_id": "dead"}, handle)


def _holder_process(target):
    code = (f"import sys, time; sys.path.insert(0, {os.path.join(ROOT, 'driver')!r}); "
            "from cnxbackup.lock import RunLock; l = RunLock(sys.argv[1], 'prod', 'holder'); l.acquire(); "
            "print('held', flush=True); time.sleep(30)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_two_processes_racing_for_a_dead_holder_s_lock_exactly_one_runs(tmp_path) -> None:
    _stale(tmp_path / ".cnxbackup-prod.lock")
    script = tmp_path / "racer.py"
    script.write_text(RACER.format(driver=os.path.join(ROOT, "driver")))
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path), me, other], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for me, other in (("a", "b"), ("b", "a"))]
    results = [proc.communicate(timeout=60) for proc in procs]
    codes = sorted(proc.returncode for proc in procs)
    assert codes == [0, 1], results
    outputs = [out for out, _ in results]
    assert sum(out.startswith("RUN") for out in outputs) == 1
    held = next(out for out in outputs if out.startswith("HELD"))
    assert "another cnxbackup run holds" in held and held.count("\n") == 1
    assert os.path.exists(tmp_path / ".cnxbackup-prod.lock")  # never unlinked


def test_a_live_holder_refuses_a_second_run_naming_it(tmp_path) -> None:
    holder = _holder_process(tmp_path)
    try:
        lock = RunLock(str(tmp_path), "prod", "second")
        with pytest.raises(LockHeld) as info:
            lock.acquire()
        message = str(info.value)
        assert f"pid {holder.pid} on {socket.gethostname()}" in message and "run holder" in message
        assert lock.path in message and "\n" not in message
        assert RunLock(str(tmp_path), "prod", "").holder().startswith(f"pid {holder.pid}")
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    lock = RunLock(str(tmp_path), "prod", "third")  # the kernel released the dead holder's lock
    lock.acquire()
    assert json.load(open(lock.path))["run_id"] == "third" and os.stat(lock.path).st_mode & 0o777 == 0o600
    lock.release()
    assert os.path.exists(lock.path) and os.path.getsize(lock.path) == 0
    assert RunLock(str(tmp_path), "prod", "").holder() is None


@pytest.mark.parametrize("junk", [b"[1,2]", b'{"pid": "abc"}', b'{"pid": 1e400}', b'{"pid": Infinity}',
                                  b'{"pid": NaN}', b'{"pid": -5}', b'{"pid": true}', b"\xff\xfe", b"",
                                  b'{"pid": 12, "host": ["x"]}', b"[" * 5000])
def test_junk_in_a_held_lock_file_gives_a_one_line_message(tmp_path, junk) -> None:
    assert describe_holder(junk) is None
    holder = _holder_process(tmp_path)
    try:
        with open(tmp_path / ".cnxbackup-prod.lock", "wb") as handle:  # an operator scribbled over it
            handle.write(junk)
        with pytest.raises(LockHeld) as info:
            RunLock(str(tmp_path), "prod", "x").acquire()
        assert "holds no description cnxbackup wrote" in str(info.value) and "\n" not in str(info.value)
    finally:
        holder.kill()
        holder.wait()


def test_a_description_cnxbackup_wrote_is_read_back() -> None:
    raw = json.dumps({"pid": 42, "host": "dmgr1", "user": "root", "run_id": "prod-1", "started": "now"}).encode()
    assert describe_holder(raw) == {"pid": 42, "host": "dmgr1", "user": "root", "run_id": "prod-1", "started": "now"}
