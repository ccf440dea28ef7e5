"""Passwords come only from an environment variable, a 0600 file or a prompt.

They are kept in memory, handed to children through stdin, a child's environment or a
private file deleted straight after use, and masked in everything that is logged.
"""
from __future__ import annotations

import getpass
import os
import stat
import sys
from typing import Dict, Optional

from .errors import ConfigError
from .redact import MASK, REDACT, Redactor

__all__ = ["MASK", "REDACT", "Redactor", "read_password"]


def read_password(section: Dict[str, object], what: str, where: str, required: bool = True) -> Optional[str]:
    """Resolve ``password_env`` / ``password_file`` / ``password_prompt`` of a config section."""
    env_name = section.get("password_env")
    file_name = section.get("password_file")
    if env_name:
        value = os.environ.get(str(env_name))
        if value is None:
            raise ConfigError(f"{where}: the {what} password is read from environment variable {env_name}, which is not set")
        return value
    if file_name:
        return _read_password_file(str(file_name), what, where)
    if section.get("password_prompt"):
        if not sys.stdin.isatty():
            raise ConfigError(f"{where}: password_prompt is set but there is no terminal to ask for the {what} password")
        return getpass.getpass(f"{what} password: ")
    if required:
        raise ConfigError(f"{where}: no {what} password: set password_env, password_file or password_prompt")
    return None


def _read_password_file(path: str, what: str, where: str) -> str:
    try:
        info = os.stat(path)
    except OSError as error:
        raise ConfigError(f"{where}: {what} password file {path}: {error.strerror}") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{where}: {what} password file {path} is readable by others "
                          f"(mode {stat.S_IMODE(info.st_mode):04o}); chmod 600 it")
    with open(path, encoding="utf-8") as handle:
        line = handle.readline().rstrip("\r\n")
    if not line:
        raise ConfigError(f"{where}: {what} password file {path} is empty")
    return line
