"""Native database backup/restore hooks, one module per vendor (db2, mssql, oracle).

Every vendor module offers the same duck-typed functions, each taking ``dry_run``:
``backup(target, settings, backup_dir, *, dry_run, secrets, log) -> DbBackupResult``,
``verify(result_or_image, settings, *, dry_run) -> (ok: bool | None, message)`` (None = no verifier),
``restore(target, settings, source, *, dry_run, secrets, log) -> DbBackupResult``,
``restore_commands(target, settings, source) -> list[str]``,
``render_backup_script(targets, settings, backup_dir)``, ``render_restore_script(results, settings)``.

Settings (a dict produced by the config loader)::

    vendor: db2 | mssql | oracle
    command: {db2: db2, db2ckbkp: db2ckbkp, sqlcmd: sqlcmd, rman: rman, expdp: expdp, impdp: impdp}
    backup_dir: str                   # as the database server sees it
    databases: [names] | None         # None -> defaults.default_databases(vendor, version, ccm)
    concurrency: int                  # parallel backups (default 1)
    online: bool                      # DB2: online ... include logs; Oracle RMAN: hot backup (ARCHIVELOG)
    force_applications: bool         # DB2: on SQL1035N use instance-wide `force applications all`
    server: str                       # mssql -S
    auth: os | password               # mssql -E / -U user; oracle "/ as sysdba" / user
    user: str
    password_env: str                 # env var holding the password (scripts reference it, never the value)
    oracle: {method: rman | datapump, sid: LSCONN, directory: DP_DIR, directory_path: str,
             schemas: [..], per_schema: true}
    timeout: seconds                  # per tool call; the process group is killed after it
    verify_after_backup: bool         # default true (db2ckbkp / RESTORE VERIFYONLY)
    env: {DB2INSTANCE: db2inst1, ...} # extra environment for the tools

Secrets are passed in memory as ``{'db_password': ...}`` and only ever reach a child's environment
(SQLCMDPASSWORD) or a 0600 Data Pump parfile in a private temp dir that is removed afterwards.
"""
from __future__ import annotations

from typing import Any, Mapping

from cnxbackup.databases.base import (  # noqa: F401  (re-exported interface)
    DbBackupResult, DbError, DbTarget, DbTimeout, backup_all, run_tool, vendor_module,
)
from cnxbackup.databases.defaults import default_databases


def targets_from_settings(settings: Mapping[str, Any], connections_version: str, ccm: bool) -> list[DbTarget]:
    """The backup units for these settings; database names from config or the release defaults."""
    vendor = settings.get("vendor")
    module = vendor_module(str(vendor))
    names = settings.get("databases") or default_databases(str(vendor), connections_version, ccm)
    if vendor == "oracle":
        return module.targets(names, settings)
    return module.targets(names)
