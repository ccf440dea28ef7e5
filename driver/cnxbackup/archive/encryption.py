"""Encryption at rest with GnuPG: what lands in the set is an OpenPGP message to public-key recipients.

Why GnuPG: it is in the base repositories of every supported host (RHEL 8/9 BaseOS ``gnupg2``,
SLES 15 ``gpg2``), where ``age`` is not (Fedora packages it, RHEL's BaseOS/AppStream and EPEL do
not; SLES has it only outside its base modules) -- README, "Encryption at rest".

Each run gets a keyring of its own (a private ``mkdtemp`` folder as ``--homedir``), so the user's
keyrings, trust database and agent are never read or changed: the backup imports only the public
keys file and encrypts with ``--trust-model always -r FINGERPRINT`` (the fingerprints come from the
configuration: trust is the configuration's, not the keyring's); ``--compress-algo none`` because
the stream is already zstd. Restore and ``verify --deep`` import the identity (a secret key file)
into their own keyring and decrypt. gpg runs as a filter in the stream (stdin to stdout): the
SHA-256 recorded is of the ciphertext, what lands on disk, so ``verify`` needs no key.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from typing import IO, List, Optional, Sequence, Tuple, Union

from .common import ArchiveError
from .process import feed, tail_of

FINGERPRINT = re.compile(r"[0-9A-F]{40}")
GPG_FLAGS = ("--batch", "--no-tty", "--quiet", "--no-greeting", "--no-permission-warning")


class EncryptionError(ArchiveError):
    """The keys cannot be used (missing, not the recipients, gpg failed): the message says which."""


@dataclass(frozen=True)
class Cipher:
    """A gpg filter command (stdin to stdout) that encrypts or decrypts, and what it is."""

    argv: Tuple[str, ...]
    decrypt: bool
    recipients: Tuple[str, ...] = ()

    def spawn(self, stdin: Union[int, IO[bytes], None]) -> "subprocess.Popen[bytes]":
        """The filter, reading ``stdin`` (a pipe or file object, or subprocess.PIPE); stderr to a temp file."""
        errors = tempfile.TemporaryFile()
        try:
            proc = subprocess.Popen(list(self.argv), stdin=stdin, stdout=subprocess.PIPE, stderr=errors,
                                    start_new_session=True, bufsize=0)
        except OSError as error:
            errors.close()
            raise EncryptionError(f"cannot start {self.argv[0]}: {error}") from None
        setattr(proc, "cnx_errors", errors)  # noqa: B010  (closed with the process's pipes, process.close_std)
        return proc

    def problem(self, proc: "subprocess.Popen[bytes]") -> Optional[str]:
        """Why the filter failed (after it ended), or None."""
        errors = getattr(proc, "cnx_errors", None)
        if proc.returncode == 0:
            return None
        text = tail_of(errors) if errors is not None else ""
        what = "decryption" if self.decrypt else "encryption"
        if self.decrypt and ("No secret key" in text or "decryption failed" in text):
            return f"{what} failed: the identity given is not a key this file is encrypted to ({text.strip()[-200:]})"
        return f"{what} with gpg failed (exit {proc.returncode}): {text.strip()[-300:]}"

    def finish(self, proc: "subprocess.Popen[bytes]") -> None:
        """Wait for the filter and raise EncryptionError when it failed; closes its stderr file."""
        proc.wait()
        problem = self.problem(proc)
        errors = getattr(proc, "cnx_errors", None)
        if errors is not None:
            errors.close()
        if problem:
            raise EncryptionError(problem)


class Keyring:
    """A private gpg home for one run: import keys, make ciphers, remove it all on ``close``."""

    def __init__(self, gpg: str = "gpg") -> None:
        self.gpg = gpg
        self.home = tempfile.mkdtemp(prefix="cnxgpg-")
        os.chmod(self.home, 0o700)

    def _run(self, args: Sequence[str]) -> "subprocess.CompletedProcess[bytes]":
        try:
            return subprocess.run([self.gpg, "--homedir", self.home, *GPG_FLAGS, *args], stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise EncryptionError(f"{self.gpg}: {error}") from None

    def import_file(self, path: str, what: str, secret: bool = False) -> List[str]:
        """Import a key file; the primary fingerprints it holds (of its secret keys when ``secret``;
        ``what`` names the file in errors)."""
        if not os.path.isfile(path):
            raise EncryptionError(f"{what} {path} does not exist")
        proc = self._run(["--import", path])
        if proc.returncode != 0:
            raise EncryptionError(f"{what} {path}: gpg could not import it: {proc.stderr.decode(errors='replace')[-300:]}")
        return self.fingerprints(secret=secret)

    def fingerprints(self, secret: bool = False) -> List[str]:
        proc = self._run(["--with-colons", "--fingerprint", "--list-secret-keys" if secret else "--list-keys"])
        found, primary = [], False
        for line in proc.stdout.decode("utf-8", "replace").splitlines():
            fields = line.split(":")
            if fields[0] in ("pub", "sec"):
                primary = True
            elif fields[0] in ("sub", "ssb"):
                primary = False
            elif fields[0] == "fpr" and primary and len(fields) > 9:
                found.append(fields[9].upper())
                primary = False
        return found

    def encryptor(self, recipients: Sequence[str]) -> Cipher:
        wanted = [r.upper().replace(" ", "") for r in recipients]
        have = set(self.fingerprints())
        missing = [r for r in wanted if r not in have]
        if missing:
            raise EncryptionError(f"recipient(s) {', '.join(missing)} not among the primary keys of the public keys "
                                  f"file (it holds {', '.join(sorted(have)) or 'none'})")
        argv = [self.gpg, "--homedir", self.home, *GPG_FLAGS, "--trust-model", "always", "--compress-algo", "none",
                "--encrypt", *[a for r in wanted for a in ("--recipient", r)], "--output", "-"]
        return Cipher(tuple(argv), False, tuple(wanted))

    def decryptor(self, passphrase_file: Optional[str] = None) -> Cipher:
        argv = [self.gpg, "--homedir", self.home, *GPG_FLAGS, "--decrypt", "--output", "-"]
        if passphrase_file:
            argv[-3:-3] = ["--pinentry-mode", "loopback", "--passphrase-file", passphrase_file]
        return Cipher(tuple(argv), True)

    def close(self) -> None:
        """Stop the agent gpg started for this home (a secret key import starts one), remove the home."""
        try:
            subprocess.run(["gpgconf", "--homedir", self.home, "--kill", "all"], capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.home, ignore_errors=True)


def filter_bytes(cipher: Cipher, data: bytes) -> bytes:
    """A small file's bytes through the filter: encrypted (inventory files, secrets) or decrypted."""
    proc = cipher.spawn(subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    feeder = feed(io.BytesIO(data), proc.stdin)
    try:
        out = proc.stdout.read()
    finally:
        feeder.join()
        proc.stdout.close()
    cipher.finish(proc)
    return out


def read_through(cipher: Cipher, path: str, limit: Optional[int] = None) -> bytes:
    """A file of the set decrypted: its plaintext (at most ``limit`` bytes kept; the rest is read and
    dropped, so that the filter still checks the whole message). EncryptionError when it fails."""
    kept = bytearray()
    with open(path, "rb") as source:
        proc = cipher.spawn(source)
        assert proc.stdout is not None
        try:
            while True:
                chunk = proc.stdout.read(1 << 20)
                if not chunk:
                    break
                if limit is None or len(kept) < limit:
                    kept += chunk if limit is None else chunk[: limit - len(kept)]
        finally:
            proc.stdout.close()
        cipher.finish(proc)
    return bytes(kept)
