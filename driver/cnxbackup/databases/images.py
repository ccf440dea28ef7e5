"""A database image as the manifest records it, and the one check that it is still that image.

The check is the same for every vendor and every caller (restore before it changes anything,
prune before it removes anything): the file at the recorded path is a regular file, not a
link, of the recorded size and SHA-256; on the DB host it is read there (``stat``,
``sha256sum``), here by this process.
"""
from __future__ import annotations

import dataclasses
import os
import shlex
from typing import Any, Dict, Optional

from ..archive import hash_file
from ..hosts import Host
from ..manifest import ImageRecord
from ..transport import Transport

_GONE, _NOT_A_FILE = 3, 5  # exit codes of the remote script below


@dataclasses.dataclass(frozen=True)
class ImageState:
    """What is at an image's recorded path: ``present`` False when nothing is; ``problem``, why
    it is not the image the set recorded (None: it is a regular file of its size and SHA-256)."""

    present: bool
    problem: Optional[str] = None


def image_record(path: str) -> Dict[str, Any]:
    """A local image as the manifest records it: path, and SHA-256 and size when it exists."""
    record: Dict[str, Any] = {"path": path}
    if os.path.isfile(path):
        record["sha256"], record["size"] = hash_file(path)
    return record


def _mismatch(size: int, digest: str, image: ImageRecord) -> Optional[str]:
    """Why (size, digest) are not the recorded image's; each compared only when the set records it."""
    if image.size is not None and size != image.size:
        return f"does not match its SHA-256 and size in the manifest ({size} bytes, the manifest says {image.size})"
    if image.sha256 and digest != image.sha256:
        return "does not match its SHA-256 and size in the manifest (changed or replaced)"
    return None


def image_state_here(image: ImageRecord) -> ImageState:
    """The recorded image at its path on this machine."""
    path = image.path
    if not os.path.lexists(path):
        return ImageState(False, "is missing")
    if os.path.islink(path) or not os.path.isfile(path):
        return ImageState(True, "is not a regular file")
    try:
        digest, size = hash_file(path)
    except OSError as error:
        return ImageState(True, f"could not be read: {error.strerror}")
    return ImageState(True, _mismatch(size, digest, image))


def image_state_on_host(transport: Transport, host: Host, image: ImageRecord) -> ImageState:
    """The recorded image at its path on ``host``, read there; HostUnreachable when the host is."""
    quoted = shlex.quote(image.path)
    script = (f"test -e {quoted} || test -L {quoted} || exit {_GONE}; "
              f"test -f {quoted} && test ! -L {quoted} || exit {_NOT_A_FILE}; "
              f"stat -c %s -- {quoted} && sha256sum -- {quoted}")
    proc = transport.run(host, script)
    if proc.returncode == _GONE:
        return ImageState(False, "is missing")
    if proc.returncode == _NOT_A_FILE:
        return ImageState(True, "is not a regular file")
    words = str(proc.stdout).split()
    if proc.returncode != 0 or len(words) < 2 or not words[0].isdigit():
        return ImageState(True, f"could not be read (exit {proc.returncode}): {str(proc.stderr).strip()[-200:]}")
    return ImageState(True, _mismatch(int(words[0]), words[1], image))
