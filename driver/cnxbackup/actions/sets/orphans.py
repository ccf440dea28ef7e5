"""Database images in ``database.backup_dir`` that no set lists: what an interrupted run left.

A backup interrupted while a database tool was finishing, or a database that failed after its
tool wrote the image, leaves an image that the resumed set redoes and never lists: nothing would
ever remove it. ``backup --resume``, ``list`` and ``plan`` report such images; ``cleanup`` removes
them after asking. One search here serves all four.

An image is an orphan only when all of these hold: it is a regular file (not a link) directly in
``database.backup_dir`` (on the DB host when there is one: read there through the transport); its
name is one the environment's backups write (the vendor's own naming of one of the environment's
databases, ``image_pattern``); and no set's signed manifest that holds under the trusted keys
lists it. Nothing else decides: a journal on the share never makes an image an orphan. What is
named by a set that is unfinished (its journal, which a resume turns into its manifest) or
whose signature does not hold (it may be a good set of an older key) is not removed either: it is
reported as kept, with the set that names it. While another run of the environment holds its
lock, nothing is searched (its images in progress would look like orphans).
"""
from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set, Tuple

from ...config import Environment
from ...databases import backup_targets, db_host, image_name_pattern
from ...errors import CnxBackupError
from ...hosts import Host, hosts_of
from ...journal import FINISHED, Journal
from ...lock import RunLock
from ...paths import is_plain_path_within
from ...plan import detect_versions
from ...progress import human_bytes
from ...transport import HostUnreachable, Transport
from .naming import recent_manifests
from .retention import SetEntry, scan_sets


@dataclass(frozen=True)
class OrphanImage:
    """An image no trusted set lists: its path, its host (None: this machine) and size."""

    path: str
    host: Optional[str]
    size: int

    @property
    def where(self) -> str:
        return f"{self.host}:{self.path}" if self.host else self.path


@dataclass
class OrphanSearch:
    """What the search found: the orphans, the images kept because a set that is not trusted or not
    finished names them (one line each), and why there was nothing to search, if so."""

    backup_dir: str = ""
    orphans: List[OrphanImage] = field(default_factory=list)
    kept: List[str] = field(default_factory=list)
    skipped: str = ""

    @property
    def size(self) -> int:
        return sum(image.size for image in self.orphans)

    def notes(self) -> List[str]:
        """The images kept although no trusted set lists them, and why nothing was searched, if so."""
        return self.kept + ([f"database images not searched for orphans: {self.skipped}"] if self.skipped else [])

    def report(self, cleanup_command: str) -> List[str]:
        """The lines ``list``, ``plan`` and ``backup --resume`` show (none when there is nothing to say)."""
        lines = []
        if self.orphans:
            lines.append(f"{len(self.orphans)} database image(s) in {self.backup_dir} belong to no set "
                         f"({human_bytes(self.size)}; left by an interrupted or failed backup): "
                         + ", ".join(image.where for image in self.orphans)
                         + f"; {cleanup_command} removes them after asking")
        return lines + self.notes()

    def as_json(self) -> List[Dict[str, Any]]:
        return [{"path": image.path, "host": image.host, "bytes": image.size} for image in self.orphans]


def _key(host: Optional[str], path: str) -> Tuple[Optional[str], str]:
    return host, os.path.normpath(path)


def _named_by_trusted(entries: List[SetEntry], default_host: Optional[str]) -> Tuple[Set[Tuple[Optional[str], str]], Set[str]]:
    """(host, path) of every image a set whose signature holds lists, and those sets' database names."""
    listed: Set[Tuple[Optional[str], str]] = set()
    names: Set[str] = set()
    for entry in entries:
        if entry.manifest is None:
            continue
        for db in entry.manifest.databases:
            names.add(db.name)
            listed.update(_key(image.host or default_host, image.path) for image in db.images)
    return listed, names


def _named_by_others(env: Environment, entries: List[SetEntry],
                     default_host: Optional[str]) -> Dict[Tuple[Optional[str], str], str]:
    """Images named by a set that is unfinished (its journal's finished databases) or whose signature
    does not hold (its manifest, read without trusting it), each with why it is kept."""
    named: Dict[Tuple[Optional[str], str], str] = {}
    untrusted = {entry.path for entry in entries if entry.manifest is None and entry.state == "untrusted"}
    for path, data in recent_manifests(env.section("target")["dir"], env.name):
        if path in untrusted:
            for db in data.get("databases") or []:
                for image in (db.get("images") if isinstance(db, dict) else None) or []:
                    if isinstance(image, dict) and isinstance(image.get("path"), str):
                        named[_key(image.get("host") or default_host, image["path"])] = (
                            f"named by {path}, whose signature does not hold")
    for entry in entries:
        if entry.state != "unfinished":
            continue
        try:
            steps = Journal.load(entry.path).data.get("steps") or {}
        except (OSError, ValueError):
            continue
        for step_id, step in steps.items():
            result = step.get("result") if isinstance(step, dict) and step.get("status") in FINISHED else None
            if str(step_id).startswith("db:") and isinstance(result, dict):
                for image in result.get("images") or []:
                    if isinstance(image, dict) and isinstance(image.get("path"), str):
                        named[_key(image.get("host") or default_host, image["path"])] = (
                            f"named by the unfinished set {entry.path} (a resume lists it)")
    return named


LIST_SCRIPT = ("cd -- {folder} 2>/dev/null || exit 0; for f in * .[!.]*; do "
               "if [ -f \"$f\" ] && [ ! -L \"$f\" ]; then printf '%s/' \"$(stat -c %s -- \"$f\")\"; "
               "printf '%s\\n' \"$f\"; fi; done")


def _files_in(folder: str, host: Optional[Host], transport: Transport) -> List[Tuple[str, int]]:
    """(name, size) of the regular files directly in ``folder`` (links are not files), here or on ``host``."""
    if host is None or host.is_local:
        found = []
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_file(follow_symlinks=False):
                        found.append((entry.name, entry.stat(follow_symlinks=False).st_size))
        except FileNotFoundError:
            return []
        return found
    proc = transport.run(host, LIST_SCRIPT.format(folder=shlex.quote(folder)))
    if proc.returncode != 0:
        raise CnxBackupError(f"{host.name}:{folder}: cannot be listed (exit {proc.returncode}): "
                             f"{str(proc.stderr).strip()[-200:]}")
    found = []
    for line in str(proc.stdout).splitlines():
        size, _, name = line.partition("/")
        if size.isdigit() and name:
            found.append((name, int(size)))
    return found


def find_orphan_images(env: Environment, transport: Transport, trusted_keys: str, own_lock: bool = False,
                       entries: Optional[List[SetEntry]] = None) -> OrphanSearch:
    """The images in ``database.backup_dir`` that no trusted set lists (``own_lock``: this run
    holds the environment's lock, as cleanup and a backup do; else a holder means: not searched;
    ``entries``: the sets as ``scan_sets`` just read them with the same keys)."""
    backup_dir = str(env.section("database").get("backup_dir") or "")
    search = OrphanSearch(backup_dir)
    if not backup_dir:
        return search
    if not os.path.isabs(backup_dir) or "\\" in backup_dir:
        search.skipped = f"database.backup_dir {backup_dir} is not a POSIX folder this program can list"
        return search
    holder = None if own_lock else RunLock(env.section("target")["dir"], env.name, "").holder()
    if holder:
        search.skipped = f"a run of {env.name} holds its lock ({holder}); its images in progress are not orphans"
        return search
    entries = scan_sets(env, trusted_keys) if entries is None else entries
    host_name = db_host(env)
    listed, names = _named_by_trusted(entries, host_name)
    try:
        names.update(target.name for target in backup_targets(env, detect_versions(env)[0].raw))
    except (CnxBackupError, OSError, ValueError):
        pass  # the version cannot be read: the names the sets hold still say what to look for
    pattern = image_name_pattern(env, sorted(names))
    if pattern is None:
        return search
    others = _named_by_others(env, entries, host_name)
    host = hosts_of(env)[host_name] if host_name else None
    try:
        files = _files_in(backup_dir, host, transport)
    except (CnxBackupError, HostUnreachable, OSError) as error:
        search.skipped = str(error)
        return search
    for name, size in sorted(files):
        path = os.path.join(backup_dir, name)
        key = _key(host_name, path)
        if not pattern.fullmatch(name) or not is_plain_path_within(path, backup_dir) or key in listed:
            continue
        if key in others:
            search.kept.append(f"database image {OrphanImage(path, host_name, size).where} kept: {others[key]}")
            continue
        search.orphans.append(OrphanImage(path, host_name, size))
    return search


def remove_orphan(env: Environment, transport: Transport, image: OrphanImage) -> None:
    """Remove one orphan image (a regular file, never through a link); CnxBackupError naming it."""
    backup_dir = str(env.section("database").get("backup_dir") or "")
    if not is_plain_path_within(image.path, backup_dir):
        raise CnxBackupError(f"{image.where}: not inside database.backup_dir {backup_dir}: left alone")
    if image.host is None:
        try:
            if os.path.islink(image.path) or not os.path.isfile(image.path):
                raise CnxBackupError(f"{image.where}: no longer a regular file: left alone")
            os.unlink(image.path)
        except OSError as error:
            raise CnxBackupError(f"{image.where}: {error.strerror}") from None
        return
    quoted = shlex.quote(image.path)
    proc = transport.run(hosts_of(env)[image.host], f"test -f {quoted} && test ! -L {quoted} && rm -f -- {quoted}")
    if proc.returncode != 0:
        raise CnxBackupError(f"{image.where}: not removed (exit {proc.returncode}; no longer a regular file, or rm "
                             f"failed): {str(proc.stderr).strip()[-200:]}")
