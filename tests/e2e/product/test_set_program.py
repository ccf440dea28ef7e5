"""The program a set carries (``tools/cnxbackup.pyz``), as built from a checkout: one file, no compiled
module, that runs on this interpreter and on Python 3.9 without the checkout or the venv."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import zipfile

import pytest

import e2e
from cnxbackup import __version__
from cnxbackup.selfpack import build_zipapp


def clean_env(tmp: str) -> dict:
    """No PYTHONPATH, no venv, no folder of the checkout on PATH, a HOME of its own."""
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and not p.startswith(e2e.ROOT)]
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONSTARTUP")
    return {**{k: v for k, v in os.environ.items() if k not in drop}, "PATH": os.pathsep.join(path), "HOME": tmp,
            "CI": "1"}


@pytest.fixture(scope="module")
def pyz(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("selfpack") / "cnxbackup.pyz")
    started = time.monotonic()
    build_zipapp(path)
    elapsed = time.monotonic() - started
    assert elapsed < 10 and os.path.getsize(path) < 5 << 20, (elapsed, os.path.getsize(path))
    return path


def test_the_built_program_holds_no_compiled_module_and_its_assets(pyz) -> None:
    with zipfile.ZipFile(pyz) as archive:
        names = archive.namelist()
    assert not [n for n in names if n.endswith((".so", ".pyd", ".pyc")) or "__pycache__" in n]
    for name in ("__main__.py", "cnxbackup/cli.py", "cnxbackup/_assets/wsadmin/import_role_mappings.py",
                 "cnxbackup/_assets/templates/report/RESTORE.md.j2", "jinja2/__init__.py", "markupsafe/__init__.py",
                 "yaml/__init__.py", "pexpect/__init__.py", "ptyprocess/__init__.py"):
        assert name in names, name
    again = pyz + ".again"
    build_zipapp(again)
    assert e2e.sha256(again) == e2e.sha256(pyz)  # the same code gives the same bytes


@pytest.mark.parametrize("which", ["this", "3.9"])
def test_the_built_program_runs_without_the_checkout(pyz, which, tmp_path) -> None:
    python = sys.executable if which == "this" else e2e.find_python39()
    if python is None:
        pytest.skip("no python3.9 interpreter on this machine")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    proc = subprocess.run([python, pyz, "--version"], capture_output=True, text=True, cwd=str(tmp_path),
                          env={**clean_env(str(tmp_path)), "TMPDIR": str(scratch)}, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"cnxbackup {__version__}", proc.stdout + proc.stderr
    assert os.listdir(scratch) == []  # its private extraction folder is gone
    # the pure-Python fallbacks are what runs (the compiled modules were left out)
    probe = subprocess.run([python, "-c", "import yaml, markupsafe; print(yaml.__with_libyaml__, markupsafe.escape('<'))"],
                           capture_output=True, text=True, cwd=str(tmp_path),
                           env={**clean_env(str(tmp_path)), "PYTHONPATH": pyz}, timeout=60)
    assert probe.stdout.split() == ["False", "&lt;"], probe.stdout + probe.stderr
