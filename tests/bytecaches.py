"""Compile the checkout's Python and Jython sources once, before a test session starts its workers.

Where PYTHONDONTWRITEBYTECODE is set (as in this project's test environment), no process caches what it
compiles: every cnxbackup process, fake database or kubectl tool and profile script of the
end-to-end tests compiles each module it imports again (0.2 s of CPU a cnxbackup process), and every
mocked wsadmin launch its Jython modules (0.6 s a launch). The caches written here are read by all of
them; what they run is the same (a source changed since is compiled again in memory, as before).
Jython writes its ``X$py.class`` beside ``X.py`` in place, so each is written aside (a name every
copy of the sources already skips, as it does the caches) and renamed.
"""
from __future__ import annotations

import compileall
import os
import shutil
import subprocess
from typing import Iterable, List

PYTHON_FOLDERS = ("driver", "tests", "tools")
JYTHON_FOLDERS = ("wsadmin/cnxwas", "driver/cnxbackup/demo/mock_wsadmin/jy")  # what the mocked wsadmin imports
JYTHON_COMPILE = """\
import os, sys, py_compile
for source in sys.argv[1:]:
    target = source[:-3] + '$py.class'
    aside = '%s.%d.aside$py.class' % (source[:-3], os.getpid())
    py_compile.compile(source, aside, source, True)
    os.rename(aside, target)
"""


def compile_python(root: str) -> None:
    for folder in PYTHON_FOLDERS:
        compileall.compile_dir(os.path.join(root, folder), quiet=2)


def stale_jython(root: str) -> List[str]:
    """The Jython sources with no compiled class, or one older than the source."""
    stale = []
    for folder in JYTHON_FOLDERS:
        for parent, _dirs, files in os.walk(os.path.join(root, folder)):
            for name in sorted(files):
                if name.endswith(".py"):
                    source = os.path.join(parent, name)
                    target = source[:-3] + "$py.class"
                    if not os.path.exists(target) or os.path.getmtime(target) < os.path.getmtime(source):
                        stale.append(source)
    return stale


def compile_jython(sources: Iterable[str]) -> None:
    """One Jython launch for all of them; without Jython (no end-to-end tests can run) nothing."""
    sources = list(sources)
    if sources and shutil.which("jython"):
        subprocess.run(["jython", "-c", JYTHON_COMPILE, *sources], capture_output=True, timeout=300, check=False)


def precompile(root: str, jython: bool = True) -> None:
    compile_python(root)
    if jython:
        compile_jython(stale_jython(root))
