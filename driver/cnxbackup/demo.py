"""The demo environment: a sample deployment, the mocked wsadmin and the fake DB tools.

``prepare_demo`` runs before planning when the environment has a ``demo`` section. It builds
the sample tree once (``<demo.root>/tree``), gives the mocked wsadmin a persistent cell state
and the fake DB tools a state file (``<demo.root>/mock``, ``<demo.root>/fakedb``), writes the
demo's WAS password to a 0600 file, and points the wsadmin and database sections at them.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
from typing import Any, Callable, Dict

from .config import Environment
from .paths import assets_root
from .progress import Progress

_MARKER = ".cnxbackup-demo.json"


def _load_helper(relative: str, name: str) -> Any:
    path = os.path.join(assets_root(), relative)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _cached_env(folder: str, create: Callable[[], Dict[str, str]]) -> Dict[str, str]:
    """The env vars of a stand-in (mock cell, fake DB), created once and kept in ``folder/env.json``.

    Keeping them makes the demo's state persist across runs, as a real cell's would.
    """
    path = os.path.join(folder, "env.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    values = create()
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(values, handle)
    return values


def _write_secret(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")


def _filenet_user_is_filebased(fixture: Dict[str, Any]) -> bool:
    """Whether the mock cell's filenetAdmin alias user lives in the file-based realm."""
    users = {u.get("uid"): u for u in fixture.get("users", []) if isinstance(u, dict)}
    for alias in fixture.get("authData", []):
        name = str(alias.get("alias", ""))
        if name == "filenetAdmin" or name.endswith("/filenetAdmin"):
            user = users.get(alias.get("userId"), {})
            return str(user.get("uniqueName", "")).lower().endswith("o=defaultwimfilebasedrealm")
    return False


def _start_demo_hosts(env: Environment, progress: Progress, build_tree: bool) -> None:
    """One real sshd per ``address: demo`` host (stopped when this process exits), and node trees."""
    import shutil
    import tempfile

    demo = env.data["demo"]
    hosts = [h for h in env.data.get("hosts") or [] if h["address"] == "demo"]
    sshhosts = _load_helper("tests/sshhosts.py", "cnx_demo_sshhosts")
    base = tempfile.mkdtemp(prefix="ssh-", dir=demo["root"])
    started = sshhosts.start_hosts(len(hosts), base)
    known = sshhosts.write_known_hosts(started, os.path.join(base, "known_hosts"))
    import atexit

    atexit.register(shutil.rmtree, base, True)
    for entry, test_host in zip(hosts, started):
        entry.update({"address": test_host.address, "port": test_host.port, "user": test_host.user,
                      "key": str(test_host.key), "known_hosts": str(known)})
    progress.message(f"[demo] {len(started)} sshd hosts on 127.0.0.1 ports "
                     + ", ".join(f"{h['name']}:{h['port']}" for h in hosts))
    for entry in hosts:
        tree = os.path.join(demo["root"], "hosts", entry["name"], "tree")
        if build_tree and "node" in (entry.get("roles") or []) and not os.path.exists(os.path.join(tree, _MARKER)):
            from .treegen import build_demo_deployment

            info = build_demo_deployment(tree, scale=demo["scale"], ccm=False, seed=sum(map(ord, entry["name"])))
            with open(os.path.join(tree, _MARKER), "w", encoding="utf-8") as handle:
                json.dump({k: v for k, v in info.items() if isinstance(v, (str, list, int))}, handle, indent=1)


def prepare_demo(env: Environment, progress: Progress, build_tree: bool = True) -> Dict[str, Any]:
    demo = env.data["demo"]
    root = demo["root"]
    tree = os.path.join(root, "tree")
    os.makedirs(root, mode=0o700, exist_ok=True)
    mockcell = _load_helper("tests/mock_wsadmin/mockcell.py", "cnx_demo_mockcell")
    fixture = json.load(open(os.path.join(assets_root(), "tests", "mock_wsadmin", "cells", demo["wsadmin_cell"] + ".json")))
    marker = os.path.join(tree, _MARKER)
    if build_tree and not os.path.exists(marker):
        from .treegen import build_demo_deployment

        progress.message(f"[demo] building a sample deployment under {tree} (scale {demo['scale']}) ...")
        info = build_demo_deployment(tree, scale=demo["scale"], ccm=env.section("connections")["ccm"],
                                     was_version=fixture.get("wasVersion", "9.0.5.14"), cell=fixture["cell"],
                                     filebased_filenet_admin=_filenet_user_is_filebased(fixture))
        with open(marker, "w", encoding="utf-8") as handle:
            json.dump({k: v for k, v in info.items() if isinstance(v, (str, list, int))}, handle, indent=1)

    if demo.get("ssh_hosts"):
        _start_demo_hosts(env, progress, build_tree)

    mock_dir = os.path.join(root, "mock")
    mock_env = _cached_env(mock_dir, lambda: mockcell.prepare(mock_dir, demo["wsadmin_cell"]))
    _write_secret(os.path.join(mock_dir, "was-password"), fixture["adminPassword"])
    ws = env.data["wsadmin"]
    ws["env"] = {**mock_env, **(ws.get("env") or {})}
    if "host" in ws and ws["host"] == "localhost":
        ws["host"] = fixture.get("dmgrHost", "localhost")
    ws["port"] = fixture.get("dmgrPort", ws["port"])

    db = env.data["database"]
    if db.get("vendor", "none") != "none":
        fake_dir = os.path.join(root, "fakedb")

        def new_fake_env() -> Dict[str, str]:
            from .databases.defaults import default_databases
            from .plan import detect_versions

            fakedb = _load_helper("tests/fakes/fakedb.py", "cnx_demo_fakedb")
            version, _ = detect_versions(env)
            names = db.get("databases") or default_databases(db["vendor"], version.raw, env.section("connections")["ccm"])
            return fakedb.prepare(fake_dir, db["vendor"], databases=names, image_size=1 << 20)

        fake_env = _cached_env(fake_dir, new_fake_env)
        db["env"] = {**fake_env, **(db.get("env") or {})}
        os.makedirs(db["backup_dir"], exist_ok=True)
    return {"tree": tree, "mock_env": mock_env}
