"""What the restore tests share: one demo backup per module, a pristine copy, a tree snapshot."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess

import pytest

import e2e
from cnxbackup.demo import mockcell

REPLACED = ".cnxrestore-"  # a restore's container beside each item (staged, then replaced), and the mount form
STAMP_RE = re.compile(r"\d{8}T\d{6}(?:-[0-9a-f]{6}|-\d+)?")



def provision_jar(ctx) -> str:
    """A file inside the shared data's provision/ folder of the demo tree."""
    return next(os.path.join(folder, name) for folder, _, names in os.walk(os.path.join(ctx.shared, "provision"))
                for name in names if name.endswith(".jar"))


def is_restore_container(name: str) -> bool:
    return REPLACED in name or name.startswith("cnxrestore-") or ".cnxbackup-replaced-" in name


def snapshot(root: str) -> dict:
    """path -> (type, mode, size, sha256, link target, hardlink group); moved-aside copies ignored."""
    out = {}
    first_path_of_inode = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not is_restore_container(d))
        for name in [""] + dirs + sorted(f for f in files if not is_restore_container(f)):
            path = os.path.join(folder, name) if name else folder
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            entry = [stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode)]
            if stat.S_ISLNK(st.st_mode):
                entry.append(os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as handle:
                    entry += [st.st_size, hashlib.sha256(handle.read()).hexdigest()]
                if st.st_nlink > 1:
                    entry.append(("hardlink", first_path_of_inode.setdefault(st.st_ino, rel)))
            out[rel] = tuple(entry)
    return out


def role_mappings(state: dict) -> dict:
    keys = ("role", "everyone", "allAuthenticated", "users", "groups")
    return {app["name"]: sorted((tuple(json.dumps(r.get(k), sort_keys=True) for k in keys) for r in app["roles"]))
            for app in state["applications"]}


def app_server_actions(state: dict) -> dict:
    runtime = state.get("runtime", {}).get("servers", {})
    return {f"{s['node']}/{s['name']}": (runtime.get(f"{s['node']}/{s['name']}") or {}).get("action")
            for s in state["servers"] if s.get("type") == "APPLICATION_SERVER"}


def calls(log: list, method: str) -> list:
    return [e for e in log if e.get("event") == "call" and e.get("method") == method]


def stops(log: list) -> list:
    """Every server stop the mocked cell was asked for (an MBean ``stop`` or ``stopServer``)."""
    return [e for e in log if e.get("event") == "call" and (e.get("method") == "stopServer" or (
        e.get("method") == "invoke" and (e.get("args") or [None])[-1] == "stop"))]


def set_installed_version(ctx: "Ctx", version: str, extra_fix: str = "") -> None:
    path = os.path.join(ctx.tree, "var/ibm/InstallationManager/installed.xml")
    text = open(path, encoding="utf-8").read()
    text, count = re.subn(r"(id='com\.ibm\.connections'[^>]*version=')[^']*'", rf"\g<1>{version}'", text)
    assert count == 1
    if extra_fix:
        text = text.replace("</location>\n</installInfo>",
                            f"  <fix id='{extra_fix}' offering='com.ibm.connections' version='1.0.0'/>\n"
                            "  </location>\n</installInfo>")
        assert extra_fix in text
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


class Ctx:
    def __init__(self, base: str, pristine: str) -> None:
        self.base = base
        self.pristine = pristine
        self.env_file = os.path.join(base, "demo.yaml")
        self.tree = os.path.join(base, "demo", "tree")
        [self.set_dir] = e2e.sets(os.path.join(base, "backups"))
        self.mock = e2e.mock_env(base)
        self.fake = e2e.fakedb_env(base)
        self.cnx = os.path.join(self.tree, "opt/IBM/Connections")
        self.shared = os.path.join(self.cnx, "data/shared")

    def reset(self) -> None:
        reset_copy(self.base, self.pristine)
        self.original = snapshot(self.tree)

    def restore(self, *args: str, confirm: bool = True) -> subprocess.CompletedProcess:
        """``restore`` of the set as a script runs it: ``--yes`` (the tests mean every restore they
        run), unless it is a dry run or ``confirm`` is False (the tests of the question itself)."""
        yes = ["--yes"] if confirm and "--dry-run" not in args else []
        return e2e.cli("--plain", "restore", self.set_dir, "--env", self.env_file, *yes, *args)

    def log_length(self) -> int:
        return len(mockcell.read_log(self.mock))

    def restore_dirs(self, set_dir: str = "") -> list:
        """The restores of the set (oldest first), in the demo's state root (never inside the set)."""
        return restore_dirs(self.base, set_dir or self.set_dir)


def restore_dirs(base: str, set_dir: str) -> list:
    folder = os.path.join(base, "demo", "restore-state", os.path.basename(set_dir))
    return sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.startswith("restore-")) \
        if os.path.isdir(folder) else []


def reset_copy(base: str, pristine: str) -> None:
    """Put ``base`` back as ``pristine`` holds it: everything a test left there goes, every path stays
    the same (the environment file, the demo and the set name absolute paths under ``base``)."""
    for name in os.listdir(base):
        path = os.path.join(base, name)
        if os.path.isdir(path) and not os.path.islink(path):
            subprocess.run(["chmod", "-R", "u+rwX", path], check=False)
            shutil.rmtree(path)
        else:
            os.unlink(path)
    subprocess.run(["cp", "-a", pristine + "/.", base], check=True)


def shared_set(tmp_path_factory: pytest.TempPathFactory, name: str, build) -> tuple:
    """(base, pristine): ``build(base)`` run once in a fresh folder, then a pristine copy of all of it."""
    base = str(tmp_path_factory.mktemp(name))
    build(base)
    pristine = base + ".pristine"
    subprocess.run(["cp", "-a", base, pristine], check=True)
    return base, pristine


@pytest.fixture(scope="session")
def shared_backup(tmp_path_factory):
    """One demo backup per test session (per xdist worker): the restore tests each get a fresh copy
    of it through ``ctx`` instead of backing up a deployment of their own."""
    return shared_set(tmp_path_factory, "restore", e2e.backup_demo)


@pytest.fixture
def ctx(shared_backup):
    reset_copy(*shared_backup)  # before Ctx looks for the one set: an earlier test may have left a second
    context = Ctx(*shared_backup)
    context.original = snapshot(context.tree)
    return context


def staging_left(root: str) -> list:
    """Staging a restore left anywhere under root: a container still holding ``staged``, or an
    empty one (a refused restore removes its containers whole)."""
    found = []
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            if "cnxrestore-new" in name or (is_restore_container(name) and name != os.path.basename(folder) and (
                    not os.path.isdir(path) or os.path.lexists(os.path.join(path, "staged")) or not os.listdir(path))):
                found.append(path)
    return found


def assert_nothing_changed(ctx: "Ctx", log_before: int) -> None:
    assert snapshot(ctx.tree) == ctx.original
    new = mockcell.read_log(ctx.mock)[log_before:]
    assert not calls(new, "stopServer") and not any(e.get("event") == "launch" for e in new)
    assert not [n for n in os.listdir(ctx.set_dir) if n.startswith("restore-")]
    for folder in ctx.restore_dirs():  # a refused restore's journal says so: it is not one to resume
        assert json.load(open(os.path.join(folder, "journal.json")))["status"] == "refused", folder
    assert staging_left(ctx.tree) == []
