"""The end-to-end tier, one folder per wing: the CLI as a process on the demo's stand-ins (the
mocked wsadmin in real Jython, the fake database tools, the fake kubectl and helm, sshd hosts on
loopback). Expensive set-ups are shared session fixtures (``restorekit.shared_backup`` and the
Component Pack set): a new scenario copies one of them instead of building its own."""
from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list) -> None:
    for item in items:
        if "/tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
