"""The unit tier: in-process tests of one module or a few, each well under a second.

They start no ``cnxbackup`` process, no Jython (the mocked wsadmin) and no sshd: those belong to
``tests/e2e``. The guard below makes that a rule rather than a habit, for a test's fixtures as
much as for its body (small tools such as tar, zstd, openssl and the fake database tools may
still run)."""
from __future__ import annotations

import os
import subprocess
from typing import Any, Iterator

import pytest

UNIT = os.path.dirname(os.path.abspath(__file__)) + os.sep
FORBIDDEN = ("-m cnxbackup", "cnxbackup.pyz", "mock_wsadmin", "jython", "sshd")


def _command_text(args: Any) -> str:
    if isinstance(args, (str, bytes, os.PathLike)):
        return os.fsdecode(args)
    return " ".join(os.fsdecode(a) if isinstance(a, (str, bytes, os.PathLike)) else str(a) for a in args)


def _guarded_init(real_init: Any) -> Any:
    def guarded(self: subprocess.Popen, args: Any, *rest: Any, **kwargs: Any) -> None:
        text = _command_text(args)
        bad = [word for word in FORBIDDEN if word in text]
        if bad:
            raise AssertionError(f"a unit test started {bad[0]!r} ({text[:120]}): that test belongs in tests/e2e")
        real_init(self, args, *rest, **kwargs)
    return guarded


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Any) -> Iterator[None]:
    """Around the whole protocol of a unit test (the module and session fixtures set up for it
    too); pytest calls this hook for every item, so it looks at where the item lives."""
    if not str(item.fspath).startswith(UNIT):
        yield
        return
    real_init = subprocess.Popen.__init__
    subprocess.Popen.__init__ = _guarded_init(real_init)  # type: ignore[method-assign]
    try:
        yield
    finally:
        subprocess.Popen.__init__ = real_init  # type: ignore[method-assign]


def pytest_collection_modifyitems(items: list) -> None:
    for item in items:
        if str(item.fspath).startswith(UNIT):
            item.add_marker(pytest.mark.unit)
