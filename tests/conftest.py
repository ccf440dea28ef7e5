"""Shared test set-up: import the driver from the checkout, and the test helpers (e2e, sshhosts)."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (os.path.join(ROOT, "driver"), os.path.join(ROOT, "tests")):
    if path not in sys.path:
        sys.path.insert(0, path)

from cpkit import cp_set, cp_shared  # noqa: E402,F401  (a Component Pack backup per session, a pristine copy per test)
from format1kit import format1_set  # noqa: E402,F401  (the format-1 fixture set, laid out as its manifest says)
from restorekit import ctx, shared_backup  # noqa: E402,F401  (a demo backup per session, a pristine copy per test)
from sshhosts import ssh_hosts_factory  # noqa: E402,F401  (the session fixture of the ssh test hosts)
