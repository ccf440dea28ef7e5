"""Native database backup/restore hooks, one module per vendor (db2, mssql, oracle).

Every vendor module fulfils one contract, ``hooks.VendorHooks`` (each operation that runs a
tool takes ``dry_run``), and no vendor is named outside these modules: the rest of the program
goes through the front door, :mod:`.operations` (targets, restore, verify, dry-run commands,
the set's DB scripts, the vendor's tools and its own checks, prune, who restores), :mod:`.images`
(a recorded image still the one recorded, here or on the DB host) and :mod:`.parallel`.

Settings (a dict produced by :func:`.settings.db_settings`)::

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
    script_password_env: str          # the variable scripts reference when password_env is not set
    oracle: {method: rman | datapump, sid: LSCONN, directory: DP_DIR, directory_path: str,
             schemas: [..], per_schema: true}
    timeout: seconds                  # per tool call; the process group is killed after it
    verify_after_backup: bool         # default true (db2ckbkp / RESTORE VERIFYONLY)
    env: {DB2INSTANCE: db2inst1, ...} # extra environment for the tools

Secrets are passed in memory as ``{'db_password': ...}`` and only ever reach a child's environment
(SQLCMDPASSWORD) or a 0600 Data Pump parfile in a private temp dir that is removed afterwards.
"""
from __future__ import annotations

from . import db2, mssql, oracle
from .base import DbBackupResult, DbError, DbTarget, DbTimeout, RestoreSource, run_tool
from .hooks import HOOKS, VENDORS, VendorHooks, vendor_module
from .images import ImageState, image_record, image_state_here, image_state_on_host
from .operations import (
    backup_targets,
    backup_tools,
    data_source_settings,
    db_host,
    db_secrets,
    dry_run_commands,
    forget_database_backup,
    generated_scripts,
    image_header_problem,
    image_name_pattern,
    images_written_by_tool_user,
    jdbc_vendor,
    remote_settings,
    remote_switch,
    restore_commands,
    restore_database,
    restore_runs_as,
    result_from_record,
    run_settings,
    targets_from_settings,
    tool_user_check,
    tools_on_callers_path,
    verify_database,
)
from .parallel import backup_all
from .settings import db_settings, settings_for

__all__ = [
    "HOOKS", "VENDORS", "DbBackupResult", "DbError", "DbTarget", "DbTimeout", "ImageState", "RestoreSource",
    "VendorHooks", "backup_all", "backup_targets", "backup_tools", "data_source_settings", "db2", "db_host",
    "db_secrets", "db_settings", "dry_run_commands", "forget_database_backup", "generated_scripts",
    "image_header_problem", "image_name_pattern", "image_record", "image_state_here", "image_state_on_host", "images_written_by_tool_user",
    "jdbc_vendor", "mssql", "oracle", "remote_settings", "remote_switch", "restore_commands", "restore_database", "restore_runs_as",
    "result_from_record", "run_settings", "run_tool", "settings_for", "targets_from_settings", "tool_user_check",
    "tools_on_callers_path", "vendor_module",
    "verify_database",
]
