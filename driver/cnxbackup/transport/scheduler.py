"""Work items spread over hosts: a lane per host, limits per host and overall, one failure each."""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional, Union

from .base import Cancelled, HostUnreachable

log = logging.getLogger(__name__)


# -- parallelism ------------------------------------------------------------------------------
@dataclass
class ItemResult:
    """Outcome of one work item: value when it succeeded, error (the exception) when not."""

    host: str
    item: Any
    value: Any = None
    error: Optional[BaseException] = None

    @property
    def ok(self) -> bool:
        return self.error is None


def run_per_host(items_by_host: Mapping[str, Iterable[Any]], worker: Callable[[str, Any], Any], *,
                 per_host_limit: Union[int, Mapping[str, int]], total_limit: int,
                 cancel: threading.Event) -> list[ItemResult]:
    """Run worker(host_name, item) for every item, hosts in parallel.

    At most per_host_limit items (one number, or one per host name) run at once on one host
    and total_limit overall. An exception
    fails only that item. Once a worker raises HostUnreachable for a host, that host's items not
    yet started fail at once with the same error; other hosts carry on. When ``cancel`` is set,
    items not yet started fail with Cancelled. Results come back in input order (host by host).
    """
    def limit_of(host_name: str) -> int:
        return per_host_limit if isinstance(per_host_limit, int) else per_host_limit[host_name]

    if total_limit < 1 or any(limit_of(name) < 1 for name in items_by_host):
        raise ValueError("per_host_limit and total_limit must be >= 1")
    slots = threading.BoundedSemaphore(total_limit)
    results: list[ItemResult] = []
    queues: dict[str, list[int]] = {}
    for host_name, items in items_by_host.items():
        for item in items:
            queues.setdefault(host_name, []).append(len(results))
            results.append(ItemResult(host_name, item))
    lock = threading.Lock()
    down: dict[str, HostUnreachable] = {}

    def next_index(host_name: str) -> Optional[int]:
        with lock:
            queue = queues[host_name]
            return queue.pop(0) if queue else None

    def host_lane(host_name: str) -> None:
        while True:
            index = next_index(host_name)
            if index is None:
                return
            result = results[index]
            acquired = False
            while not acquired and not cancel.is_set():
                acquired = slots.acquire(timeout=0.1)
            if not acquired:
                result.error = Cancelled(f"{host_name}: cancelled before start")
                continue
            try:
                with lock:
                    unreachable = down.get(host_name)
                if unreachable is not None:
                    result.error = unreachable
                    continue
                if cancel.is_set():
                    result.error = Cancelled(f"{host_name}: cancelled before start")
                    continue
                try:
                    result.value = worker(host_name, result.item)
                except HostUnreachable as e:
                    with lock:
                        down.setdefault(host_name, e)
                    result.error = e
                except Exception as e:  # one item's failure must not stop the others
                    log.debug("item on %s failed: %s", host_name, e)
                    result.error = e
            finally:
                slots.release()

    lanes = [(name, min(limit_of(name), len(q))) for name, q in queues.items()]
    n_threads = sum(n for _, n in lanes)
    if n_threads == 0:
        return results
    with ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="cnx-host") as pool:
        futures = [pool.submit(host_lane, name) for name, n in lanes for _ in range(n)]
        for f in futures:
            f.result()
    return results
