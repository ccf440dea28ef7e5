"""From the environment's ``database`` section to the settings mapping the vendor hooks read."""
from __future__ import annotations

from typing import Any, Dict, Optional

from ..config import Environment

TOOL_KEYS = ("db2", "db2ckbkp", "sqlcmd", "rman", "expdp", "impdp")
SECRET_ENV = ["SQLCMDPASSWORD"]  # passwords a remote tool gets on stdin, never on a command line


def db_settings(env: Environment) -> Dict[str, Any]:
    """The hooks' settings dict, built from the ``database`` section."""
    db = dict(env.section("database"))
    settings: Dict[str, Any] = {
        "vendor": db.get("vendor"),
        "command": dict(db.get("command") or {}),
        "backup_dir": db.get("backup_dir"),
        "databases": db.get("databases"),
        "concurrency": db.get("concurrency", 1),
        "online": db.get("online", False),
        "force_applications": db.get("force_applications", False),
        "server": db.get("server"),
        "auth": db.get("auth", "os"),
        "user": db.get("user"),
        "password_env": db.get("password_env"),
        "oracle": dict(db.get("oracle") or {}),
        "timeout": db.get("timeout", 14400),
        "verify_after_backup": db.get("verify_after_backup", True),
        "env": {k: str(v) for k, v in (db.get("env") or {}).items()},
    }
    return settings


def settings_for(vendor: str, env: Optional[Environment]) -> Dict[str, Any]:
    """The environment's settings when it is of ``vendor``; bare defaults otherwise (RESTORE.md of a set)."""
    if env is not None and env.section("database").get("vendor") == vendor:
        return db_settings(env)
    return {"vendor": vendor, "command": {}, "env": {}, "oracle": {}}
