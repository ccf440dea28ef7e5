"""The CLI in this process, for the unit tier: ``cnxbackup.cli.main`` with what it changes in the
process (umask, signal handlers, the console log handler) put back afterwards."""
from __future__ import annotations

import os
import signal
import subprocess
from typing import Any

from cnxbackup import cli
from cnxbackup.log import get_logger


def run_cli(capsys: Any, *argv: str) -> subprocess.CompletedProcess:
    """``cnxbackup ARGV`` as a CompletedProcess (its exit code, stdout and stderr), run in-process."""
    umask = os.umask(0o022)
    os.umask(umask)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    logger = get_logger()
    before = list(logger.handlers)
    capsys.readouterr()
    try:
        try:
            code = cli.main(list(argv))
        except SystemExit as error:
            code = error.code if isinstance(error.code, int) else 2
    finally:
        os.umask(umask)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        for handler in logger.handlers[:]:
            if handler not in before:
                logger.removeHandler(handler)
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["cnxbackup", *argv], code, out, err)
