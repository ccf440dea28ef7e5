"""The plan's size estimate leaves out exactly what tar leaves out (issue 28: a restore's leftovers
made 3.1 MB look like 196 MB): the user's ``archive.excludes``, the nested items and every form of
a restore's leftovers, one rule (``Item.excludes``) for the archiver's options, the local walk and
a remote host's ``find`` probe. Checked against GNU tar itself, with look-alikes that must stay."""
from __future__ import annotations

import os
import subprocess

from cnxbackup.plan import Item, add_nested_excludes, scan_tree
from cnxbackup.remote_archive import probe_command

STAMP = "20260101T000000-abc123"
USER = ("*.tmp", "cache/*")


def _file(path, size: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(b"x" * size)


def _tree(root: str) -> None:
    kept = ["a.txt", "logs/app.log", "data/shared/f", "data/shared/sub/g", "cnxrestore-notastamp/h",
            "data/shared.cnxrestore-new-keep/i", "data/sharedX.cnxrestore-" + STAMP + "/j", "tmp.keep/k"]
    leftovers = [f"cnxrestore-{STAMP}/staged/big", "cnxbackup-replaced-20250101T000000/big", "cnxrestore-new/big",
                 f"data/shared.cnxrestore-{STAMP}/replaced/big", "data/shared.cnxbackup-replaced-20250101T000000-2/big",
                 "data/shared.cnxrestore-new/big", f"data/shared/cnxrestore-{STAMP}/big"]
    excluded = ["a.tmp", "logs/old.tmp", "logs/cache/c1", "cache/c2", "data/shared/inner.tmp"]
    for index, name in enumerate(kept):
        _file(os.path.join(root, name), 100 + index * 700)
    for name in leftovers + excluded:
        _file(os.path.join(root, name), 1 << 20)


def _items(root: str) -> Item:
    outer = Item("connections-root", "archive", root, "")
    inner = Item("shared-data", "archive", os.path.join(root, "data", "shared"), "")
    add_nested_excludes([outer, inner])
    return outer


def _what_tar_archives(root: str, item: Item) -> tuple:
    """(tar bytes, entries) of what GNU tar writes with the archiver's own options."""
    create = ["tar", "--format=gnu", "-cf", "-", *item.excludes(USER).tar_args(), "-C", root, "."]
    archive = subprocess.run(create, capture_output=True, check=True).stdout
    listing = subprocess.run(["tar", "-tvf", "-"], input=archive, capture_output=True, check=True).stdout.decode()
    entries = [line.split(None, 5) for line in listing.splitlines()]
    data = sum((int(e[2]) + 511) // 512 * 512 for e in entries if e[0].startswith("-"))
    return 512 * (len(entries) - 1) + data, len(entries)  # the root "./" has no header in the estimate


def test_the_estimate_is_what_tar_archives_without_a_restore_s_leftovers(tmp_path) -> None:
    root = str(tmp_path / "cnx")
    _tree(root)
    item = _items(root)
    estimate = scan_tree(root, item.excludes(USER))
    assert estimate == _what_tar_archives(root, item)
    assert estimate[0] < 1 << 20  # no leftover nor excluded file of 1 MB counted
    assert scan_tree(root, item.excludes(()))[0] > 1 << 20  # without the user's patterns their files count


def test_a_remote_probe_leaves_out_the_same(tmp_path) -> None:
    root = str(tmp_path / "cnx")
    _tree(root)
    item = _items(root)
    out = subprocess.run(["sh", "-c", probe_command(item, USER)], capture_output=True, text=True, check=True).stdout
    words = out.split()
    assert words[:2] == ["CNXPROBE", "ok"] and int(words[2]) == scan_tree(root, item.excludes(USER))[1]
