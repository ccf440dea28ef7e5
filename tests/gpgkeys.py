"""Test helper: OpenPGP keys made on the spot (GnuPG), and the environment lines that encrypt to one."""
from __future__ import annotations

import os
import subprocess


def make_key(home: str, name: str, out: str) -> str:
    """A fresh OpenPGP key (ed25519/cv25519, no passphrase): its fingerprint; NAME.pub.asc and NAME.sec.asc in out."""
    os.makedirs(home, mode=0o700, exist_ok=True)
    gpg = ["gpg", "--homedir", home, "--batch", "--quiet"]
    subprocess.run(gpg + ["--passphrase", "", "--quick-gen-key", f"{name} <{name}@example.invalid>", "future-default",
                          "default", "never"], check=True, capture_output=True)
    listing = subprocess.run(gpg + ["--with-colons", "--fingerprint", "--list-keys", name], check=True,
                             capture_output=True, text=True).stdout
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    with open(os.path.join(out, f"{name}.pub.asc"), "wb") as handle:
        handle.write(subprocess.run(gpg + ["--armor", "--export", fingerprint], check=True, capture_output=True).stdout)
    with open(os.path.join(out, f"{name}.sec.asc"), "wb") as handle:
        handle.write(subprocess.run(gpg + ["--pinentry-mode", "loopback", "--passphrase", "", "--armor",
                                           "--export-secret-keys", fingerprint], check=True, capture_output=True).stdout)
    subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], capture_output=True)
    return fingerprint


def encrypt_yaml(fingerprint: str, public_keys: str) -> str:
    return f"archive:\n  encrypt:\n    recipients: [\"{fingerprint}\"]\n    public_keys: \"{public_keys}\"\n"
