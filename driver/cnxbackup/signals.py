"""Ctrl-C and SIGTERM: set one cancel event that every worker watches, then unwind the main thread.

Workers (archive pipelines, per-host lanes, DB tools) see the event and stop their children;
the main thread gets KeyboardInterrupt, marks unfinished steps as interrupted, and exits 130.
"""
from __future__ import annotations

import signal
import threading

CANCEL = threading.Event()


def _handler(signum: int, frame: object) -> None:
    CANCEL.set()
    raise KeyboardInterrupt


def install() -> None:
    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)
