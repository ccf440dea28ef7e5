#!/usr/bin/env python3
"""Benchmark: what archive.encrypt costs. create_archive of the bench tree through GnuPG against the
same without (both fsynced, side by side, alternately, medians), and the encrypted archive's
gated read (scan_archive, decrypting) against the plain one's.

Prints ``encrypted_archive_vs_plain=<ratio>`` and ``encrypted_scan_vs_plain=<ratio>``; goal <= 1.25
each (gpg runs beside zstd on the already compressed stream, one more process in the pipe).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "driver"))
sys.path.insert(0, str(HERE.parent / "tests"))

from cnxbackup import archive  # noqa: E402
from gpgkeys import make_key  # noqa: E402

MAX_RATIO = 1.25


def _timed(body) -> float:
    started = time.perf_counter()
    body()
    return time.perf_counter() - started


def measure(workdir: str, tree: Path, runs: int = 3) -> dict:
    work = Path(workdir) / "encrypt"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cnxbench-gpg-") as home:
        fingerprint = make_key(os.path.join(home, "home"), "bench", home)
        sender, reader = archive.Keyring(), archive.Keyring()
        try:
            sender.import_file(os.path.join(home, "bench.pub.asc"), "public keys file")
            reader.import_file(os.path.join(home, "bench.sec.asc"), "identity file", secret=True)
            encrypt, decrypt = sender.encryptor([fingerprint]), reader.decryptor()
            plain_file, secret_file = work / "plain.tar.zst", work / "secret.tar.zst"
            made = {}

            def create(dest: Path, cipher) -> None:
                if dest.exists():
                    dest.unlink()
                made[dest] = archive.create_archive(str(tree), str(dest), level=3, threads=0, cipher=cipher)

            create(plain_file, None)  # warm-up
            create(secret_file, encrypt)
            plain, secret, scan_plain, scan_secret = [], [], [], []
            for _ in range(runs):
                plain.append(_timed(lambda: create(plain_file, None)))
                secret.append(_timed(lambda: create(secret_file, encrypt)))
                scan_plain.append(_timed(lambda: archive.scan_archive(str(plain_file), allow_special=False,
                                                                      expected_sha256=made[plain_file].sha256)))
                scan_secret.append(_timed(lambda: archive.scan_archive(str(secret_file), allow_special=False,
                                                                       expected_sha256=made[secret_file].sha256,
                                                                       cipher=decrypt)))
        finally:
            sender.close()
            reader.close()
    figures = {"archive": statistics.median(secret) / statistics.median(plain),
               "scan": statistics.median(scan_secret) / statistics.median(scan_plain)}
    print(f"encryption: create {statistics.median(plain):.2f} s plain, {statistics.median(secret):.2f} s encrypted; "
          f"scan {statistics.median(scan_plain):.2f} s plain, {statistics.median(scan_secret):.2f} s decrypting "
          f"(gpg {subprocess.run(['gpg', '--version'], capture_output=True, text=True).stdout.split()[2]})")
    return figures


if __name__ == "__main__":
    result = measure(sys.argv[1] if len(sys.argv) > 1 else "/tmp/cnxbench", Path(sys.argv[2]) if len(sys.argv) > 2 else HERE)
    print(f"encrypted_archive_vs_plain={result['archive']:.3f}")
    print(f"encrypted_scan_vs_plain={result['scan']:.3f}")
