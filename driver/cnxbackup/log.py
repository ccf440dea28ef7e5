"""Logging: a log file in the backup set (0600) plus the console, every record redacted."""
from __future__ import annotations

import errno
import logging
import os
import stat
from typing import Optional

from .outcome import Level
from .redact import REDACT
from .shown import printable

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
        record.msg = printable(REDACT(record.getMessage()), keep_newlines=True)
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


def _open_log(path: str) -> int:
    """``path`` opened for appending (created 0600) only if it is this user's regular file with one
    name: it lies in a set others may write, where a link, a hard link or a FIFO could be planted."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o600)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or info.st_uid != os.geteuid():
        os.close(fd)
        raise PermissionError(errno.EPERM, "not a log file of this user (a regular file of one name, owned by the user "
                              "running cnxbackup); nothing was written to it", path)
    return fd


def add_log_file(path: str) -> logging.Handler:
    """Append to ``path`` (created 0600; never through a link, hard link or FIFO planted there)."""
    fd = _open_log(path)
    handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    handler.stream = os.fdopen(fd, "a", encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s"))
    handler.addFilter(_RedactFilter())
    get_logger().addHandler(handler)
    return handler


def remove_handler(handler: Optional[logging.Handler]) -> None:
    if handler is not None:
        get_logger().removeHandler(handler)
        handler.close()
