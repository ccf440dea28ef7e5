"""Where the project's own assets (wsadmin scripts, templates, environments) live.

In a checkout they sit beside ``driver/``; in the zipapp built by ``make dist`` they are
bundled as ``cnxbackup/_assets``.
"""
from __future__ import annotations

import os

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def assets_root() -> str:
    """The directory that holds ``wsadmin/``, ``templates/`` and ``environments/``."""
    checkout = os.path.dirname(os.path.dirname(_PACKAGE_DIR))
    if os.path.isdir(os.path.join(checkout, "templates")) and os.path.isdir(os.path.join(checkout, "wsadmin")):
        return checkout
    return os.path.join(_PACKAGE_DIR, "_assets")


def demo_dir() -> str:
    """The demo's stand-ins (``mock_wsadmin/``, ``fakes/``): the ``cnxbackup.demo`` package folder."""
    return os.path.join(_PACKAGE_DIR, "demo")


def templates_dir() -> str:
    return os.path.join(assets_root(), "templates")


def wsadmin_dir() -> str:
    return os.path.join(assets_root(), "wsadmin")


def is_within(path: str, folder: str) -> bool:
    """``path`` lies strictly inside ``folder`` (lexically: no links are resolved)."""
    path, folder = os.path.normpath(path), os.path.normpath(folder)
    return path != folder and path.startswith(folder.rstrip(os.sep) + os.sep)


def nearest_existing(path: str, *, links_count: bool = False) -> str:
    """``path`` or its nearest parent that exists (``links_count``: a dangling symlink counts as there)."""
    exists = os.path.lexists if links_count else os.path.exists
    probe = path
    while not exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    return probe
