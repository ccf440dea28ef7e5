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

import errno
import fcntl
import io
import os
import re
import shutil
import stat
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


RUN_GPG_BASE = "/run/cnxbackup/gpg"
"""Where root's runs keep their private gpg homes: a root-only folder in memory (tmpfs), gone at reboot."""
_HOME_NAME = re.compile(r"(\d+)-[A-Za-z0-9_]+")  # <pid>-<random>: the pid is for a person reading the folder
_RUN_LOCK = "cnxbackup.run"  # flock'ed by the run for its whole life: a home whose lock can be taken is stale


def _own_private_folder(path: str) -> str:
    """``path`` made (0700) or found, then checked by ``lstat``: a folder, not a link, ours, mode 0700."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() \
            or stat.S_IMODE(info.st_mode) != 0o700:
        raise EncryptionError(f"{path}: not a private folder of this user (a folder, not a link, owned by uid "
                              f"{os.geteuid()}, mode 0700); the gpg homes are not put there")
    return path


def keyring_base() -> str:
    """The folder of the runs' gpg homes: ``/run/cnxbackup/gpg`` for root, ``$XDG_RUNTIME_DIR/cnxbackup-gpg``
    for another user, else ``cnxbackup-gpg-<uid>`` in the system temp folder; each checked private."""
    if os.geteuid() == 0 and os.path.isdir("/run"):
        try:
            _own_private_folder(os.path.dirname(RUN_GPG_BASE))
            return _own_private_folder(RUN_GPG_BASE)
        except OSError:
            pass  # a read-only /run: the fallback below
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if os.geteuid() != 0 and runtime and os.path.isabs(runtime) and os.path.isdir(runtime):
        try:
            return _own_private_folder(os.path.join(runtime, "cnxbackup-gpg"))
        except (OSError, EncryptionError):
            pass
    return _own_private_folder(os.path.join(tempfile.gettempdir(), f"cnxbackup-gpg-{os.geteuid()}"))


def _stale(home: str, pid: int) -> bool:
    """A home whose run is gone: its run lock can be taken (the kernel dropped the dead run's), or,
    without one, no process has its pid."""
    try:
        fd = os.open(os.path.join(home, _RUN_LOCK), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError as error:
        return error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN)
    finally:
        os.close(fd)


def _stop_agent(home: str) -> None:
    try:
        subprocess.run(["gpgconf", "--homedir", home, "--kill", "gpg-agent"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        pass


def sweep_stale_homes(base: str) -> List[str]:
    """Remove the gpg homes of runs that are gone (their agents stopped first): the removed paths."""
    swept = []
    for name in sorted(os.listdir(base)):
        match = _HOME_NAME.fullmatch(name)
        home = os.path.join(base, name)
        if match is None or int(match.group(1)) == os.getpid():
            continue
        info = os.lstat(home)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or not _stale(home, int(match.group(1))):
            continue
        _stop_agent(home)
        shutil.rmtree(home, ignore_errors=True)
        swept.append(home)
    return swept


class Keyring:
    """A private gpg home for one run: import keys, make ciphers, remove it all on ``close``.

    The home (which holds a secret key during a restore) is ``<pid>-<random>`` in ``keyring_base()``,
    a private folder checked by ``lstat``, with a run lock inside held for the run's life; each new
    keyring first sweeps the homes of runs that are gone (killed before their ``close``), stopping
    their agents, so that no key material outlives its run for longer than the next run's start.
    """

    def __init__(self, gpg: str = "gpg", base: Optional[str] = None) -> None:
        self.gpg = gpg
        folder = _own_private_folder(base) if base else keyring_base()
        sweep_stale_homes(folder)
        self.home = tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=folder)
        os.chmod(self.home, 0o700)
        self._lock = os.open(os.path.join(self.home, _RUN_LOCK),
                             os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o600)
        fcntl.flock(self._lock, fcntl.LOCK_EX)

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
        if self._lock >= 0:
            os.close(self._lock)
            self._lock = -1


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
