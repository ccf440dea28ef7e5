"""Where the project's own assets (wsadmin scripts, templates, environments) live.

In a checkout they sit beside ``driver/``; in the zipapp built by ``make dist`` they are
bundled as ``cnxbackup/_assets``.
"""
from __future__ import annotations

import os
import re
from typing import List

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def assets_root() -> str:
    """The directory that holds ``wsadmin/``, ``templates/`` and ``environments/``."""
    checkout = os.path.dirname(os.path.dirname(_PACKAGE_DIR))
    if os.path.isdir(os.path.join(checkout, "templates")) and os.path.isdir(os.path.join(checkout, "wsadmin")):
        return checkout
    return os.path.join(_PACKAGE_DIR, "_assets")


def project_root(env_file: str) -> str:
    """What ``{project}`` means in ``env_file``: the checkout when the program runs from one; else
    (the zipapp) the folder that holds the file's ``environments/`` folder, else the current folder.
    Never the zipapp's unpack cache (``~/.shiv/...``): a new ``.pyz`` unpacks elsewhere and orphans it."""
    root = assets_root()
    if root != os.path.join(_PACKAGE_DIR, "_assets"):
        return root
    folder = os.path.dirname(os.path.abspath(env_file))
    if os.path.basename(folder) == "environments" and not is_at_or_within(folder, _PACKAGE_DIR):
        return os.path.dirname(folder)
    return os.getcwd()


def demo_dir() -> str:
    """The demo's stand-ins (``mock_wsadmin/``, ``fakes/``): the ``cnxbackup.demo`` package folder."""
    return os.path.join(_PACKAGE_DIR, "demo")


def templates_dir() -> str:
    return os.path.join(assets_root(), "templates")


def wsadmin_dir() -> str:
    return os.path.join(assets_root(), "wsadmin")


SET_WSADMIN = "tools/wsadmin"  # a set's own copy of the wsadmin scripts it ran (actions/backup/tools.py)


def set_wsadmin_dir(set_dir: str) -> str:
    """The wsadmin scripts a hint about a set names: the set's own copy (``tools/wsadmin``, a folder,
    not a link), which outlives this process, else this program's."""
    own = os.path.join(set_dir, SET_WSADMIN)
    return own if os.path.isdir(own) and not os.path.islink(own) else wsadmin_dir()


def is_within(path: str, folder: str) -> bool:
    """``path`` lies strictly inside ``folder`` (lexically: no links are resolved)."""
    path, folder = os.path.normpath(path), os.path.normpath(folder)
    return path != folder and path.startswith(folder.rstrip(os.sep) + os.sep)


def is_at_or_within(path: str, folder: str, *, resolve_links: bool = False) -> bool:
    """``path`` is ``folder`` or lies inside it; ``resolve_links``: both resolved first (paths of
    this machine), else lexically (paths of another host)."""
    if resolve_links:
        path, folder = os.path.realpath(path), os.path.realpath(folder)
    return os.path.normpath(path) == os.path.normpath(folder) or is_within(path, folder)


def is_plain_path_within(path: str, folder: str) -> bool:
    """``path`` is absolute, has no ``..`` part and lies strictly inside ``folder`` (lexically): a
    recorded path that names a file of ``folder`` as written, on whichever host, to be removed."""
    return bool(folder) and os.path.isabs(path) and ".." not in path.split("/") and is_within(path, folder)


def nearest_existing(path: str, *, links_count: bool = False) -> str:
    """``path`` or its nearest parent that exists (``links_count``: a dangling symlink counts as there)."""
    exists = os.path.lexists if links_count else os.path.exists
    probe = path
    while not exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    return probe


# ----------------------------------------------------------------------------- a restore's leftovers
# A restore keeps each item in a container only root can enter, beside it:
# ``<path>.cnxrestore-<stamp>`` (on a mount point: ``<path>/cnxrestore-<stamp>``), holding
# ``staged`` (the restored copy, until it moves in) and then ``replaced`` (what it replaced).
# The stamp is the restore's ``YYYYmmddTHHMMSS-<6 hex>``: its random part makes it one nobody
# can guess and plant beforehand. Restores before cnxbackup 0.9 left ``<path>.cnxbackup-
# replaced-<stamp>`` and ``<path>.cnxrestore-new``: still found, as leftovers.
CONTAINER_SUFFIX = ".cnxrestore-"
REPLACED_SUFFIX = ".cnxbackup-replaced"
STAGING_SUFFIX = ".cnxrestore-new"
STAGED, REPLACED = "staged", "replaced"  # inside a container
_STAMP_GLOB = "[0-9]" * 8 + "T" + "[0-9]" * 6
RESTORE_STAMP = r"\d{8}T\d{6}-[0-9a-f]{6}"
LEFTOVER_NAME = re.compile(r"cnxbackup-replaced-\d{8}T\d{6}(?:-\d+)?|cnxrestore-new|cnxrestore-" + RESTORE_STAMP)


def leftover_patterns(rel: str) -> List[str]:
    """GNU tar ``--exclude`` patterns (to be anchored) for the leftovers of the item at ``rel``
    inside an archived tree (``.`` for the tree's own root, whose forms sit inside it)."""
    if rel in (".", ""):
        return [f"./{REPLACED_SUFFIX[1:]}-{_STAMP_GLOB}*", f"./{STAGING_SUFFIX[1:]}", f"./{CONTAINER_SUFFIX[1:]}{_STAMP_GLOB}-*"]
    base = "./" + rel.strip("/")
    return [f"{base}{REPLACED_SUFFIX}-{_STAMP_GLOB}*", f"{base}{STAGING_SUFFIX}", f"{base}{CONTAINER_SUFFIX}{_STAMP_GLOB}-*"]


def container_path(dest: str, stamp: str, mounted: bool) -> str:
    """Where a restore keeps an item's staged copy and, after the swap, what it replaced."""
    return os.path.join(dest, CONTAINER_SUFFIX[1:] + stamp) if mounted else dest + CONTAINER_SUFFIX + stamp


def is_leftover_of(path: str, source: str) -> bool:
    """``path`` is one of the fixed leftover forms of the item at ``source``, nothing looser."""
    parent, name = os.path.split(path.rstrip("/"))
    source = source.rstrip("/")
    if parent == source:  # the mount-point forms, inside the tree
        return bool(LEFTOVER_NAME.fullmatch(name))
    base = os.path.basename(source) + "."
    return parent == os.path.dirname(source) and name.startswith(base) and bool(LEFTOVER_NAME.fullmatch(name[len(base):]))
