"""The demo: a sample deployment on the project's own stand-ins, runnable without WebSphere.

- :mod:`.prepare`: readies a demo environment's stand-ins and returns the overlay it loads with;
- :mod:`.mockcell`, ``mock_wsadmin/``: the mocked ``wsadmin.sh`` (real Jython 2.7) and its cells;
- :mod:`.fakedb`, ``fakes/``: the fake ``db2``, ``db2ckbkp``, ``sqlcmd``, ``rman``, ``expdp``, ``impdp``;
- :mod:`.sshhosts`: real sshd "hosts" on loopback ports for the multi-host demo.

This package's ``__init__`` imports nothing: the fake tools import :mod:`.fakedb` on every call.
"""
