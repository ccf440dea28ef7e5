"""Rewrite a zipapp without compiled extension modules (``*.so``), keeping its shebang and modes.

The production zipapp must run on every supported interpreter (3.9 to 3.13, RHEL and SLES):
an extension built for the build machine's Python is at best ignored there. The pure-Python
fallbacks (PyYAML without libyaml, MarkupSafe without its speedups) are what runs.

    python3 tools/pure_zipapp.py dist/cnxbackup.pyz
"""
from __future__ import annotations

import os
import sys
import zipfile


def strip_binaries(path: str) -> list:
    with open(path, "rb") as handle:
        data = handle.read()
    shebang = data.split(b"\n", 1)[0] + b"\n" if data.startswith(b"#!") else b""
    removed = []
    temporary = path + ".pure"
    with zipfile.ZipFile(path) as source, open(temporary, "wb") as out:
        out.write(shebang)
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
            for info in source.infolist():
                if info.filename.endswith((".so", ".pyd")) or ".so." in os.path.basename(info.filename):
                    removed.append(info.filename)
                    continue
                target.writestr(info, source.read(info.filename))
    os.chmod(temporary, os.stat(path).st_mode)
    os.replace(temporary, path)
    return removed


if __name__ == "__main__":
    for name in strip_binaries(sys.argv[1]):
        print(f"left out {name} (compiled; its pure-Python fallback runs)")
