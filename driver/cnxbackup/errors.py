"""Exceptions and the exit codes scripts can rely on."""
from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_WARNINGS = 3
EXIT_INTERRUPTED = 130


class CnxBackupError(Exception):
    """A failure the user can act on; the message names the file, key, host or path at fault."""

    exit_code = EXIT_FAILED


class ConfigError(CnxBackupError):
    """Bad configuration or usage (exit 2)."""

    exit_code = EXIT_USAGE


class PreflightError(CnxBackupError):
    """A check before any change failed (missing path, no room, tool missing, lock held)."""


class LockHeld(PreflightError):
    """Another cnxbackup run holds the lock of this environment."""


class StepFailed(CnxBackupError):
    """One step of a run failed; the journal records which."""


class Interrupted(CnxBackupError):
    """Ctrl-C / SIGTERM."""

    exit_code = EXIT_INTERRUPTED
