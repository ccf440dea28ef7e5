"""`make dist`: the single-file zipapp runs the whole demo from outside the checkout.

The zipapp is built with the same Makefile recipe users run (into a temp dir through
DIST_DIR / DIST_STAGE) and started as ``python3 cnxbackup.pyz`` with the oldest supported
interpreter found (RHEL 9 ships Python 3.9), with no PYTHONPATH and a cwd outside the
checkout, so the driver, its dependencies and its assets can only come from the zipapp.
Skipped only when shiv cannot be installed.
"""
from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

import e2e
from cnxbackup import selfpack
from cnxbackup.demo import mockcell
from e2e import find_python39
from pythonkit import python36_env

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


@pytest.fixture(scope="module")
def zipapp_demo(pyz, tmp_path_factory) -> tuple:
    """(folder, environment, the backup's process, its Python): the demo backed up by the zipapp."""
    tmp = str(tmp_path_factory.mktemp("zipapp-demo"))
    shutil.copy(pyz, tmp)
    env_file = e2e.write_env(tmp)
    python = _oldest_python()
    env = _clean_env(tmp)
    proc = subprocess.run([python, "cnxbackup.pyz", "backup", "--env", env_file], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=600)
    return tmp, env, proc, python


def test_demo_backup_from_zipapp(pyz, zipapp_demo):
    tmp, env, proc, python = zipapp_demo
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


def test_the_demos_wsadmin_runs_a_wsadmin_script_by_hand(zipapp_demo, tmp_path):
    """README, "Running the wsadmin scripts by hand", on the demo: its Dmgr01/bin/wsadmin.sh is the
    mocked wsadmin on the demo's cell (one JVM), logging in at the console as on a real Dmgr."""
    tmp, env, proc, _python = zipapp_demo
    assert proc.returncode == 0, proc.stderr[-3000:]
    before = len(mockcell.read_log(e2e.mock_env(tmp)))
    wsadmin = os.path.join(tmp, "demo", "tree", "opt/IBM/WebSphere/AppServer/profiles/Dmgr01/bin/wsadmin.sh")
    cell = json.load(open(e2e.mock_env(tmp)["CNXMOCK_CELL"], encoding="utf-8"))
    out = tmp_path / "aliases.json"
    run = subprocess.run([wsadmin, "-lang", "jython", "-f", "wsadmin/list_auth_aliases.py", "--out", str(out)],
                         cwd=ROOT, input=f"\n{cell['adminUser']}\n{cell['adminPassword']}\n", capture_output=True,
                         text=True, timeout=240, env={k: v for k, v in env.items() if not k.startswith("CNXMOCK_")})
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(a["alias"] for a in json.loads(out.read_text())["aliases"]) == sorted(a["alias"] for a in cell["authData"])
    [launch] = [e for e in mockcell.read_log(e2e.mock_env(tmp))[before:] if e.get("event") == "launch"]
    assert launch["credentialSource"] == "prompt"


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


def test_project_is_the_folder_with_environments_or_the_current_one_never_the_unpack_cache(pyz, tmp_path):
    """``{project}`` (the demo's root and its sets) from the zipapp: the bundled demo.yaml in a folder
    without environments/ means the current folder; a copied environments/demo.yaml, the folder above it."""
    tmp = str(tmp_path)
    env = _clean_env(tmp)
    proc = subprocess.run([sys.executable, pyz, "--help"], cwd=tmp, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    [site] = glob.glob(os.path.join(env["SHIV_ROOT"], "cnxbackup.pyz_*", "site-packages"))
    site_dir = os.path.join(tmp, "opt-cnxbackup")
    os.makedirs(os.path.join(site_dir, "environments"))
    shutil.copy(os.path.join(ROOT, "environments", "demo.yaml"), os.path.join(site_dir, "environments"))
    code = ("import sys; sys.path.insert(0, sys.argv[1])\n"
            "from cnxbackup import config\n"
            "for given in sys.argv[2:]:\n"
            "    env = config.load_environment(given)\n"
            "    print(env.data['demo']['root'], env.section('target')['dir'])\n")
    check = subprocess.run([sys.executable, "-c", code, site, "demo", os.path.join(site_dir, "environments", "demo.yaml")],
                           cwd=tmp, env=env, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    bundled, copied = [line.split() for line in check.stdout.splitlines()]
    assert bundled == [f"{tmp}/.cnxbackup/demo", f"{tmp}/.cnxbackup/backups"]
    assert copied == [f"{site_dir}/.cnxbackup/demo", f"{site_dir}/.cnxbackup/backups"]
    assert not glob.glob(os.path.join(env["SHIV_ROOT"], "**", ".cnxbackup"), recursive=True)


def test_on_python_36_the_zipapps_say_which_python_they_need_in_one_line(pyz, tmp_path):
    """RHEL 8's and SLES 15's python3 (3.6), played by this interpreter (tests/pythonkit.py: its
    version says 3.6.8 and the program's modules are compiled as 3.6 would): ``make dist``'s zipapp
    and a set's own program exit 2 with one line naming the Python to install, no traceback."""
    tmp = str(tmp_path)
    shutil.copy(pyz, tmp)
    own = os.path.join(tmp, "set-tools", "cnxbackup.pyz")
    os.makedirs(os.path.dirname(own))
    selfpack.build_zipapp(own)
    scratch = os.path.join(tmp, "scratch")
    os.makedirs(scratch)
    env = python36_env(os.path.join(tmp, "py36"), {**_clean_env(tmp), "TMPDIR": scratch},
                       os.path.join(tmp, "cnxbackup.pyz"), os.path.join(tmp, "shiv-root"), own, scratch)
    control = subprocess.run([sys.executable, "-c", "import cnxbackup.cli"], capture_output=True, text=True, timeout=60,
                             env={**env, "PYTHONPATH": env["PYTHONPATH"] + os.pathsep + e2e.DRIVER, "PY36_CHECKED": e2e.DRIVER})
    assert "SyntaxError: future feature annotations is not defined" in control.stderr, control.stderr
    for program, shown in (("cnxbackup.pyz", "cnxbackup.pyz"), (own, own)):
        run = subprocess.run([sys.executable, program, "plan", "--env", "prod"], cwd=tmp, env=env, capture_output=True,
                             text=True, timeout=120)
        assert run.returncode == 2 and run.stdout == "" and run.stderr.count("\n") == 1, program + run.stderr
        assert run.stderr.startswith("cnxbackup needs Python 3.9 or later, this is 3.6.8 "), run.stderr
        assert f"RHEL 8: dnf install python39 (or python3.11), then python3.9 {shown} ...;" in run.stderr
        assert f"SLES 15: zypper install python311, then python3.11 {shown} ..." in run.stderr
    assert os.listdir(scratch) == []  # the set's program removed what it unpacked


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
    # plan logs in to the Dmgr: WebSphere brings its own Java, so here a wsadmin that needs none answers
    wsadmin = os.path.join(tmp, "wsadmin.sh")
    with open(wsadmin, "w", encoding="utf-8") as handle:
        handle.write("#!/bin/sh\necho 'WASX7209I: Connected to process \"dmgr\" on node CellManager01 using SOAP "
                     "connector;  The type of process is: DeploymentManager'\nprintf 'wsadmin>'\nread line\n")
    os.chmod(wsadmin, 0o755)
    env_file = e2e.write_env(tmp, wsadmin_command=wsadmin)
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


def test_make_on_a_host_without_apt_get_names_make_dist_and_installs_nothing(tmp_path):
    """A checkout on RHEL or SLES (no apt-get, no dist/cnxbackup.pyz): make names what is missing and
    the production way, make dist's zipapp; it never says it installs, and makes no venv. Production
    needs no Jython or Java of its own (WebSphere's wsadmin brings Jython): only the demo asks for them."""
    tmp = str(tmp_path)
    checkout = os.path.join(tmp, "checkout")
    os.makedirs(checkout)
    shutil.copy2(os.path.join(ROOT, "Makefile"), checkout)
    shutil.copytree(os.path.join(ROOT, "environments"), os.path.join(checkout, "environments"))
    with open(os.path.join(checkout, "environments", "prod.yaml"), "w", encoding="utf-8") as handle:
        handle.write("target: {dir: /backup/cnx}\n")
    rhel = _path_without(os.path.join(tmp, "rhel"), "jython", "java", "apt-get", "pip", "pip3")
    without_zstd = _path_without(os.path.join(tmp, "minimal"), "jython", "java", "apt-get", "pip", "pip3", "zstd")

    def make(path: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["make", "-s", *args], cwd=checkout, capture_output=True, text=True, timeout=120,
                              env={**_clean_env(tmp), "PATH": path, "HOME": tmp})

    for args, missing in ((["plan", "ENV=prod"], "zstd"), (["plan", "ENV=demo"], "jython java zstd"),
                          (["verify", "SET=/backup/cnx/x", "ENV=prod"], "zstd")):
        run = make(without_zstd, *args)
        assert run.returncode != 0, run.stdout + run.stderr
        first = run.stderr.splitlines()[0]
        assert first == f"error: this host lacks {missing} and has no apt-get (RHEL, SLES): make installs nothing here.", run.stderr
        assert "make dist" in run.stderr and "copy dist/cnxbackup.pyz" in run.stderr and "dnf install" in run.stderr
        assert "installing" not in run.stdout + run.stderr
    assert make(rhel, "run-deps", "ENV=prod").returncode == 0  # production: no Jython, no Java, nothing asked
    setup = make(rhel, "setup")
    assert setup.returncode != 0 and "lacks jython java and has no apt-get" in setup.stderr
    assert "installing" not in setup.stdout + setup.stderr
    assert not os.path.exists(os.path.join(checkout, ".venv"))
