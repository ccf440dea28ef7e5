"""Signed sets: an ECDSA P-256 signature over ``manifest.json``, made and checked by ``openssl``.

Why openssl: every supported host has the ``openssl`` command in its base install (OpenSSL
1.1.1 on RHEL 8, 3.x on RHEL 9 and SLES 15), and ``openssl dgst -sha256 -sign`` /
``-verify`` with an EC key behaves the same on both. ``ssh-keygen -Y`` needs OpenSSH 8.1
(RHEL 8 ships 8.0); GnuPG would need a keyring per host. No Python crypto package is needed.

The private key lives on the backup host only (``signing.key``, 0600, never inside
``target.dir``); verifying needs only public keys (``signing.trusted_keys``: one or more PEM
public keys in one file, so sets signed before a key rotation still verify). The manifest
records the signing key's fingerprint (SHA-256 of its DER public key), so a set signed by a
key that is not trusted and a forged set get different messages.
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import subprocess
import tempfile
import time
from typing import Dict, List, Optional, Tuple

from .atomic import write_file_atomic
from .errors import EXIT_USAGE, CnxBackupError
from .outcome import Level

DEFAULT_TRUSTED_KEYS = "/etc/cnxbackup/trusted-keys"
_PUBLIC_PEM = re.compile(rb"-----BEGIN PUBLIC KEY-----\r?\n(.*?)-----END PUBLIC KEY-----", re.S)


class SigningError(CnxBackupError):
    """A key could not be made or read, or openssl failed."""


class KeyMissing(SigningError):
    """The trusted-keys file (or the signing key) is not there: a setup problem (exit 2)."""

    exit_code = EXIT_USAGE


class SignatureRefused(CnxBackupError):
    """The set is unsigned, signed by a key that is not trusted, or forged."""


class Unsigned(SignatureRefused):
    pass


class UntrustedKey(SignatureRefused):
    pass


class Forged(SignatureRefused):
    pass


def _openssl(args: List[str], data: Optional[bytes] = None) -> "subprocess.CompletedProcess[bytes]":
    try:
        return subprocess.run(["openssl", *args], input=data, capture_output=True, timeout=60)
    except FileNotFoundError:
        raise SigningError("the openssl command is not installed (it signs and verifies backup sets)") from None


def _tail(proc: "subprocess.CompletedProcess[bytes]") -> str:
    lines = [line for line in proc.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else f"exit {proc.returncode}"


def fingerprint(public_pem: bytes) -> str:
    """``SHA256:<hex>`` of the DER SubjectPublicKeyInfo in a PEM public key."""
    match = _PUBLIC_PEM.search(public_pem)
    if match is None:
        raise SigningError("not a PEM public key")
    der = base64.b64decode(b"".join(match.group(1).split()))
    return "SHA256:" + hashlib.sha256(der).hexdigest()


def public_key_of(private_key: str) -> bytes:
    proc = _openssl(["pkey", "-in", private_key, "-pubout"])
    if proc.returncode != 0:
        raise SigningError(f"{private_key}: cannot read the signing key: {_tail(proc)}")
    return proc.stdout


def ensure_signing_key(private_key: str, trusted_keys: str) -> List[Tuple[Level, str]]:
    """Create the signing key on first use (0600, its folder 0700); messages for the administrator.

    When the trusted-keys file does not exist yet it is created with this key's public key,
    so that this host verifies its own sets; a trusted-keys file that lacks the key is noted.
    """
    notes: List[Tuple[Level, str]] = []
    if not os.path.exists(private_key):
        folder = os.path.dirname(os.path.abspath(private_key))
        os.makedirs(folder, mode=0o700, exist_ok=True)
        proc = _openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])
        if proc.returncode != 0:
            raise SigningError(f"cannot create the signing key: {_tail(proc)}")
        write_file_atomic(private_key, proc.stdout, mode=0o600)
        public = public_key_of(private_key)
        card = key_card_path(private_key)
        write_file_atomic(card, key_card(public, trusted_keys).encode("utf-8"), mode=0o644)
        notes.append((Level.INFO, f"created the signing key {private_key}, public key fingerprint {fingerprint(public)}: "
                                  f"print its key card {card} and keep it with the off-host copy of the public key "
                                  "(see README, Signed sets)"))
    public = public_key_of(private_key)
    if not os.path.exists(trusted_keys):
        os.makedirs(os.path.dirname(os.path.abspath(trusted_keys)), mode=0o755, exist_ok=True)
        write_file_atomic(trusted_keys, public, mode=0o644)
        notes.append((Level.INFO, f"created {trusted_keys} with this key's public key (copy it to every host that verifies "
                                  "or restores)"))
    elif fingerprint(public) not in read_trusted_keys(trusted_keys):
        notes.append((Level.WARNING, f"the signing key {private_key} is not in {trusted_keys}: verify and restore with "
                                     "that file will refuse the new set"))
    return notes


PUBLIC_COPY = "/root/cnxbackup-public-key.pem"
"""Where the key card and RESTORE.md say to put the kept public key (any path outside the set will do)."""


def key_card_path(private_key: str) -> str:
    return private_key + ".card.txt"


def key_card(public_pem: bytes, trusted_keys: str) -> str:
    """The text to print and keep outside every set (README, Signed sets): the trust anchor a person
    checks a set with, by hand, without trusting anything inside the set."""
    print_ = fingerprint(public_pem)
    return f"""cnxbackup signing key card: keep it with the off-host copy of the public key, on paper too

Public key fingerprint: {print_}
Created: {time.strftime("%Y-%m-%d %H:%M:%S %z")} on host {socket.gethostname()}
Trusted-keys file (signing.trusted_keys): {trusted_keys}

The public key (save it outside every set, e.g. as {PUBLIC_COPY}):

{public_pem.decode("ascii").strip()}

Check that a copy of the public key is this one (the output must equal the hex after "SHA256:"):

    openssl pkey -pubin -in {PUBLIC_COPY} -outform DER | sha256sum

Check a set with it, in the set's folder (cd to it first):

    openssl dgst -sha256 -verify {PUBLIC_COPY} -signature manifest.json.sig manifest.json
    sha256sum SHA256SUMS; grep -A1 '"path": "SHA256SUMS"' manifest.json    # the same SHA-256 twice
    sha256sum -c SHA256SUMS    # every file of the set the manifest lists: OK

"Verified OK" means the manifest is the one this key signed. Compare the fingerprint with this
card, never with a fingerprint or a key found inside a set: whoever can change a set can change those.
"""


def sign(private_key: str, data: bytes) -> bytes:
    """The DER ECDSA signature of ``data``."""
    proc = _openssl(["dgst", "-sha256", "-sign", private_key], data)
    if proc.returncode != 0:
        raise SigningError(f"{private_key}: signing failed: {_tail(proc)}")
    return proc.stdout


def read_trusted_keys(path: str) -> Dict[str, bytes]:
    """Fingerprint -> PEM of every public key in the trusted-keys file."""
    try:
        with open(path, "rb") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise KeyMissing(f"{path}: no trusted-keys file: copy the backup host's public key there "
                         "(signing.trusted_keys, or --trusted-keys FILE)") from None
    except OSError as error:
        raise KeyMissing(f"{path}: cannot read the trusted keys: {error.strerror}") from None
    keys = {}
    for match in _PUBLIC_PEM.finditer(text):
        pem = match.group(0) + b"\n"
        keys[fingerprint(pem)] = pem
    if not keys:
        raise KeyMissing(f"{path}: holds no PEM public key (-----BEGIN PUBLIC KEY-----)")
    return keys


def verify(data: bytes, signature: Optional[bytes], key_fingerprint: Optional[str], trusted_keys: str) -> str:
    """Check the signature of ``data``; the fingerprint of the key that made it.

    Raises Unsigned (no signature), UntrustedKey (made by a key not in the file) or Forged
    (the trusted key's signature does not match: the manifest or the signature was changed).
    """
    if not signature or not key_fingerprint:
        raise Unsigned("the set is not signed (no signature, or the manifest names no signing key)")
    keys = read_trusted_keys(trusted_keys)
    pem = keys.get(key_fingerprint)
    if pem is None:
        raise UntrustedKey(f"the set is signed by key {key_fingerprint}, which is not among the {len(keys)} trusted "
                           f"key(s) in {trusted_keys}")
    with tempfile.TemporaryDirectory(prefix="cnxbackup-verify-") as folder:
        key_file, sig_file = os.path.join(folder, "key.pem"), os.path.join(folder, "manifest.sig")
        for path, content in ((key_file, pem), (sig_file, signature)):
            with open(path, "wb") as handle:
                handle.write(content)
        proc = _openssl(["dgst", "-sha256", "-verify", key_file, "-signature", sig_file], data)
    if proc.returncode != 0 or b"Verified OK" not in proc.stdout:
        raise Forged(f"the signature does not match the manifest (key {key_fingerprint}): "
                     "the set was changed after it was signed")
    return key_fingerprint
