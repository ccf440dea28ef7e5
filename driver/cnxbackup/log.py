"""Logging: a log file in the backup set (0600) plus the console, every record redacted."""
from __future__ import annotations

import logging
import os
from typing import Optional

from .outcome import Level
from .redact import REDACT

LOGGER_NAME = "cnxbackup"


FILE_ONLY = "cnx_file_only"  # a record for the log file, already shown on the console


class _NotFileOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, FILE_ONLY, False)


# the log level of a message's level: a note is information, not a warning
LOG_LEVELS = {Level.INFO: logging.INFO, Level.NOTE: logging.INFO, Level.WARNING: logging.WARNING,
              Level.ERROR: logging.ERROR}


def record_in_file(text: str, level: Level = Level.INFO) -> None:
    """What the console showed (progress messages, as printed), into the run's log file too, at its level."""
    get_logger().log(LOG_LEVELS[level], "%s", text, extra={FILE_ONLY: True})


class _RedactFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = REDACT(record.getMessage())
        record.args = None
        return True


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


def setup_console(verbose: bool = False) -> logging.Logger:
    logger = get_logger()
    logger.setLevel(logging.DEBUG)
    if not any(getattr(h, "_cnx_console", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setLevel(logging.DEBUG if verbose else logging.WARNING)
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        handler.addFilter(_RedactFilter())
        handler.addFilter(_NotFileOnly())
        handler._cnx_console = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.propagate = False
    return logger


def add_log_file(path: str) -> logging.Handler:
    """Append to ``path`` (created 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s"))
    handler.addFilter(_RedactFilter())
    get_logger().addHandler(handler)
    return handler


def remove_handler(handler: Optional[logging.Handler]) -> None:
    if handler is not None:
        get_logger().removeHandler(handler)
        handler.close()
