"""`make dist`: the single-file zipapp runs the whole demo from outside the checkout.

The zipapp is built with the same Makefile recipe users run (into a temp dir through
DIST_DIR / DIST_STAGE) and started as ``python3 cnxbackup.pyz`` with the oldest supported
interpreter found (RHEL 9 ships Python 3.9), with no PYTHONPATH and a cwd outside the
checkout, so the driver, its dependencies and its assets can only come from the zipapp.
Skipped only when shiv cannot be installed.
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

import e2e
from cnxbackup.demo import mockcell
from e2e import find_python39

ROOT = e2e.ROOT
SHIV = os.path.join(ROOT, ".venv", "bin", "shiv")


def _oldest_python() -> str:
    """A Python 3.9 interpreter if the machine has one, else the one running the tests."""
    return find_python39() or sys.executable


def _clean_env(tmp: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update({"SHIV_ROOT": os.path.join(tmp, "shiv-root"), "CI": "1"})
    return env


@pytest.fixture(scope="module")
def pyz(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(["make", "-s", "dist", f"DIST_DIR={out}", f"DIST_STAGE={out / 'stage'}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 and not os.path.exists(SHIV):
        pytest.skip("shiv could not be installed into .venv: " + (proc.stdout + proc.stderr)[-500:])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return str(out / "cnxbackup.pyz")


def test_zipapp_contents(pyz):
    names = set(zipfile.ZipFile(pyz).namelist())
    tops = {n.split("/")[1] for n in names if n.startswith("site-packages/") and n.count("/") > 1}
    assert {"cnxbackup", "pexpect", "ptyprocess", "jinja2", "markupsafe", "yaml"} <= tops
    assets = "site-packages/cnxbackup/_assets/"
    for required in ("templates/", "wsadmin/", "environments/demo.yaml"):
        assert any(n.startswith(assets + required) for n in names), required
    demo = "site-packages/cnxbackup/demo/"
    for required in ("mock_wsadmin/wsadmin.sh", "mock_wsadmin/jy/wsadmin_main.py", "mock_wsadmin/cells/was905.json",
                     "fakes/db2", "fakedb.py", "sshhosts.py"):
        assert demo + required in names, required
    assert not any("__pycache__" in n or n.endswith("$py.class") for n in names)
    assert not [n for n in names if n.endswith((".so", ".pyd"))]  # pure Python: any 3.9+ interpreter runs it
    # the fakes and the mock are started as programs: they must stay executable
    info = zipfile.ZipFile(pyz).getinfo(demo + "fakes/db2")
    assert (info.external_attr >> 16) & 0o111


def test_demo_backup_from_zipapp(pyz, tmp_path):
    tmp = str(tmp_path)
    shutil.copy(pyz, tmp)
    env_file = e2e.write_env(tmp)
    python = _oldest_python()
    env = _clean_env(tmp)
    proc = subprocess.run([python, "cnxbackup.pyz", "backup", "--env", env_file], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{python}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"

    # the code that ran is the extracted zipapp, not the checkout
    [extracted] = glob.glob(os.path.join(env["SHIV_ROOT"], "cnxbackup.pyz_*", "site-packages"))
    assert os.path.isdir(os.path.join(extracted, "cnxbackup", "_assets", "templates"))

    [set_dir] = e2e.sets(os.path.join(tmp, "backups"))
    manifest = e2e.manifest(set_dir)
    assert manifest["status"] == "complete"
    assert manifest["archives"] and manifest["databases"]
    for item in manifest["archives"]:
        path = os.path.join(set_dir, item["path"])
        assert e2e.sha256(path) == item["sha256"], item["name"]
        assert os.path.getsize(path) == item["size"], item["name"]
    assert all(db["status"] == "done" and db["timestamp"] for db in manifest["databases"])
    for name in ("REPORT.md", "RESTORE.md"):
        assert os.path.getsize(os.path.join(set_dir, name)) > 0
    # the set carries the very program that wrote it (the zipapp, not a rebuild) and its wsadmin scripts,
    # and RESTORE.md names neither shiv's cache nor the folder the backup ran from
    own = os.path.join(set_dir, "tools", "cnxbackup.pyz")
    assert e2e.sha256(own) == e2e.sha256(pyz) == manifest["tool"]["sha256"]
    assert os.path.isfile(os.path.join(set_dir, "tools", "wsadmin", "cnxwas", "roles.py"))
    runbook = open(os.path.join(set_dir, "RESTORE.md"), encoding="utf-8").read()
    # (the demo's environment names its stand-ins, wsadmin.sh and db2, inside the program: the one path there allowed)
    demo_kit = re.compile(re.escape(env["SHIV_ROOT"]) + r"/cnxbackup\.pyz_[0-9a-f]+/site-packages/cnxbackup/demo/")
    rest = demo_kit.sub("DEMO_KIT/", runbook)
    assert "-f \"$SET\"/tools/wsadmin/stop_servers.py" in rest and ".shiv" not in rest and env["SHIV_ROOT"] not in rest
    launches = [e for e in mockcell.read_log(e2e.mock_env(tmp)) if e.get("event") == "launch"]
    assert len(launches) == 1


def test_pyyaml_pure_python_is_enough(pyz, tmp_path):
    """Compiled dependencies are optional: the driver's YAML loading works without libyaml."""
    tmp = str(tmp_path)
    env = _clean_env(tmp)
    # extract once through a harmless command, then import from the extracted site-packages
    proc = subprocess.run([sys.executable, pyz, "--help"], cwd=tmp, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    [site] = glob.glob(os.path.join(env["SHIV_ROOT"], "cnxbackup.pyz_*", "site-packages"))
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); sys.modules['_yaml'] = None; sys.modules['yaml._yaml'] = None\n"
        "import yaml; assert not yaml.__with_libyaml__\n"
        "from cnxbackup import config, paths\n"
        "assert paths.assets_root().startswith(sys.argv[1])\n"
        "print(config.load_environment('demo').name)\n"
    )
    check = subprocess.run([_oldest_python(), "-c", code, site], cwd=tmp, env=env, capture_output=True, text=True,
                           timeout=120)
    assert check.returncode == 0 and check.stdout.strip() == "demo", check.stdout + check.stderr


def _path_without(tmp: str, *missing: str) -> str:
    """A PATH with every program of this one except ``missing`` (a production host: no Jython,
    no Java, no sshd of its own)."""
    bin_dir = os.path.join(tmp, "bin")
    os.makedirs(bin_dir, exist_ok=True)
    for folder in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(folder) or folder.startswith(os.path.join(ROOT, ".venv")):
            continue
        for name in os.listdir(folder):
            path = os.path.join(folder, name)
            target = os.path.join(bin_dir, name)
            if name in missing or os.path.lexists(target) or not os.access(path, os.X_OK) or os.path.isdir(path):
                continue
            os.symlink(path, target)
    return bin_dir


def test_make_plan_on_a_host_without_jython_java_sshd_or_network(pyz, tmp_path):
    """The production path: the Makefile, environments/ and dist/cnxbackup.pyz; make never runs pip or apt-get."""
    tmp = str(tmp_path)
    checkout = os.path.join(tmp, "checkout")  # what the README says to copy to a production host
    os.makedirs(os.path.join(checkout, "dist"))
    shutil.copy2(os.path.join(ROOT, "Makefile"), checkout)
    shutil.copytree(os.path.join(ROOT, "environments"), os.path.join(checkout, "environments"))
    shutil.copy(pyz, os.path.join(checkout, "dist", "cnxbackup.pyz"))
    env_file = e2e.write_env(tmp)
    bin_dir = _path_without(tmp, "jython", "java", "sshd", "pip", "pip3", "apt-get")
    env = {**_clean_env(tmp), "PATH": bin_dir, "PIP_INDEX_URL": "http://127.0.0.1:9/", "HOME": tmp}
    for tool in ("jython", "java", "sshd"):
        assert shutil.which(tool, path=bin_dir) is None
    proc = subprocess.run(["make", "-s", "plan", f"ENV={env_file}"], cwd=checkout, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Environment demo" in proc.stdout and "Connections 8.0.0.0_CR14" in proc.stdout
    assert not os.path.exists(os.path.join(checkout, ".venv"))  # no pip, no set-up ran
    missing = subprocess.run(["make", "-s", "plan", "ENV=nosuch"], cwd=checkout, env=env, capture_output=True,
                             text=True, timeout=120)
    assert missing.returncode == 2 and "init --env nosuch" in missing.stderr and "demo" in missing.stderr
