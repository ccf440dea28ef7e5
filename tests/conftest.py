"""Shared test set-up: import the driver from the checkout, and the test helpers (e2e, sshhosts)."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (os.path.join(ROOT, "driver"), os.path.join(ROOT, "tests")):
    if path not in sys.path:
        sys.path.insert(0, path)

from restorekit import ctx, shared_backup  # noqa: E402,F401  (a demo backup per module, a pristine copy per test)
from sshhosts import ssh_hosts_factory  # noqa: E402,F401  (the session fixture of the ssh test hosts)
