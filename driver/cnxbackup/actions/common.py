"""What the actions share: the backup set's layout, naming, and resume lookup."""
from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, List, Sequence

if TYPE_CHECKING:
    from ..progress import Progress

from ..config import Environment, load_environment
from ..errors import CnxBackupError
from ..manifest import MANIFEST


class SetLayout:
    """Folders and files of one backup set (0700 folders, 0600 files)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.archives = os.path.join(root, "archives")
        self.files = os.path.join(root, "files")
        self.wsadmin = os.path.join(root, "wsadmin")
        self.databases = os.path.join(root, "databases")
        self.scripts = os.path.join(root, "scripts")
        self.private = os.path.join(root, ".run")  # job files and transcripts
        self.log = os.path.join(root, "cnxbackup.log")

    def create(self) -> None:
        old = os.umask(0o077)
        try:
            for path in (self.root, self.archives, self.files, self.wsadmin, self.databases, self.scripts, self.private):
                os.makedirs(path, mode=0o700, exist_ok=True)
                os.chmod(path, 0o700)
        finally:
            os.umask(old)


def new_set_dir(target: str, env_name: str) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = os.path.join(target, f"{env_name}-{stamp}")
    suffix = 1
    while os.path.exists(path):
        suffix += 1
        path = os.path.join(target, f"{env_name}-{stamp}-{suffix}")
    return path


def list_sets(target: str, env_name: str) -> List[str]:
    try:
        names = sorted(os.listdir(target))
    except FileNotFoundError:
        return []
    return [os.path.join(target, n) for n in names
            if n.startswith(env_name + "-") and os.path.isdir(os.path.join(target, n))]


def find_resumable_set(target: str, env_name: str) -> str:
    """The newest set of this environment that has a journal but no complete manifest."""
    import json

    for path in reversed(list_sets(target, env_name)):
        if not os.path.exists(os.path.join(path, "journal.json")):
            continue
        manifest = os.path.join(path, MANIFEST)
        if os.path.exists(manifest):
            try:
                with open(manifest, encoding="utf-8") as handle:
                    if json.load(handle).get("status") != "partial":
                        continue
            except (OSError, ValueError):
                pass
        return path
    raise CnxBackupError(f"no unfinished backup set of environment {env_name} under {target} to resume")


def tar_exclude_args(user_excludes: Sequence[str], nested: Sequence[str]) -> List[str]:
    """User patterns match anywhere (GNU tar's default); nested item sources are anchored."""
    args = ["--no-anchored"] + [f"--exclude={p}" for p in user_excludes]
    if nested:
        args += ["--anchored"] + [f"--exclude={p}" for p in nested] + ["--no-anchored"]
    return args


def load_env(name: str, progress: "Progress", build_tree: bool = False) -> Environment:
    """The environment for an action; a demo environment also gets its stand-ins ready."""
    env = load_environment(name)
    if env.data.get("demo"):
        from ..demo import prepare_demo

        prepare_demo(env, progress, build_tree=build_tree)
    return env
