"""Persistent state, locking and the JSONL call log of the mock wsadmin (runs in Jython 2.7).

The state file starts as a copy of the cell fixture; runtime facts (server stop/start
requests as wall-clock timestamps) live under state["runtime"] so they survive launches.
All reads/writes hold a POSIX lock (java.nio FileChannel.lock == fcntl lock) on STATE.lock.
"""
import os
import re
import json
import time

from java.io import RandomAccessFile

PASSWORD_OPTION = re.compile(r'(-password\s+)("[^"]*"|\S+)', re.IGNORECASE)
MASK = '*****'


def mask_text(text):
    """Hide the value after any -password option inside a string."""
    return PASSWORD_OPTION.sub(lambda m: m.group(1) + MASK, text)


def mask_argv(argv):
    out = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(MASK)
            hide_next = False
            continue
        if arg.lower() == '-password':
            hide_next = True
        out.append(mask_text(arg))
    return out


def to_jsonable(value):
    if value is None or isinstance(value, (int, long, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, basestring):
        return value
    return unicode(value)


class Store:
    def __init__(self, cell_path, state_path, log_path):
        self.cell_path = cell_path
        self.state_path = state_path or (cell_path + '.state.json')
        self.log_path = log_path
        self.lock_path = self.state_path + '.lock'

    # -- locking -------------------------------------------------------
    def _lock(self):
        raf = RandomAccessFile(self.lock_path, 'rw')
        lock = raf.getChannel().lock()
        return raf, lock

    def _unlock(self, handle):
        handle[1].release()
        handle[0].close()

    # -- state -----------------------------------------------------------
    def _read_unlocked(self):
        if not os.path.exists(self.state_path):
            f = open(self.cell_path)
            try:
                state = json.load(f)
            finally:
                f.close()
            state.setdefault('runtime', {'servers': {}, 'clusters': {}})
            self._write_unlocked(state)
            return state
        f = open(self.state_path)
        try:
            state = json.load(f)
        finally:
            f.close()
        state.setdefault('runtime', {'servers': {}, 'clusters': {}})
        return state

    def _write_unlocked(self, state):
        tmp = '%s.tmp.%d' % (self.state_path, os.getpid())
        f = open(tmp, 'w')
        try:
            f.write(json.dumps(state, indent=1, sort_keys=True))
            f.flush()
        finally:
            f.close()
        os.rename(tmp, self.state_path)

    def read(self):
        handle = self._lock()
        try:
            return self._read_unlocked()
        finally:
            self._unlock(handle)

    def update(self, mutate):
        """Read-modify-write under the lock; returns what mutate returned."""
        handle = self._lock()
        try:
            state = self._read_unlocked()
            result = mutate(state)
            self._write_unlocked(state)
            return result
        finally:
            self._unlock(handle)

    # -- call log ----------------------------------------------------------
    def log(self, event):
        if not self.log_path:
            return
        event.setdefault('pid', os.getpid())
        event.setdefault('time', time.time())
        line = json.dumps(event, sort_keys=True) + '\n'
        handle = self._lock()
        try:
            f = open(self.log_path, 'a')
            try:
                f.write(line)
            finally:
                f.close()
        finally:
            self._unlock(handle)
