"""Several databases at once: one thread per running tool, within the configured concurrency."""
from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from typing import Any, Callable, Mapping, Sequence

from .base import TOOLS_CANCELLED, DbBackupResult, DbError, DbTarget, database_log, failed_result, stop_all_tools
from .hooks import vendor_module

ProgressCallback = Callable[[int, int, str], None]


def backup_all(
    targets: Sequence[DbTarget],
    settings: Mapping[str, Any],
    backup_dir: str,
    *,
    concurrency: int | None = None,
    dry_run: bool = False,
    secrets: Mapping[str, str] | None = None,
    log: logging.Logger | None = None,
    progress: ProgressCallback | None = None,
) -> list[DbBackupResult]:
    """Back up every target with up to ``concurrency`` tools at once; results in target order.

    A target that raises is reported as a failed result, never aborts the others.
    ``progress(done, total, name)`` is called once per finished target (from worker threads, serialised).
    """
    workers = max(1, int(concurrency or settings["concurrency"]))
    total = len(targets)
    done = 0
    lock = threading.Lock()

    def one(target: DbTarget) -> DbBackupResult:
        nonlocal done
        if TOOLS_CANCELLED.is_set():
            return failed_result(target, backup_dir, "", "interrupted before it started")
        module = vendor_module(target.vendor)
        started = time.monotonic()
        try:
            result = module.backup(target, settings, backup_dir, dry_run=dry_run, secrets=secrets,
                                   log=database_log(log, target.name))
        except DbError as error:
            result = failed_result(target, backup_dir, "", str(error), seconds=time.monotonic() - started)
        with lock:
            done += 1
            if progress:
                progress(done, total, target.name)
        return result

    if not targets:
        return []
    TOOLS_CANCELLED.clear()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="db-backup")
    try:
        return list(pool.map(one, targets))
    except BaseException:
        stop_all_tools()  # KeyboardInterrupt: stop the running tools, start no more
        raise
    finally:
        pool.shutdown(wait=True)
