"""From the environment's ``database`` section to the settings mapping the vendor hooks read.

The schema (``config.schema``) is the one source of the defaults: the hooks read every key by
index, never with a fallback of their own, so a default is written once and a missing key
is a bug that shows, not a value that differs from the documented one. One key is not the
schema's: ``switch``, how a tool reaches its owner (see :func:`hook_settings`).
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from ..config import Environment
from ..config.schema import SCHEMA, with_defaults

TOOL_KEYS = tuple(SCHEMA["database"].section["command"].section)
SECRET_ENV = ["SQLCMDPASSWORD"]  # passwords a remote tool gets on stdin, never on a command line


def hook_settings(section: Mapping[str, Any]) -> Dict[str, Any]:
    """The hooks' settings from (part of) a ``database`` section: checked like an environment
    file's, the schema's defaults filled in, the tool environment as text."""
    settings = with_defaults("database", section)
    settings["env"] = {key: str(value) for key, value in settings["env"].items()}
    # the words that switch a tool to its owner: None, each vendor's own here (``runas``); a list when
    # the tools run on a DB host, where the ssh shim's remote command carries the switch
    settings["switch"] = None
    return settings


def db_settings(env: Environment) -> Dict[str, Any]:
    """The hooks' settings for an environment."""
    return hook_settings(env.section("database"))


def settings_for(vendor: str, env: Optional[Environment]) -> Dict[str, Any]:
    """The environment's settings when it is of ``vendor``; the schema's defaults otherwise
    (the runbook of a set read without its environment)."""
    if env is not None and env.section("database").get("vendor") == vendor:
        return db_settings(env)
    return hook_settings({"vendor": vendor})
