"""The one contract every vendor hook module fulfils, and the lookup from vendor name to module.

Each of ``db2``, ``mssql`` and ``oracle`` is checked against ``VendorHooks`` by mypy (the
``HOOKS`` table below is typed with it) and by ``tests/unit/test_database_front.py``. Every
operation that takes, checks, restores or removes a backup takes ``dry_run``: with it,
nothing runs and the result says what would have. What a vendor does differently from the
others (its tools, its own checks, how its backups are forgotten, who runs its restore) is
declared here and said only in its own module.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple

from . import db2, mssql, oracle
from .base import DbBackupResult, DbError, DbTarget, RestoreSource
from .runas import ToolUser

Settings = Mapping[str, Any]
Secrets = Optional[Mapping[str, str]]


class VendorHooks(Protocol):
    """What a vendor module offers; ``source`` is the recorded result or an image/timestamp by hand."""

    VENDOR: str
    # who runs the native restore commands, and where (RESTORE.md and ``restore --dry-run`` say so)
    RESTORE_USER: str
    # True: the images are written into ``backup_dir`` by the user that runs the tool (DB2: the instance
    # owner), so preflight checks the folder is writable, with room; False: by the database server's own
    # account (SQL Server, Oracle), which preflight cannot check from here
    IMAGES_WRITTEN_BY_TOOL_USER: bool
    # True: ``header_problem`` reads an image's header quickly enough to run on every image before a
    # restore stops anything; False: the vendor has no such check (it is not asked)
    HEADER_CHECK: bool
    # the start of the implementationClassName of the vendor's JDBC driver in WebSphere's resources.xml
    JDBC_DRIVER_PREFIX: str
    # the database server's default port (``init`` shows it when a data source names none)
    DEFAULT_PORT: int

    def targets(self, names: Sequence[str], settings: Optional[Settings] = None) -> List[DbTarget]: ...

    def backup(self, target: DbTarget, settings: Settings, backup_dir: str, *, dry_run: bool = False,
               secrets: Secrets = None, log: Optional[logging.Logger] = None) -> DbBackupResult: ...

    def verify(self, result_or_image: RestoreSource, settings: Settings, *, dry_run: bool = False,
               secrets: Secrets = None, log: Optional[logging.Logger] = None) -> Tuple[Optional[bool], str]: ...

    def restore(self, target: DbTarget, settings: Settings, source: RestoreSource, *,
                backup_dir: Optional[str] = None, dry_run: bool = False, secrets: Secrets = None,
                log: Optional[logging.Logger] = None) -> DbBackupResult: ...

    def restore_commands(self, target: DbTarget, settings: Settings, source: RestoreSource, *,
                         backup_dir: Optional[str] = None) -> List[str]: ...

    def render_backup_script(self, targets_: Sequence[DbTarget], settings: Settings, backup_dir: str) -> str: ...

    def render_restore_script(self, results: Sequence[DbBackupResult], settings: Settings) -> str: ...

    def backup_tools(self, settings: Settings) -> List[str]:
        """The commands a backup with these settings runs, as configured (preflight checks they are there)."""
        ...

    def prepare_settings(self, settings: Settings, secrets: Secrets, log: Optional[logging.Logger]) -> Dict[str, Any]:
        """The settings for every backup of one run, with what is read once from the server first."""
        ...

    def header_problem(self, image: str, database: str, settings: Settings, *, secrets: Secrets = None,
                       log: Optional[logging.Logger] = None) -> Optional[str]:
        """What is wrong with the header of ``database``'s image (None: it reads, or there is no check)."""
        ...

    def forget_backup(self, source: DbBackupResult, settings: Settings, *, dry_run: bool = False,
                      log: Optional[logging.Logger] = None) -> Optional[str]:
        """Remove one recorded backup through the vendor's own catalogue (prune): what was done, or None when
        the images are plain files the caller removes; DbError when the backup may not be removed this way."""
        ...

    def image_pattern(self, name: str, settings: Settings) -> Optional[str]:
        """A regular expression that the file name of every image a backup of ``name`` writes into
        ``backup_dir`` matches in full (``cleanup`` finds the images no set lists by it), or None when
        the vendor's backups are not plain files there that may be removed one by one."""
        ...

    def tool_user(self, settings: Settings) -> ToolUser:
        """Who runs the tools (its name: None for the user running cnxbackup) and the shell that sets its
        environment (DB2 ``sqllib/db2profile``, Oracle ``oraenv``)."""
        ...

    def authority_problems(self, settings: Settings, backup_dir: str, databases: Sequence[str], *,
                           secrets: Secrets = None, log: Optional[logging.Logger] = None) -> List[str]:
        """Before the outage: what that user lacks to take the backup (each names the user, the
        authority and the fix); empty when nothing is missing."""
        ...

    def data_source_settings(self, host: str) -> Dict[str, str]:
        """The ``database`` keys a WebSphere data source's server name gives (``init``)."""
        ...


HOOKS: Dict[str, VendorHooks] = {"db2": db2, "mssql": mssql, "oracle": oracle}
VENDORS = tuple(HOOKS)


def vendor_module(vendor: str) -> VendorHooks:
    """The hook module of ``vendor``; DbError naming the known vendors otherwise."""
    try:
        return HOOKS[vendor]
    except KeyError:
        raise DbError("unknown database vendor %r (expected one of %s)" % (vendor, ", ".join(VENDORS))) from None
