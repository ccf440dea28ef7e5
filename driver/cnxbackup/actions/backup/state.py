"""The state one backup run shares between its phases, and the layout of a backup set.

The phases (``wsphase``, ``dbphase``, ``filephase``, ``reports``) import this module, never
``backup.py``, which only orders them.
"""
from __future__ import annotations

import os
import threading
from typing import Dict, List, Optional

from ...archive import Cipher
from ...config import Environment
from ...hosts import Host, hosts_of
from ...journal import Journal
from ...log import get_logger
from ...plan import Plan
from ...progress import Progress
from ...transport import Transport, make_transport
from .dmgr_gate import DmgrGate


class SetLayout:
    """Folders and files of one backup set (0700 folders, 0600 files)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.archives = os.path.join(root, "archives")
        self.files = os.path.join(root, "files")
        self.wsadmin = os.path.join(root, "wsadmin")
        self.databases = os.path.join(root, "databases")
        self.scripts = os.path.join(root, "scripts")
        self.snapshots = os.path.join(root, "snapshots")  # GNU tar's level-0 snapshots (two-phase)
        self.private = os.path.join(root, ".run")  # job files and transcripts
        self.log = os.path.join(root, "cnxbackup.log")

    def create(self) -> None:
        old = os.umask(0o077)
        try:
            for path in (self.root, self.archives, self.files, self.wsadmin, self.databases, self.scripts, self.snapshots, self.private):
                os.makedirs(path, mode=0o700, exist_ok=True)
                os.chmod(path, 0o700)
        finally:
            os.umask(old)


class BackupRun:
    """State shared by the phases of one backup run."""

    def __init__(self, plan: Plan, layout: SetLayout, journal: Journal, progress: Progress,
                 cancel: threading.Event, transport: Optional[Transport] = None) -> None:
        self.plan = plan
        self.env: Environment = plan.env
        self.layout = layout
        self.journal = journal
        self.progress = progress
        self.cancel = cancel
        self.log = get_logger()
        # Warnings live in the journal so that a resumed run still reports the earlier ones.
        self.warnings: List[str] = journal.data.setdefault("warnings", [])
        self.failures: List[str] = []
        self.hosts: Dict[str, Host] = hosts_of(self.env)
        self.transport: Transport = transport if transport is not None else make_transport(self.env)
        # archive.encrypt: what lands in the set goes through this filter (None: not encrypted)
        self.cipher: Optional[Cipher] = None
        # the gate's wsadmin session, for the wsadmin phase to take over (None: it opens its own)
        self.dmgr: Optional[DmgrGate] = None
