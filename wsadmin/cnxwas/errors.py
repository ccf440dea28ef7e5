"""Exceptions that carry an exit code; cli.run turns them into one ERROR line."""


class CnxError(Exception):
    exitCode = 1

    def __init__(self, message):
        Exception.__init__(self, message)
        self.message = message

    def __str__(self):
        return self.message


class OperationError(CnxError):
    """The operation failed (unknown application, user not in WIM, ...): exit 1."""
    exitCode = 1


class UsageError(CnxError):
    """Bad options: exit 2."""
    exitCode = 2
