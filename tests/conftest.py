"""Shared test set-up: import the driver from the checkout, and the mock helpers by path."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (os.path.join(ROOT, "driver"), os.path.join(ROOT, "tests"), os.path.join(ROOT, "tests", "mock_wsadmin"),
             os.path.join(ROOT, "tests", "fakes")):
    if path not in sys.path:
        sys.path.insert(0, path)
