"""The way onto RHEL and SLES: the program's first module names the Python it needs on an older one,
``{project}`` outside a checkout is the folder that holds ``environments/``, the demo's fakes run with
the program's own Python, and the demo's ``Dmgr01/bin/wsadmin.sh`` runs the wsadmin scripts by hand.
(The zipapps themselves on a Python 3.6 stand-in: tests/e2e/product/test_dist.py.)"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

import e2e
from cnxbackup import launch, paths, selfpack
from cnxbackup.config import load_environment
from cnxbackup.demo import fakedb, mockcell
from cnxbackup.demo import prepare as demo_prepare
from pythonkit import vermin_command

DRIVER = os.path.join(e2e.ROOT, "driver", "cnxbackup")


# ----------------------------------------------------------------------------- the entry on an old Python


def test_an_old_python_is_told_in_one_line_which_python_to_install():
    line = launch.too_old_message((3, 6, 8, "final", 0), "/usr/bin/python3", "dist/cnxbackup.pyz")
    assert "\n" not in line
    for words in ("needs Python 3.9 or later", "this is 3.6.8 (/usr/bin/python3)",
                  "RHEL 8: dnf install python39 (or python3.11), then python3.9 dist/cnxbackup.pyz",
                  "RHEL 9: its python3 (3.9) runs it", "SLES 15: zypper install python311, then python3.11 dist/cnxbackup.pyz"):
        assert words in line, line
    assert launch.too_old_message((3, 9, 0, "final", 0), "/usr/bin/python3", "x.pyz") == ""
    assert launch.too_old_message((2, 7, 18, "final", 0), "/usr/bin/python2", "x.pyz").startswith("cnxbackup needs")


def test_on_an_old_python_main_exits_2_before_the_command_line_is_imported(monkeypatch, capsys):
    reached = []
    monkeypatch.setattr(launch.importlib, "import_module", lambda name: reached.append(name))
    monkeypatch.setattr(launch.sys, "version_info", (3, 6, 8, "final", 0))
    monkeypatch.setattr(launch.sys, "argv", ["dist/cnxbackup.pyz", "plan", "--env", "prod"])
    assert launch.main() == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "then python3.9 dist/cnxbackup.pyz ..." in err
    assert reached == []


def test_what_runs_before_the_version_check_is_valid_on_python_27_and_3x(tmp_path):
    """The zipapps' first code: the set's own ``__main__``, ``cnxbackup/__init__.py`` and ``launch``
    (no ``annotations`` future, no f-string); the same check flags a module of the rest."""
    main = tmp_path / "set_main.py"
    main.write_text(selfpack.MAIN)
    entry = [str(main), os.path.join(DRIVER, "__init__.py"), os.path.join(DRIVER, "launch.py")]
    flags = ["-q", "--no-tips", "--violations", "-t=2.7", "-t=3.1-"]
    proc = subprocess.run(vermin_command() + flags + entry, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    control = subprocess.run(vermin_command() + flags + [os.path.join(DRIVER, "cli.py")], capture_output=True,
                             text=True, timeout=120)
    assert control.returncode != 0 and "annotations" in control.stdout, control.stdout + control.stderr


# ----------------------------------------------------------------------------- {project}


@pytest.fixture
def as_zipapp(monkeypatch):
    """paths as in the zipapp: the assets bundled inside the package (its unpack cache)."""
    monkeypatch.setattr(paths, "assets_root", lambda: os.path.join(os.path.dirname(paths.__file__), "_assets"))


def test_project_in_a_checkout_is_the_checkout(tmp_path):
    assert paths.project_root(str(tmp_path / "environments" / "prod.yaml")) == e2e.ROOT


def test_project_in_the_zipapp_is_the_folder_that_holds_environments(tmp_path, monkeypatch, as_zipapp):
    site = tmp_path / "opt" / "cnxbackup"
    (site / "environments").mkdir(parents=True)
    env_file = site / "environments" / "prod.yaml"
    env_file.write_text('target: {dir: "{project}/backups"}\ndatabase: {vendor: none}\n')
    monkeypatch.chdir(tmp_path)
    assert load_environment(str(env_file)).section("target")["dir"] == str(site / "backups")


def test_project_in_the_zipapp_is_else_the_current_folder_never_the_unpack_cache(tmp_path, monkeypatch, as_zipapp):
    bundled = os.path.join(os.path.dirname(paths.__file__), "_assets", "environments", "demo.yaml")
    monkeypatch.chdir(tmp_path)
    assert paths.project_root(bundled) == str(tmp_path)
    loose = tmp_path / "etc" / "prod.yaml"
    loose.parent.mkdir()
    assert paths.project_root(str(loose)) == str(tmp_path)


# ----------------------------------------------------------------------------- the demo's fakes


def test_the_fakes_run_with_the_programs_python_where_path_has_no_python3(tmp_path):
    env = fakedb.prepare(str(tmp_path / "fake"), "db2", ["FILES"])
    bin_dir = env["PATH"].split(os.pathsep)[0]
    assert f"exec {sys.executable} -S" in open(os.path.join(bin_dir, "python3"), encoding="utf-8").read()
    empty = tmp_path / "empty"
    empty.mkdir()
    # a host whose PATH has no python3 at all: only the fakes' own folder and one without it
    run = subprocess.run([fakedb.tool_path("db2"), "list", "db", "directory"], capture_output=True, text=True,
                         env={**env, "PATH": f"{bin_dir}{os.pathsep}{empty}"}, timeout=60)
    assert run.returncode == 0 and "FILES" in run.stdout, run.stdout + run.stderr
    bare = subprocess.run([fakedb.tool_path("db2"), "list", "db", "directory"], capture_output=True, text=True,
                          env={**env, "PATH": str(empty)}, timeout=60)
    assert bare.returncode != 0  # control: without that folder, /usr/bin/env finds no python3


def test_the_fakes_python_is_rewritten_for_the_python_now_running(tmp_path, monkeypatch):
    folder = str(tmp_path / "kube")
    wrapper = os.path.join(fakedb.python_dir(folder), "python3")
    monkeypatch.setattr(fakedb.sys, "executable", "/opt/rh/python3.9")
    assert fakedb.python_dir(folder) == os.path.dirname(wrapper)
    assert "exec /opt/rh/python3.9 -S" in open(wrapper, encoding="utf-8").read()


def test_a_fake_run_as_another_user_gets_a_python_that_user_can_reach(monkeypatch):
    monkeypatch.setattr(fakedb.sys, "executable", "/root/.venv/bin/python")
    monkeypatch.setattr(fakedb, "_anyone_can_run", lambda path: path != "/root/.venv/bin/python" and os.path.exists(path))
    assert fakedb.stand_in_python() == "/root/.venv/bin/python"
    assert fakedb.stand_in_python(fakedb.user_name()) == "/root/.venv/bin/python"
    other = fakedb.stand_in_python("db2inst1")
    assert other != "/root/.venv/bin/python" and other.startswith("/usr/bin/python")


def test_the_component_pack_fakes_get_the_same_python(tmp_path):
    env = load_environment(e2e.write_env(str(tmp_path), extra=(
        'component_pack:\n  pv_root: "{demo_root}/tree/pv-connections"\n'
        '  command: {kubectl: "{demo_kit}/fakes/kubectl", helm: "{demo_kit}/fakes/helm"}\n')))
    kube_env = demo_prepare._component_pack(env, str(tmp_path / "demo"), build_tree=True)
    first = kube_env["PATH"].split(os.pathsep)[0]
    run = subprocess.run([os.path.join(fakedb.FAKES_DIR, "kubectl"), "get", "pods", "-n", "connections", "-o", "json"],
                         env={**kube_env, "PATH": first}, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "mongo7-0" in run.stdout, run.stdout + run.stderr


# ----------------------------------------------------------------------------- wsadmin by hand on the demo


def test_the_demo_trees_wsadmin_runs_the_mock_with_the_demos_settings(tmp_path):
    root = tmp_path / "demo"
    was = root / "tree" / "opt" / "IBM" / "WebSphere" / "AppServer"
    (was / "bin").mkdir(parents=True)
    (was / "bin" / "wsadmin.sh").write_text('#!/bin/sh\nexec java "$@"\n')
    settings = {"CNXMOCK_CELL": str(root / "mock" / "was905.cell.json"), "CNXMOCK_STATE": str(root / "mock" / "s p.json")}
    demo_prepare._wsadmin_by_hand(str(was), str(root), settings)
    script = was / "bin" / "wsadmin.sh"
    text = script.read_text()
    assert f"CNXMOCK_CELL={settings['CNXMOCK_CELL']}; export CNXMOCK_CELL\n" in text
    assert f"CNXMOCK_STATE='{settings['CNXMOCK_STATE']}'; export CNXMOCK_STATE\n" in text
    assert text.endswith(f'exec {mockcell.WSADMIN_SH} "$@"\n') and os.access(script, os.X_OK)
    assert str(root / "mock" / "was-password") in text
    os.utime(script, (1, 1))
    demo_prepare._wsadmin_by_hand(str(was), str(root), settings)
    assert os.stat(script).st_mtime == 1  # unchanged: not written again (the tree is backed up)


def test_a_wsadmin_outside_the_demo_root_is_never_written(tmp_path):
    was = tmp_path / "opt" / "IBM" / "WebSphere" / "AppServer"
    (was / "bin").mkdir(parents=True)
    (was / "bin" / "wsadmin.sh").write_text("real\n")
    demo_prepare._wsadmin_by_hand(str(was), str(tmp_path / "demo"), {"CNXMOCK_CELL": "x"})
    assert (was / "bin" / "wsadmin.sh").read_text() == "real\n"
