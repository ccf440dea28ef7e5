"""Secret key material never outlives the run (issue 26): each run's gpg home is ``<pid>-<random>``
in a private folder checked by ``lstat``, with a run lock inside; a new keyring sweeps the homes of
runs that are gone and keeps the live ones."""

from __future__ import annotations

import fcntl
import os
import subprocess

import pytest

from cnxbackup.archive.encryption import EncryptionError, Keyring, keyring_base


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _home(base, name: str, lock: bool = False):
    home = base / name
    home.mkdir(mode=0o700)
    (home / "private-keys-v1.d").mkdir()
    (home / "private-keys-v1.d" / "secret.key").write_text("secret")
    if lock:
        (home / "cnxbackup.run").write_text("")
    return home


def test_a_stale_home_is_swept_and_live_ones_are_kept(tmp_path) -> None:
    base = tmp_path / "gpg"
    base.mkdir(mode=0o700)
    dead = _home(base, f"{_dead_pid()}-stale")
    alive = _home(base, f"{os.getppid()}-alive")  # no run lock: its pid's process lives
    reused = _home(base, f"{os.getppid()}-reused", lock=True)  # a run lock nobody holds: the run is gone
    held = _home(base, f"{_dead_pid()}-held", lock=True)
    fd = os.open(held / "cnxbackup.run", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a live run holds it
    other = _home(base, "not-a-home")
    try:
        keyring = Keyring(base=str(base))
    finally:
        os.close(fd)
    try:
        assert not dead.exists() and not reused.exists()
        assert alive.exists() and held.exists() and other.exists()
        assert os.path.dirname(keyring.home) == str(base)
        assert os.path.basename(keyring.home).startswith(f"{os.getpid()}-")
        assert os.stat(keyring.home).st_mode & 0o777 == 0o700
        again = Keyring(base=str(base))  # another run now: this run's home is live, kept
        assert os.path.isdir(keyring.home)
        again.close()
    finally:
        keyring.close()
    assert not os.path.exists(keyring.home)
    assert Keyring(base=str(base)).home and not held.exists()  # its lock released: swept at the next start


def test_a_base_that_is_a_link_or_not_private_is_refused(tmp_path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    os.symlink(real, tmp_path / "link")
    with pytest.raises(EncryptionError, match="not a private folder"):
        Keyring(base=str(tmp_path / "link"))
    loose = tmp_path / "loose"
    loose.mkdir()
    os.chmod(loose, 0o755)
    with pytest.raises(EncryptionError, match="not a private folder"):
        Keyring(base=str(loose))


def test_the_default_base_is_private() -> None:
    base = keyring_base()
    info = os.lstat(base)
    assert info.st_uid == os.geteuid() and info.st_mode & 0o777 == 0o700
    if os.geteuid() == 0 and os.access("/run", os.W_OK):
        assert base == "/run/cnxbackup/gpg"
