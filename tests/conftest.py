"""Shared test set-up: import the driver from the checkout, and the test helpers (e2e, sshhosts)."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (os.path.join(ROOT, "driver"), os.path.join(ROOT, "tests")):
    if path not in sys.path:
        sys.path.insert(0, path)

from bytecaches import precompile  # noqa: E402  (the bytecode caches of the checkout, once a session)
from cpkit import cp_set, cp_shared  # noqa: E402,F401  (a Component Pack backup per session, a pristine copy per test)
from format1kit import format1_set  # noqa: E402,F401  (the format-1 fixture set, laid out as its manifest says)
from restorekit import ctx, shared_backup  # noqa: E402,F401  (a demo backup per session, a pristine copy per test)
from sshhosts import ssh_hosts_factory  # noqa: E402,F401  (the session fixture of the ssh test hosts)

UNIT = os.path.join(ROOT, "tests", "unit")


def pytest_sessionstart(session) -> None:
    """Bytecode caches for every process the tests start (tests/bytecaches.py): once, in the process
    that starts the xdist workers (before them); the Jython half only when end-to-end tests may run."""
    config = session.config
    if hasattr(config, "workerinput"):
        return
    paths = [os.path.abspath(os.path.join(str(config.invocation_params.dir), arg.split("::")[0])) for arg in config.args]
    precompile(ROOT, jython=not paths or any(p != UNIT and not p.startswith(UNIT + os.sep) for p in paths))
