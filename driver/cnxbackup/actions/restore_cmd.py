"""``cnxbackup restore SET``: open the set (signature, then the identity of an encrypted one), then the restore."""
from __future__ import annotations

import argparse
import os

from ..config import Environment
from ..progress import Progress
from .restore.run import restore_opened
from .sets.crypto import set_cipher
from .sets.trust import open_set, trusted_keys_path


def run_restore(args: argparse.Namespace, env: Environment, progress: Progress) -> int:
    set_dir = os.path.abspath(args.set_dir)
    opened = open_set(set_dir, trusted_keys_path(args, env), bool(args.trust_unsealed))
    # an encrypted set: the identity is checked against the set's recipients before anything else
    # (a dry run reads nothing, and needs none)
    encryption = opened.manifest.encryption if not args.dry_run else None
    with set_cipher(encryption, args.identity, set_dir, "restore", str(env.section("archive")["encrypt"]["gpg"])) as cipher:
        opened.cipher = cipher
        return restore_opened(args, env, progress, set_dir, opened)
