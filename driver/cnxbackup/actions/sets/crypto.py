"""The keys of a run: the backup's recipients (from the environment), the identity of a read.

The backup encrypts to ``archive.encrypt.recipients`` with the public keys of
``archive.encrypt.public_keys``; a set records its recipients (``manifest.encryption``), so
``verify --deep`` and ``restore`` know before they read anything whether the identity they were
given (``--identity FILE`` or ``CNXBACKUP_IDENTITY``; a passphrase, if the key has one, in the
file named by ``CNXBACKUP_IDENTITY_PASSPHRASE_FILE``) is a key of the set: a wrong or missing
one is refused with the fingerprints on both sides, as a usage error, before any change.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional

from ...archive import Cipher, EncryptionError, Keyring
from ...archive.encryption import FINGERPRINT
from ...config import Environment
from ...errors import ConfigError

IDENTITY_ENV = "CNXBACKUP_IDENTITY"
PASSPHRASE_ENV = "CNXBACKUP_IDENTITY_PASSPHRASE_FILE"
TOOL = "gnupg"


def recipients_of(env: Environment) -> List[str]:
    """The configured recipients, each a 40-hex fingerprint (spaces allowed), upper case."""
    found = []
    for value in env.section("archive")["encrypt"]["recipients"]:
        fingerprint = str(value).replace(" ", "").upper()
        if not FINGERPRINT.fullmatch(fingerprint):
            raise ConfigError(f"{env.where('archive.encrypt.recipients')}: key 'archive.encrypt.recipients': {value!r} "
                              "is not an OpenPGP fingerprint (40 hex digits; gpg --fingerprint shows it)")
        found.append(fingerprint)
    return found


def encryption_record(env: Environment) -> Optional[Dict[str, Any]]:
    """What the set records of its encryption (journal and manifest), or None when it is not encrypted."""
    recipients = recipients_of(env)
    return {"tool": TOOL, "recipients": recipients} if recipients else None


@contextmanager
def backup_cipher(env: Environment) -> Iterator[Optional[Cipher]]:
    """The encrypting filter of a backup (None when not configured); the private keyring is removed after."""
    recipients = recipients_of(env)
    if not recipients:
        yield None
        return
    settings = env.section("archive")["encrypt"]
    keyring = Keyring(str(settings["gpg"]))
    try:
        try:
            keyring.import_file(str(settings["public_keys"]), "archive.encrypt.public_keys")
            cipher = keyring.encryptor(recipients)
        except EncryptionError as error:
            raise ConfigError(f"{env.where('archive.encrypt')}: {error}") from None
        yield cipher
    finally:
        keyring.close()


@contextmanager
def set_cipher(encryption: Optional[Dict[str, Any]], identity: Optional[str], set_dir: str, what: str,
               gpg: str = "gpg") -> Iterator[Optional[Cipher]]:
    """The decrypting filter for a set encrypted as ``encryption`` records (None: not encrypted)."""
    if not encryption:
        yield None
        return
    recipients = [str(r).upper() for r in encryption.get("recipients") or []]
    identity = identity or os.environ.get(IDENTITY_ENV)
    if not identity:
        raise ConfigError(f"{set_dir} is encrypted (to {', '.join(recipients)}): {what} needs the identity, "
                          f"--identity FILE or {IDENTITY_ENV}=FILE (the secret key of one of those recipients)")
    keyring = Keyring(gpg)
    try:
        try:
            held = keyring.import_file(identity, "identity file", secret=True)
        except EncryptionError as error:
            raise ConfigError(str(error)) from None
        if not set(held) & set(recipients):
            raise ConfigError(f"the identity {identity} holds {', '.join(held) or 'no secret key'}; {set_dir} is "
                              f"encrypted to {', '.join(recipients)}: not a key of this set")
        yield keyring.decryptor(os.environ.get(PASSPHRASE_ENV) or None)
    finally:
        keyring.close()
