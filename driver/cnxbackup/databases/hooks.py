"""The one contract every vendor hook module fulfils, and the lookup from vendor name to module.

Each of ``db2``, ``mssql`` and ``oracle`` is checked against ``VendorHooks`` by mypy (the
``HOOKS`` table below is typed with it) and by ``tests/test_database_front.py``. Every
operation takes ``dry_run``: with it, nothing runs and the result says what would have.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple

from . import db2, mssql, oracle
from .base import DbBackupResult, DbError, DbTarget, RestoreSource

Settings = Mapping[str, Any]
Secrets = Optional[Mapping[str, str]]


class VendorHooks(Protocol):
    """What a vendor module offers; ``source`` is the recorded result or an image/timestamp by hand."""

    VENDOR: str

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


HOOKS: Dict[str, VendorHooks] = {"db2": db2, "mssql": mssql, "oracle": oracle}
VENDORS = tuple(HOOKS)


def vendor_module(vendor: str) -> VendorHooks:
    """The hook module of ``vendor``; DbError naming the known vendors otherwise."""
    try:
        return HOOKS[vendor]
    except KeyError:
        raise DbError("unknown database vendor %r (expected one of %s)" % (vendor, ", ".join(VENDORS))) from None
