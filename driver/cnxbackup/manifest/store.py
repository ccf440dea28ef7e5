"""``manifest.json`` on disk: sealed, written last, checked on load.

It carries its own SHA-256 (over the canonical JSON of everything else, pgBackRest style),
so an edited manifest is detected; ``manifest.json.sha256`` repeats it for ``sha256sum -c``.
A set without a manifest is incomplete by definition (restic's write ordering).
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Dict

from ..atomic import write_file_atomic
from ..errors import EXIT_USAGE
from .model import Manifest, ManifestError

MANIFEST = "manifest.json"
FORMAT = 1


class ManifestFormatError(ManifestError):
    """A manifest written by a newer cnxbackup, in a format this one cannot read safely (exit 2)."""

    exit_code = EXIT_USAGE


def _canonical(data: Dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def seal(data: Dict[str, Any]) -> Dict[str, Any]:
    body = {k: v for k, v in data.items() if k != "manifestSha256"}
    body["format"] = FORMAT
    body["manifestSha256"] = hashlib.sha256(_canonical(body)).hexdigest()
    return body


def write_manifest(set_dir: str, manifest: Manifest) -> Manifest:
    """Seal and write a manifest (atomically, its ``.sha256`` beside it); the sealed record."""
    return Manifest.from_json(write_manifest_data(set_dir, manifest.to_json()))


def write_manifest_data(set_dir: str, data: Dict[str, Any]) -> Dict[str, Any]:
    """Seal and write a manifest given as its JSON object (tests use it to craft sets)."""
    sealed = seal(data)
    text = json.dumps(sealed, indent=2, sort_keys=True).encode("utf-8") + b"\n"
    path = os.path.join(set_dir, MANIFEST)
    write_file_atomic(path, text)
    digest = hashlib.sha256(text).hexdigest()
    write_file_atomic(path + ".sha256", f"{digest}  {MANIFEST}\n".encode("ascii"))
    return sealed


def load_manifest(set_dir: str, check: bool = True) -> Manifest:
    """The manifest of a set, its seal and format checked and every known key typed."""
    data = load_manifest_data(set_dir, check)
    try:
        return Manifest.from_json(data, "")
    except ManifestError as error:
        raise ManifestError(f"{os.path.join(set_dir, MANIFEST)}: {error}; this is not a manifest cnxbackup "
                            "wrote") from None


def load_manifest_data(set_dir: str, check: bool = True) -> Dict[str, Any]:
    """The manifest as its JSON object, seal and format checked, content not typed."""
    path = os.path.join(set_dir, MANIFEST)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise ManifestError(f"{path}: missing: the backup set is incomplete or not a backup set") from None
    try:
        data = json.loads(raw)
    except ValueError as error:
        raise ManifestError(f"{path}: not valid JSON ({error}); the manifest is damaged") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: not a manifest (a JSON object is expected); the manifest is damaged")
    written = data.get("format", FORMAT)
    if not isinstance(written, int) or isinstance(written, bool) or written > FORMAT or written < 1:
        raise ManifestFormatError(f"{path}: manifest format {written!r} is not one this cnxbackup reads "
                                  f"(it reads formats 1 to {FORMAT}); use the cnxbackup release that wrote the set")
    if check:
        recorded = data.get("manifestSha256")
        body = {k: v for k, v in data.items() if k != "manifestSha256"}
        actual = hashlib.sha256(_canonical(body)).hexdigest()
        if recorded != actual:
            raise ManifestError(f"{path}: its checksum does not match its content; the manifest was edited or damaged")
        sidecar = path + ".sha256"
        if os.path.exists(sidecar):
            with open(sidecar, encoding="ascii") as handle:
                expected = handle.read().split()[0]
            if hashlib.sha256(raw).hexdigest() != expected:
                raise ManifestError(f"{path}: does not match {sidecar}; the manifest was edited or damaged")
    return data
