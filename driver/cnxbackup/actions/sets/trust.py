"""Opening a set as verify and restore must: signature first, then the manifest it covers.

The manifest's bytes are read once (as a regular file inside the set), the signature is
checked over exactly those bytes, and the typed manifest is parsed from the same bytes, so
what was checked is what is used. An unsigned or mis-signed set is refused unless the
administrator says ``--trust-unsealed``; then the set's content is checked as before, and
setuid/setgid files, FIFOs and device nodes are refused whatever the manifest says.
"""
from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass
from typing import Any, Dict, Optional

from ...archive import Cipher
from ...config import Environment
from ...manifest import Manifest, ManifestError, manifest_from_data, parse_manifest_data, read_manifest_bytes, read_signature
from ...setbox import OutsideTheSet, read_in_set
from ...signing import DEFAULT_TRUSTED_KEYS, Forged, SignatureRefused, Unsigned, UntrustedKey, verify


@dataclass
class OpenedSet:
    set_dir: str
    manifest: Manifest
    signed_by: Optional[str]  # the trusted key's fingerprint; None when accepted unsealed
    unsealed_reason: Optional[str] = None  # why the signature did not hold (with --trust-unsealed)
    cipher: Optional[Cipher] = None  # an encrypted set's decrypting filter (the restore's identity)

    @property
    def signed(self) -> bool:
        return self.signed_by is not None


def trusted_keys_path(args: argparse.Namespace, env: Optional[Environment]) -> str:
    """``--trusted-keys FILE``, else the environment's ``signing.trusted_keys``, else the default."""
    given = getattr(args, "trusted_keys", None)
    if given:
        return str(given)
    if env is not None:
        return str(env.section("signing")["trusted_keys"])
    return DEFAULT_TRUSTED_KEYS


def _fingerprint_in(data: Dict[str, Any]) -> Optional[str]:
    """The key fingerprint the (not yet trusted) manifest names, only to pick the key to check with."""
    signing = data.get("signing")
    value = signing.get("keyFingerprint") if isinstance(signing, dict) else None
    return value if isinstance(value, str) else None


def _what_to_do(error: SignatureRefused) -> str:
    """The way forward for a refused signature: the signer's key first; --trust-unsealed only as
    the last resort, for a set whose origin is known by other means."""
    if isinstance(error, UntrustedKey):
        return ("give the signer's public key with --trusted-keys FILE (the copy kept with its key card, "
                "<signing.key>.card.txt on the backup host: README, Signed sets) or --env of the environment whose "
                "signing.trusted_keys holds it; only as the last resort, for a set you know is genuine: --trust-unsealed")
    if isinstance(error, Forged):
        return ("the set or its signature changed after it was signed (damage or tampering): take another set; "
                "--trust-unsealed only if you know why it changed")
    return "a set from before signed sets needs --trust-unsealed, see README"


def open_set(set_dir: str, trusted_keys: str, trust_unsealed: bool) -> OpenedSet:
    """The set's manifest, its signature checked first; SignatureRefused unless ``trust_unsealed``."""
    raw = read_manifest_bytes(set_dir)
    # a newer format first (its signature may be one this cannot read), then damage (the seal), then the signature
    data = parse_manifest_data(raw, set_dir)
    signed_by: Optional[str] = None
    reason: Optional[str] = None
    try:
        try:
            signature = read_signature(set_dir)
        except OutsideTheSet as error:
            raise Unsigned(f"{error}; the signature is not usable") from None
        signed_by = verify(raw, signature, _fingerprint_in(data), trusted_keys)
    except SignatureRefused as error:
        if not trust_unsealed:
            raise type(error)(f"{error}; refused: {_what_to_do(error)}") from None
        reason = str(error)
    return OpenedSet(set_dir, manifest_from_data(data, set_dir), signed_by, reason)


def read_checked(opened: OpenedSet, name: str, sha256: str, size: int, limit: int = 64 << 20) -> bytes:
    """A small file of the set (e.g. the role mappings to re-import), matched to its manifest digest."""
    try:
        data = read_in_set(opened.set_dir, name, limit)
    except OutsideTheSet as error:
        raise ManifestError(str(error)) from None
    if len(data) != size or hashlib.sha256(data).hexdigest() != sha256:
        raise ManifestError(f"{opened.set_dir}/{name}: does not match its SHA-256 in the manifest; not used")
    return data
