"""``manifest.json`` on disk: sealed, signed, written last, checked on load.

It carries its own SHA-256 (over the canonical JSON of everything else, pgBackRest style),
so damage is detected even without the signing key; ``manifest.json.sha256`` repeats the
file's digest for ``sha256sum -c``. The signature (``manifest.json.sig``, made by the signer
that ``write_manifest`` is given) is written before the manifest, so the manifest is still
the last file of a set: a set without a manifest is incomplete (restic's write ordering).
Reading goes through ``setbox``: the manifest is a regular file inside the set, never a link.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Callable, Dict, Optional

from ..atomic import write_file_atomic
from ..errors import EXIT_USAGE
from ..setbox import OutsideTheSet, read_in_set
from .coverage import COVERED_FORMAT
from .model import Manifest, ManifestError

MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"
FORMAT = 5
"""1: unsigned (before signed sets); 2: ``signing`` names the key of ``manifest.json.sig``;
3: two-phase archives (``level1`` records). A set without a level 1 is still written as format 2,
which the releases before two-phase archives read; a format-3 set they refuse, rather than
restore its level 0 alone; 4: an encrypted set (``encryption``, ``encrypted`` records), refused by
the releases that would read its OpenPGP files as zstd; 5: every file of the set accounted for
(``mutableFiles``; ``coverage``): every set a backup writes since, refused by the releases whose
verify would pass a set with an edited runbook."""
LEVELS_FORMAT = 3
ENCRYPTED_FORMAT = 4  # ``encryption`` and ``encrypted`` records: a release that cannot decrypt refuses the set
MAX_MANIFEST_BYTES = 64 << 20
MAX_SIGNATURE_BYTES = 4096

Signer = Callable[[bytes], bytes]


class ManifestFormatError(ManifestError):
    """A manifest written by a newer cnxbackup, in a format this one cannot read safely (exit 2)."""

    exit_code = EXIT_USAGE


def _has_levels(data: Dict[str, Any]) -> bool:
    archives = data.get("archives")
    return isinstance(archives, list) and any(isinstance(a, dict) and "level1" in a for a in archives)


def _canonical(data: Dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def seal(data: Dict[str, Any]) -> Dict[str, Any]:
    body = {k: v for k, v in data.items() if k != "manifestSha256"}
    body["format"] = (COVERED_FORMAT if "mutableFiles" in body else
                      ENCRYPTED_FORMAT if body.get("encryption") else LEVELS_FORMAT if _has_levels(body) else 2)
    body["manifestSha256"] = hashlib.sha256(_canonical(body)).hexdigest()
    return body


def write_manifest(set_dir: str, manifest: Manifest, signer: Optional[Signer] = None) -> Manifest:
    """Seal, sign and write a manifest (atomically, its ``.sha256`` beside it); the sealed record."""
    return Manifest.from_json(write_manifest_data(set_dir, manifest.to_json(), signer))


def write_manifest_data(set_dir: str, data: Dict[str, Any], signer: Optional[Signer] = None) -> Dict[str, Any]:
    """Seal, sign and write a manifest given as its JSON object (tests use it to craft sets)."""
    sealed = seal(data)
    text = json.dumps(sealed, indent=2, sort_keys=True).encode("utf-8") + b"\n"
    path = os.path.join(set_dir, MANIFEST)
    if signer is not None:
        write_file_atomic(os.path.join(set_dir, SIGNATURE), signer(text))
    write_file_atomic(path, text)
    digest = hashlib.sha256(text).hexdigest()
    write_file_atomic(path + ".sha256", f"{digest}  {MANIFEST}\n".encode("ascii"))
    return sealed


def read_manifest_bytes(set_dir: str) -> bytes:
    """The manifest file's bytes, read as a regular file inside the set."""
    path = os.path.join(set_dir, MANIFEST)
    if not os.path.lexists(path):
        raise ManifestError(f"{path}: missing: the backup set is incomplete or not a backup set")
    try:
        return read_in_set(set_dir, MANIFEST, MAX_MANIFEST_BYTES)
    except OutsideTheSet as error:
        raise ManifestError(f"{error}; the manifest is damaged or was replaced") from None


def read_signature(set_dir: str) -> Optional[bytes]:
    """``manifest.json.sig``, or None when the set has none."""
    if not os.path.lexists(os.path.join(set_dir, SIGNATURE)):
        return None
    return read_in_set(set_dir, SIGNATURE, MAX_SIGNATURE_BYTES)


def parse_manifest_data(raw: bytes, set_dir: str, check: bool = True) -> Dict[str, Any]:
    """The manifest's JSON object from its bytes, seal and format checked, content not typed."""
    path = os.path.join(set_dir, MANIFEST)
    try:
        data = json.loads(raw)
    except ValueError as error:
        raise ManifestError(f"{path}: not valid JSON ({error}); the manifest is damaged") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: not a manifest (a JSON object is expected); the manifest is damaged")
    written = data.get("format", 1)
    if not isinstance(written, int) or isinstance(written, bool) or written > FORMAT or written < 1:
        raise ManifestFormatError(f"{path}: manifest format {written!r} is not one this cnxbackup reads "
                                  f"(it reads formats 1 to {FORMAT}); use the cnxbackup release that wrote the set")
    if written < LEVELS_FORMAT and _has_levels(data):
        raise ManifestError(f"{path}: level-1 archives in a format-{written} manifest; the manifest is damaged")
    if written < ENCRYPTED_FORMAT and data.get("encryption"):
        raise ManifestError(f"{path}: an encrypted set in a format-{written} manifest; the manifest is damaged")
    if (written < COVERED_FORMAT) == ("mutableFiles" in data):
        raise ManifestError(f"{path}: a format-{written} manifest {'with' if written < COVERED_FORMAT else 'without'} "
                            "mutableFiles; the manifest is damaged")
    if check:
        recorded = data.get("manifestSha256")
        body = {k: v for k, v in data.items() if k != "manifestSha256"}
        actual = hashlib.sha256(_canonical(body)).hexdigest()
        if recorded != actual:
            raise ManifestError(f"{path}: its checksum does not match its content; the manifest was edited or damaged")
        sidecar = path + ".sha256"
        if os.path.lexists(sidecar):
            try:
                expected = read_in_set(set_dir, MANIFEST + ".sha256", 4096).decode("ascii", "replace").split()
            except OutsideTheSet as error:
                raise ManifestError(f"{error}; the manifest was edited or damaged") from None
            if not expected or hashlib.sha256(raw).hexdigest() != expected[0]:
                raise ManifestError(f"{path}: does not match {sidecar}; the manifest was edited or damaged")
    return data


def parse_manifest(raw: bytes, set_dir: str) -> Manifest:
    """The typed manifest from its bytes."""
    return manifest_from_data(parse_manifest_data(raw, set_dir), set_dir)


def manifest_from_data(data: Dict[str, Any], set_dir: str) -> Manifest:
    """The typed manifest from its checked JSON object (``parse_manifest_data``)."""
    try:
        return Manifest.from_json(data, "")
    except ManifestError as error:
        raise ManifestError(f"{os.path.join(set_dir, MANIFEST)}: {error}; this is not a manifest cnxbackup "
                            "wrote") from None


def load_manifest(set_dir: str) -> Manifest:
    """The manifest of a set, its seal and format checked and every known key typed (no signature check)."""
    return parse_manifest(read_manifest_bytes(set_dir), set_dir)


def load_manifest_data(set_dir: str, check: bool = True) -> Dict[str, Any]:
    """The manifest as its JSON object, seal and format checked, content not typed."""
    return parse_manifest_data(read_manifest_bytes(set_dir), set_dir, check)
