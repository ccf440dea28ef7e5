"""The demo environment: a sample deployment, the mocked wsadmin and the fake DB tools.

``prepare_demo`` runs before the environment is loaded for good, when the file has a ``demo``
section. It builds the sample tree once (``<demo.root>/tree``), gives the mocked wsadmin a
persistent cell state and the fake DB tools a state file (``<demo.root>/mock``,
``<demo.root>/fakedb``), writes the demo's WAS password to a 0600 file, starts the demo's ssh
hosts, and returns an *overlay*: the values (stand-in environment variables, ports, host
addresses) that :func:`cnxbackup.config.load_environment` lays over the file before it
validates it. It never changes an environment that was already validated.
"""
from __future__ import annotations

import atexit
import json
import os
import shlex
import shutil
import sys
import tempfile
from typing import Any, Callable, Dict

from ..config import Environment
from ..databases.defaults import default_databases
from ..paths import is_within
from ..plan import detect_versions
from ..progress import Progress
from . import fakedb, fakekube, mockcell, sshhosts
from .treegen import build_demo_deployment

_MARKER = ".cnxbackup-demo.json"
Overlay = Dict[str, Any]


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


def _start_demo_hosts(env: Environment, progress: Progress, build_tree: bool) -> Dict[str, Dict[str, Any]]:
    """One real sshd per ``address: demo`` host (stopped when this process exits), and node trees.

    Returns the overlay of the ``hosts`` records by name: address, port, user, key, known_hosts.
    """
    demo = env.data["demo"]
    hosts = [h for h in env.data.get("hosts") or [] if h["address"] == "demo"]
    base = tempfile.mkdtemp(prefix="ssh-", dir=demo["root"])
    started = sshhosts.start_hosts(len(hosts), base)
    known = sshhosts.write_known_hosts(started, os.path.join(base, "known_hosts"))
    atexit.register(shutil.rmtree, base, True)
    overlay: Dict[str, Dict[str, Any]] = {}
    for entry, test_host in zip(hosts, started):
        overlay[entry["name"]] = {"address": test_host.address, "port": test_host.port, "user": test_host.user,
                                  "key": str(test_host.key), "known_hosts": str(known)}
    progress.message(f"[demo] {len(started)} sshd hosts on 127.0.0.1 ports "
                     + ", ".join(f"{name}:{fields['port']}" for name, fields in overlay.items()))
    for entry in hosts:
        tree = os.path.join(demo["root"], "hosts", entry["name"], "tree")
        if build_tree and "node" in (entry.get("roles") or []) and not os.path.exists(os.path.join(tree, _MARKER)):
            info = build_demo_deployment(tree, scale=demo["scale"], ccm=False, seed=sum(map(ord, entry["name"])))
            with open(os.path.join(tree, _MARKER), "w", encoding="utf-8") as handle:
                json.dump({k: v for k, v in info.items() if isinstance(v, (str, list, int))}, handle, indent=1)
    return overlay


def _component_pack(env: Environment, root: str, build_tree: bool) -> Dict[str, str]:
    """The emulated cluster (``fakekube``) and the NFS master's PV folders, made once."""
    pv_root = env.section("component_pack")["pv_root"]
    if build_tree and not os.path.isdir(pv_root):
        for folder, files in (("customizations", {"themes/custom.css": "body { color: #333 }\n"}),
                              ("kudos-boards-minio", {"boards/a1/object.bin": "x" * 4096}),
                              ("huddo-boards-s3", {"buckets/huddo-boards/a1/object.bin": "y" * 2048}),
                              ("opensearchbackup", {})):
            for rel, text in files.items():
                path = os.path.join(pv_root, folder, rel)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(text)
            os.makedirs(os.path.join(pv_root, folder), mode=0o700, exist_ok=True)
    folder = os.path.join(root, "fakekube")
    kube_env = _cached_env(folder, lambda: fakekube.prepare(folder, pv_root))
    # the fake kubectl and helm run with this program's Python (their PATH's python3), as the fake DB tools do
    return {**kube_env, "PATH": fakedb.python_dir(folder) + os.pathsep + os.environ.get("PATH", "")}


def _wsadmin_by_hand(was_root: str, root: str, mock_env: Dict[str, str]) -> None:
    """The demo tree's ``bin/wsadmin.sh`` (``Dmgr01/bin/wsadmin.sh`` links to it): the mocked wsadmin
    on the demo's cell, with the settings of ``<demo root>/mock/env.json``, so that the wsadmin scripts
    run by hand as on a real Dmgr (README: "Running the wsadmin scripts by hand"). Written only inside
    the demo's own tree, and only when it changes (the tree is backed up and restored)."""
    path = os.path.join(was_root, "bin", "wsadmin.sh")
    if not is_within(was_root, root) or not os.path.isdir(os.path.dirname(path)) or os.path.islink(path):
        return
    text = ("#!/bin/sh\n"
            "# Demo stand-in for WebSphere's wsadmin.sh, written by cnxbackup's demo: the mocked wsadmin (real\n"
            "# Jython 2.7) on the demo's cell, as the backup runs it. Log in as wasadmin; the password is in\n"
            f"# {os.path.join(root, 'mock', 'was-password')}.\n"
            + "".join(f"{key}={shlex.quote(str(value))}; export {key}\n" for key, value in sorted(mock_env.items()))
            + f'exec {shlex.quote(mockcell.WSADMIN_SH)} "$@"\n')
    try:
        with open(path, encoding="utf-8") as handle:
            if handle.read() == text:
                return
    except (OSError, ValueError):
        pass
    fresh = path + ".cnxdemo-new"
    with open(os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o755), "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(fresh, 0o755)
    os.replace(fresh, path)


def prepare_demo(env: Environment, progress: Progress, build_tree: bool = True) -> Overlay:
    """Ready the stand-ins of a demo environment; the overlay to load the environment with."""
    demo = env.data["demo"]
    root = demo["root"]
    tree = os.path.join(root, "tree")
    os.makedirs(root, mode=0o700, exist_ok=True)
    with open(mockcell.CELLS_DIR / (demo["wsadmin_cell"] + ".json"), encoding="utf-8") as handle:
        fixture = json.load(handle)
    marker = os.path.join(tree, _MARKER)
    if build_tree and not os.path.exists(marker):
        progress.message(f"[demo] building a sample deployment under {tree} (scale {demo['scale']}) ...")
        info = build_demo_deployment(tree, scale=demo["scale"], ccm=env.section("connections")["ccm"],
                                     was_version=fixture.get("wasVersion", "9.0.5.14"), cell=fixture["cell"],
                                     filebased_filenet_admin=_filenet_user_is_filebased(fixture))
        with open(marker, "w", encoding="utf-8") as handle:
            json.dump({k: v for k, v in info.items() if isinstance(v, (str, list, int))}, handle, indent=1)
    overlay: Overlay = {}
    if demo.get("ssh_hosts"):
        overlay["hosts"] = _start_demo_hosts(env, progress, build_tree)

    mock_dir = os.path.join(root, "mock")
    mock_env = _cached_env(mock_dir, lambda: mockcell.prepare(mock_dir, demo["wsadmin_cell"]))
    _write_secret(os.path.join(mock_dir, "was-password"), fixture["adminPassword"])
    ws = env.section("wsadmin")
    profile_tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "profile_tool.py")
    overlay["wsadmin"] = {"env": {**mock_env, "CNXMOCK_PROFILE_TOOL": profile_tool, "CNXMOCK_PYTHON": sys.executable,
                                  **(ws.get("env") or {})},
                          "port": fixture.get("dmgrPort", ws["port"])}
    _wsadmin_by_hand(env.paths.get("was_root") or "", root, overlay["wsadmin"]["env"])
    if ws["host"] == "localhost":
        overlay["wsadmin"]["host"] = fixture.get("dmgrHost", "localhost")

    if "component_pack" in env.lines:
        overlay["component_pack"] = {"env": {**_component_pack(env, root, build_tree),
                                             **(env.section("component_pack").get("env") or {})}}
    db = env.section("database")
    if db.get("vendor", "none") != "none":
        fake_dir = os.path.join(root, "fakedb")

        def new_fake_env() -> Dict[str, str]:
            version, _ = detect_versions(env)
            names = db.get("databases") or default_databases(db["vendor"], version.raw, env.section("connections")["ccm"])
            return fakedb.prepare(fake_dir, db["vendor"], databases=names, image_size=1 << 20)

        fake_env = _cached_env(fake_dir, new_fake_env)
        # the fake instance is owned by the user running the demo unless the demo says otherwise: no OS user
        owner = db.get("os_user") or fakedb.read_state(fake_env).get("owner") or fakedb.user_name()
        fakedb.python_dir(fake_dir, owner)  # first on fake_env's PATH: this program's Python, even if another made it
        overlay["database"] = {"env": {**fake_env, **(db.get("env") or {})}, "os_user": owner}
        os.makedirs(db["backup_dir"], exist_ok=True)
    return overlay
