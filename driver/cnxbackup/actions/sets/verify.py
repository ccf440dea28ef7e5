"""``cnxbackup verify SET [--deep]``: prove a backup set is whole.

Checks the manifest's own checksum, then every archive's size and SHA-256 (``--deep``: also
decompress and list it through the member gate, comparing the entry count), every recorded
file, and the database images (their SHA-256, then the vendor's verifier where one exists).
A two-phase folder is whole only with its level 0, its snapshot, and a level 1 taken from
that snapshot. Since format 5 every file of the set must be accounted for by the manifest
(``manifest.coverage``): a file it does not name, a link or a FIFO is a BAD line naming it; an
older set gets one NOTE line saying that its runbook and other files are not covered. Exit 0 or 1.
"""
from __future__ import annotations

import os
import subprocess
from typing import FrozenSet, List, Optional, Tuple

from ...archive import ArchiveError, Cipher, EncryptionError, archive_names, hash_file, read_through, scan_archive
from ...componentpack import kube
from ...componentpack import mongo as mongo_part
from ...config import Environment
from ...databases import verify_database
from ...errors import CnxBackupError
from ...manifest import (
    DONE_STATUSES,
    ArchiveLevel,
    ArchiveRecord,
    DatabaseRecord,
    FileRecord,
    Manifest,
    ManifestError,
    ManifestFormatError,
)
from ...manifest.coverage import COVERED_FORMAT, unaccounted, walk_set
from ...progress import Progress, counted
from ...setbox import OutsideTheSet, open_regular, path_in_set
from ...signing import KeyMissing, SignatureRefused, Unsigned, UntrustedKey
from ...transport import make_transport
from .crypto import set_cipher
from .trust import open_set


def verify_set(set_dir: str, *, trusted_keys: str, trust_unsealed: bool = False, deep: bool = False,
               env: Optional[Environment] = None, progress: Optional[Progress] = None,
               identity: Optional[str] = None) -> Tuple[bool, List[str]]:
    """(ok, lines): one line per check, 'OK ...' or 'BAD ...'; the signature first. An encrypted set
    is checked without a key (its files' digests are of the ciphertext); ``deep`` decrypts it with
    ``identity`` (refused, exit 2, without one or with a key that is not the set's)."""
    lines: List[str] = []
    try:
        opened = open_set(set_dir, trusted_keys, trust_unsealed)
    except (ManifestFormatError, KeyMissing):
        raise  # not damage: a newer format or a missing key file, refused as usage errors (exit 2)
    except (Unsigned, UntrustedKey):
        raise  # not checked, not proven bad: refused (exit 1), and no "verify FAILED" is recorded beside the set
    except SignatureRefused as error:  # a trusted key's signature that does not match: the set changed
        return False, [f"BAD signature: {error}"]
    except ManifestError as error:
        return False, [f"BAD manifest: {error}"]
    manifest = opened.manifest
    if opened.signed:
        lines.append(f"OK  signature: signed by trusted key {opened.signed_by}")
    else:
        lines.append(f"OK  signature NOT checked ({opened.unsealed_reason}); accepted by --trust-unsealed")
    gpg = str(env.section("archive")["encrypt"]["gpg"]) if env is not None else "gpg"
    with set_cipher(manifest.encryption if deep else None, identity, set_dir, "verify --deep", gpg) as cipher:
        ok, checked = _checks(set_dir, manifest, opened.signed, deep, env, progress, cipher)
    return ok, lines + checked


def _checks(set_dir: str, manifest: Manifest, signed: bool, deep: bool, env: Optional[Environment],
            progress: Optional[Progress], cipher: Optional[Cipher]) -> Tuple[bool, List[str]]:
    lines: List[str] = []
    ok = True
    lines.append(f"OK  manifest.json (checksum matches; status {manifest.status})")
    if manifest.encryption:
        recipients = ", ".join(str(r) for r in manifest.encryption.get("recipients") or [])
        lines.append(f"OK  encrypted to {recipients}: " + ("decrypted with the identity given" if cipher is not None
                                                           else "checked as stored (no key needed; --deep decrypts)"))
    if manifest.status == "partial":
        ok = False
        lines.append("BAD the set is partial: " + "; ".join(manifest.failures or ["unfinished steps"]))
    for item in manifest.archives:
        if not item.in_set and item.level1 is None:
            continue
        for good, line in _verify_item(set_dir, item, deep, progress, allow_special=signed,
                                       cipher=cipher if item.encrypted else None):
            ok &= good
            lines.append(line)
    for record in manifest.files:
        good, line = _verify_plain(set_dir, record, cipher=cipher if record.encrypted else None)
        ok &= good
        lines.append(line)
    for good, line in _verify_component_pack(set_dir, manifest, deep, env, cipher) + _verify_coverage(set_dir, manifest):
        ok &= good
        lines.append(line)
    for db in manifest.databases:
        if not db.in_set:
            continue
        for good, line in _verify_database(manifest, db, env, set_dir):
            ok &= good
            lines.append(line)
    return ok, lines


def _count(value: Optional[int]) -> str:
    return "no" if value is None else f"{value:,}"


def _locate(set_dir: str, name: str, who: str) -> Tuple[Optional[str], str]:
    """(the checked path of a file of the set, "") or (None, the BAD line): missing, or not in the set."""
    if not os.path.lexists(os.path.join(set_dir, name)):
        return None, f"BAD {who}{name} is missing"
    try:
        return path_in_set(set_dir, name), ""
    except OutsideTheSet as error:
        return None, f"BAD {who}{error}"


def _verify_item(set_dir: str, item: ArchiveRecord, deep: bool, progress: Optional[Progress],
                 allow_special: bool, cipher: Optional[Cipher] = None) -> List[Tuple[bool, str]]:
    """Every archive of the item, in order (a two-phase folder: level 0, its snapshot, level 1)."""
    problem = item.levels_problem()
    if problem:
        return [(False, f"BAD {item.name}: {problem}")]
    checks: List[Tuple[bool, str]] = []
    if item.two_phase and item.snapshot is not None:
        checks.append(_verify_plain(set_dir, FileRecord(item.snapshot.path, item.snapshot.sha256, item.snapshot.size),
                                    f"{item.name}: level-0 snapshot "))
    carried: FrozenSet[str] = frozenset()
    for level in item.levels():
        good, line, carried = _verify_archive(set_dir, item, level, deep, allow_special, carried, cipher)
        checks.append((good, line))
        if not good:
            break
    return checks


def _verify_archive(set_dir: str, item: ArchiveRecord, level: ArchiveLevel, deep: bool, allow_special: bool,
                    carried: FrozenSet[str], cipher: Optional[Cipher] = None) -> Tuple[bool, str, FrozenSet[str]]:
    name = item.name if level.level is None else f"{item.name} level {level.level}"
    path, bad = _locate(set_dir, level.path, f"{name}: ")
    if path is None:
        return False, bad, carried
    size = os.path.getsize(path)
    if size != level.size:
        return False, (f"BAD {name}: {level.path} is {size:,} bytes, the manifest says {_count(level.size)} "
                       "(truncated or replaced)"), carried
    if deep and item.is_archive:
        try:
            listing = scan_archive(path, allow_special=allow_special, carried_symlinks=carried, cipher=cipher)
        except ArchiveError as error:
            return False, f"BAD {name}: {level.path} does not decompress/list completely: {error}", carried
        if listing.sha256 != level.sha256:
            return False, f"BAD {name}: {level.path} SHA-256 differs from the manifest (content changed)", carried
        if listing.files != level.files:
            return False, (f"BAD {name}: {level.path} lists {counted(listing.files, 'entry')}, the manifest says "
                           f"{_count(level.files)}"), carried
        return True, f"OK  {name}: sha256, size and {counted(listing.files, 'entry')}", listing.symlinks
    digest, _ = hash_file(path)
    if digest != level.sha256:
        return False, f"BAD {name}: {level.path} SHA-256 differs from the manifest (content changed)", carried
    if deep and cipher is not None:
        problem = _decrypt_problem(cipher, path)
        if problem:
            return False, f"BAD {name}: {level.path}: {problem}", carried
        return True, f"OK  {name}: sha256 and size; decrypts whole", carried
    return True, f"OK  {name}: sha256 and size", carried


def _decrypt_problem(cipher: Cipher, path: str) -> str:
    try:
        read_through(cipher, path, limit=0)
    except (EncryptionError, OSError) as error:
        return str(error)
    return ""


def _verify_plain(set_dir: str, record: FileRecord, who: str = "", cipher: Optional[Cipher] = None) -> Tuple[bool, str]:
    """A file's digest and size; with ``cipher`` (verify --deep of an encrypted file) it is also decrypted whole."""
    path, bad = _locate(set_dir, record.path, who)
    if path is None:
        return False, bad
    digest, size = hash_file(path)
    if (digest, size) != (record.sha256, record.size):
        return False, (f"BAD {who}{record.path}: {size:,} bytes, SHA-256 {digest[:12]}...; the manifest says "
                       f"{record.size:,} bytes, {record.sha256[:12]}... (changed or truncated)")
    if cipher is not None:
        problem = _decrypt_problem(cipher, path)
        if problem:
            return False, f"BAD {who}{record.path}: {problem}"
        return True, f"OK  {who}{record.path} (decrypts whole)"
    return True, f"OK  {who}{record.path}"


def _verify_coverage(set_dir: str, manifest: Manifest) -> List[Tuple[bool, str]]:
    """Format 5: every file of the set named by the manifest or mutable by design; nothing followed or opened."""
    written = manifest.format or 1
    if written < COVERED_FORMAT:
        return [(True, f"NOTE format {written}: only the files its manifest names are covered by the signature; "
                       "the runbook (RESTORE.md), REPORT.md and the set's other files are NOT (sets written before "
                       f"format {COVERED_FORMAT})")]
    files, odd = walk_set(set_dir)
    checks = [(False, f"BAD {rel}: {kind} in the set (not followed; nothing in a set is a link or special file)")
              for rel, kind in odd]
    checks += [(False, f"BAD {rel}: in the set but not in the signed manifest (added or renamed after the backup)")
               for rel in unaccounted(manifest, files)]
    if not checks:
        mutable = [name for name in manifest.mutable_files or [] if not name.endswith(".partial")]
        checks.append((True, f"OK  each of the set's {counted(len(files), 'file')} is in the signed manifest or changes "
                             f"by design ({', '.join(mutable)}, and their .partial)"))
    return checks


def _verify_component_pack(set_dir: str, manifest: Manifest, deep: bool, env: Optional[Environment],
                           cipher: Optional[Cipher] = None) -> List[Tuple[bool, str]]:
    """The MongoDB dump (its digest; ``--deep`` with ``--env``: a dry-run restore in the cluster
    reads all of it), each etcd snapshot (the digest taken as it landed) and, ``--deep``, the
    OpenSearch snapshot named in the manifest inside the archived repository folder. The inventory
    files are among the set's recorded files."""
    cp = manifest.component_pack or {}
    checks: List[Tuple[bool, str]] = []
    dump = cp.get("mongodb") or {}
    if dump.get("status") in DONE_STATUSES and isinstance(dump.get("path"), str):
        record = FileRecord(dump["path"], str(dump.get("sha256")), int(dump.get("size") or 0))
        dump_cipher = cipher if dump.get("encrypted") else None
        good, line = _verify_plain(set_dir, record, "component pack MongoDB dump ", dump_cipher if deep else None)
        checks.append((good, line))
        if good and deep and env is not None and kube.enabled(env):
            checks.append(_mongo_dry_run(set_dir, record.path, env, dump_cipher))
        elif good and deep:
            checks.append((True, "OK  component pack MongoDB dump: not read by mongorestore (give --env to run a "
                                 "dry-run restore in the cluster)"))
    etcd = cp.get("etcd") or {}
    for taken in (etcd.get("snapshots") or []) if etcd.get("status") in DONE_STATUSES else []:
        if isinstance(taken, dict) and isinstance(taken.get("path"), str):
            record = FileRecord(taken["path"], str(taken.get("sha256")), int(taken.get("size") or 0))
            listed = next((f for f in manifest.files if f.path == record.path), None)
            checks.append(_verify_plain(set_dir, record, f"component pack etcd snapshot of {taken.get('namespace')}/"
                                                         f"{taken.get('statefulset')} (SHA-256 as it landed): ",
                                        cipher if deep and listed is not None and listed.encrypted else None))
    snap = cp.get("opensearch") or {}
    if deep and snap.get("status") in DONE_STATUSES:
        wanted = f"./snap-{snap.get('uuid')}.dat"
        holder = next((a for a in manifest.archives if a.name in (cp.get("folders") or [])
                       and os.path.basename(a.source) == snap.get("folder")), None)
        if holder is None or not holder.in_set:
            checks.append((False, f"BAD component pack: the snapshot repository folder {snap.get('folder')} is not in "
                                  "the set"))
        else:
            names = set()
            for level in holder.levels():
                names |= set(archive_names(path_in_set(set_dir, level.path), cipher if holder.encrypted else None))
            found = wanted in names
            checks.append((found, f"{'OK ' if found else 'BAD'} component pack: snapshot {snap.get('snapshot')} "
                                  f"({wanted[2:]}) {'is' if found else 'is NOT'} in {holder.name}"))
    return checks


def _mongo_dry_run(set_dir: str, relpath: str, env: Environment, cipher: Optional[Cipher] = None) -> Tuple[bool, str]:
    try:
        client = kube.Kube(env, make_transport(env))
        path = path_in_set(set_dir, relpath)
        if cipher is not None:
            data = read_through(cipher, path)
        else:
            with open_regular(path) as handle:
                data = handle.read()
        failed, restored = mongo_part.dry_run(client, mongo_part.detect(client), data)
    except (CnxBackupError, OSError) as error:
        return False, f"BAD component pack MongoDB dump: the dry-run restore could not run: {error}"
    if failed:
        return False, f"BAD component pack MongoDB dump: the dry-run restore reports {failed} failed documents"
    return True, f"OK  component pack MongoDB dump: read whole by mongorestore --dryRun ({restored})"


def _verify_database(manifest: Manifest, db: DatabaseRecord, env: Optional[Environment],
                     set_dir: str = "") -> List[Tuple[bool, str]]:
    checks: List[Tuple[bool, str]] = []
    for image in db.images:
        path = image.path
        if image.copy:
            try:
                path = path_in_set(set_dir, image.copy)  # fetched from the DB host into the set
            except OutsideTheSet as error:
                checks.append((False, f"BAD database {db.name}: {error}"))
                continue
        elif image.host:
            checks.append((True, f"OK  database {db.name}: image {path} stays on host {image.host} "
                                 "(not copied back); its checksum is checked there by the native verifier only"))
            continue
        if not os.path.exists(path):
            checks.append((False, f"BAD database {db.name}: image {path} is missing"))
            continue
        wanted_sha, wanted_size = image.copy_digest if image.copy else (image.sha256, image.size)
        if wanted_sha:
            digest, size = hash_file(path)
            if digest != wanted_sha or size != (size if wanted_size is None else wanted_size):
                checks.append((False, f"BAD database {db.name}: image {path} SHA-256 or size differs from the "
                                      "manifest (changed, truncated or replaced)"))
                continue
    if any(not good for good, _ in checks):
        return checks
    if env is None:
        checks.append((True, f"OK  database {db.name}: SHA-256 of the image(s) matches; the native verifier "
                             "was not run (give --env to run it with that environment's tool paths)"))
        return checks
    try:
        good, message = verify_database(manifest.database_vendor, db, env)
    except (CnxBackupError, OSError, subprocess.TimeoutExpired) as error:
        # a verifier that cannot run (its tool, its host, its time) is a failed check; a bug in one is not
        good, message = False, f"verifier could not run: {error}"
    names = ", ".join(i.path for i in db.images)
    checks.append((good, f"{'OK ' if good else 'BAD'} database {db.name} ({names}): {message}"))
    return checks
