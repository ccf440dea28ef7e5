"""Detect the Connections and WAS versions, and decide what a backup may be restored onto.

Connections: Installation Manager's ``installed.xml`` holds the offering ``com.ibm.connections``
with a ``version`` attribute (single-quoted attributes; element names are not documented, so
any element with that id is accepted). WAS: ``<was_root>/properties/version/WAS.product``.
Interim fixes come from installed.xml ``<fix>`` elements and ``<connections_root>/version``.
HCL's rules: restore only within the same major.minor release line, where 6.0 CR6 and later
6.0 CRs count as 6.5; never onto a later release; ``provision/`` only onto the exact version
(CR and interim fixes).
"""
from __future__ import annotations

import io
import os
import re
import stat
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from .errors import PreflightError
from .log import get_logger
from .shown import quoted

CONNECTIONS_OFFERING = "com.ibm.connections"
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?(?:\.(\d+))?")
_CR_RE = re.compile(r"CR(\d+)", re.IGNORECASE)
MAX_XML_BYTES = 64 << 20  # installed.xml of a large IIM is a few MiB; WAS.product a few KiB


class NotARegularFile(OSError):
    """What is at the path is not a regular file (a FIFO, device, socket or folder), or is too large."""


def parse_regular_xml(path: str) -> "ET.ElementTree[ET.Element]":
    """``path`` parsed only when it is a regular file of at most ``MAX_XML_BYTES``. The folders that
    hold installed.xml and WAS.product may be the WebSphere user's: a FIFO planted there must not
    block the open (``O_NONBLOCK``), and the descriptor is checked (``fstat``) before a byte is read.
    A symlink is followed (IIM's agent data may be reached through one); where it ends is checked."""
    probe = os.open(path, getattr(os, "O_PATH", os.O_RDONLY) | getattr(os, "O_CLOEXEC", 0))  # opens nothing yet
    try:
        if not stat.S_ISREG(os.fstat(probe).st_mode):  # a device's open can act (a watchdog): never opened
            raise NotARegularFile(f"{path}: not a regular file (a FIFO, device or folder is there); not read")
        fd = os.open(f"/proc/self/fd/{probe}", os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    finally:
        os.close(probe)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotARegularFile(f"{path}: not a regular file (a FIFO, device or folder is there); not read")
        chunks: List[bytes] = []
        size = 0
        while size <= MAX_XML_BYTES:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_XML_BYTES:
            raise NotARegularFile(f"{path}: larger than {MAX_XML_BYTES:,} bytes; not read")
    finally:
        os.close(fd)
    return ET.parse(io.BytesIO(b"".join(chunks)))


@dataclass
class ConnectionsVersion:
    """A Connections version such as ``8.0.0.0_CR14`` plus its interim fixes."""

    raw: str
    interim_fixes: List[str] = field(default_factory=list)

    @property
    def numbers(self) -> Tuple[int, int]:
        match = _VERSION_RE.match(self.raw)
        if not match:
            raise ValueError(f"not a Connections version: {self.raw!r}")
        return int(match.group(1)), int(match.group(2))

    @property
    def cr(self) -> int:
        match = _CR_RE.search(self.raw)
        return int(match.group(1)) if match else 0

    @property
    def release_line(self) -> str:
        """major.minor, with 6.0 CR6+ folded into 6.5 (HCL's restore rule)."""
        major, minor = self.numbers
        if (major, minor) == (6, 0) and self.cr >= 6:
            return "6.5"
        return f"{major}.{minor}"

    @property
    def exact(self) -> str:
        """What must match for provision/: base version, CR and the sorted interim fixes."""
        fixes = ",".join(sorted(set(self.interim_fixes)))
        major, minor = self.numbers
        return f"{major}.{minor} CR{self.cr}" + (f" +{fixes}" if fixes else "")

    def to_dict(self) -> dict:
        return {"version": self.raw, "release": self.release_line, "cr": self.cr,
                "interimFixes": sorted(set(self.interim_fixes)), "exact": self.exact}

    @classmethod
    def from_dict(cls, data: dict) -> "ConnectionsVersion":
        return cls(raw=data["version"], interim_fixes=list(data.get("interimFixes") or []))


def read_installed_xml(path: str) -> Tuple[str, Optional[str]]:
    """Return (Connections version, WAS ND version or None) from IIM's installed.xml."""
    try:
        tree = parse_regular_xml(path)
    except FileNotFoundError:
        raise PreflightError(f"{path}: Installation Manager's installed.xml not found (set connections.version or paths.im_data)") from None
    except NotARegularFile as error:
        raise PreflightError(f"{error}; installed.xml must be a regular file") from None
    except (ET.ParseError, OSError) as error:
        raise PreflightError(f"{path}: cannot parse installed.xml: {error}") from None
    connections = None
    was = None
    for element in tree.iter():
        ident = element.get("id") or ""
        version = element.get("version")
        if not version:
            continue
        if ident == CONNECTIONS_OFFERING and connections is None:
            connections = version
        elif ident.startswith("com.ibm.websphere.ND") and was is None:
            was = version
    if connections is None:
        raise PreflightError(f"{path}: no package with id '{CONNECTIONS_OFFERING}' "
                             "(is Connections installed by this Installation Manager?)")
    return connections, was


def read_was_product(was_root: str) -> Optional[str]:
    """``<version>`` from WAS.product, or None when the file is absent."""
    path = os.path.join(was_root, "properties", "version", "WAS.product")
    try:
        tree = parse_regular_xml(path)
    except NotARegularFile as error:
        get_logger().warning("%s", error)
        return None
    except (OSError, ET.ParseError):
        return None
    node = tree.find("version")
    return node.text.strip() if node is not None and node.text else None


def read_installed_fixes(path: str, connections_root: Optional[str] = None) -> List[str]:
    """Connections interim fix IDs recorded in IIM's ``installed.xml`` (``<fix id=... offering=...>``).

    The element names are UNCONFIRMED (connections.md 4.1), so any element whose tag ends in
    ``fix`` counts when its ``offering`` is ``com.ibm.connections``, or when it has no offering
    and sits in the same ``<location>`` as the Connections package. With ``connections_root``,
    only fixes of a location whose ``path`` is that folder count (a guessed file must prove
    it describes this installation). A missing or unreadable file gives no fixes.
    """
    try:
        tree = parse_regular_xml(path)
    except NotARegularFile as error:
        get_logger().warning("%s", error)
        return []
    except (OSError, ET.ParseError):
        return []
    found: List[str] = []
    wanted_root = os.path.realpath(connections_root) if connections_root else None
    for location in tree.iter():
        children = list(location)
        has_connections = any(c.get("id") == CONNECTIONS_OFFERING and not _is_fix(c.tag) for c in children)
        if wanted_root is not None:
            where = location.get("path")
            if not where or os.path.realpath(where) != wanted_root:
                continue
        for child in children:
            if not _is_fix(child.tag) or not child.get("id"):
                continue
            offering = child.get("offering")
            fix_id = child.get("id")
            if fix_id and (offering == CONNECTIONS_OFFERING or (offering is None and has_connections)):
                found.append(fix_id)
    return fix_names(found, path)


FIX_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
"""What an interim fix's name may hold (HCL's are such as ``LO98765`` or ``CFix.80.2301``): nothing
that could end a line, quote, heading or shell word in RESTORE.md, REPORT.md or on a terminal."""


def fix_names(candidates: List[str], where: str) -> List[str]:
    """The candidates that are interim-fix names (sorted, once each); any other is left out and
    named in the log, quoted and printable."""
    good = {name for name in candidates if FIX_NAME.fullmatch(name)}
    for name in sorted(set(candidates) - good):
        get_logger().warning("%s: %s is not an interim fix's name; left out", where, quoted(name))
    return sorted(good)


def _is_fix(tag: str) -> bool:
    return tag.rsplit("}", 1)[-1].lower().endswith("fix")


def _guessed_installed_xml(connections_root: str) -> List[str]:
    """Where IIM's agent data usually is: /var/ibm/InstallationManager (admin mode), or the same
    path under the prefix that holds ``opt/`` (a relocated tree such as the demo)."""
    candidates = ["/var/ibm/InstallationManager/installed.xml"]
    marker = connections_root.find("/opt/")
    if marker > 0:
        candidates.insert(0, os.path.join(connections_root[:marker], "var/ibm/InstallationManager/installed.xml"))
    return candidates


def detect_interim_fixes(connections_root: str, installed_xml: Optional[str] = None) -> List[str]:
    """Interim fix IDs: IIM's ``installed.xml`` ``<fix>`` elements plus ``<connections_root>/version``.

    The layout of the version folder is not documented publicly; we accept ``<ID>.efix`` files
    and ``efixes/<ID>/`` folders. ``installed_xml`` is the agent data's file (pass it when known);
    without it the usual locations are tried, and only a file whose Connections ``<location
    path=...>`` is ``connections_root`` is used. ``connections.interim_fixes`` overrides all this.
    """
    found: List[str] = []
    base = os.path.join(connections_root, "version")
    for folder in (base, os.path.join(base, "efixes")):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if name.endswith(".efix"):
                found.append(name[:-5])
            elif folder.endswith("efixes") and os.path.isdir(os.path.join(folder, name)):
                found.append(name)
    found = fix_names(found, base)
    if installed_xml:
        found += read_installed_fixes(installed_xml)
    else:
        for candidate in _guessed_installed_xml(connections_root):
            fixes = read_installed_fixes(candidate, connections_root)
            if fixes:
                found += fixes
                break
    return sorted(set(found))


def _line_key(version: ConnectionsVersion) -> Tuple[int, int]:
    major, minor = version.release_line.split(".")
    return int(major), int(minor)


def restore_decision(backup: ConnectionsVersion, current: ConnectionsVersion) -> Tuple[bool, bool, str]:
    """(restore allowed, provision allowed, reason) per HCL's rules."""
    if backup.release_line != current.release_line:
        later = _line_key(current) > _line_key(backup)
        why = ("the deployment is on a later release; a backup is never restored onto a later release" if later
               else "the deployment is on a different (earlier) release")
        return False, False, (f"backup is Connections {backup.raw} (release {backup.release_line}); "
                              f"deployment is {current.raw} (release {current.release_line}): {why}; "
                              "HCL allows a restore only to the same major.minor release "
                              "(6.0 CR6 and later 6.0 CRs count as 6.5)")
    if backup.exact != current.exact:
        return True, False, (f"provision/ was backed up on {backup.exact} but the deployment is {current.exact}; "
                             "HCL allows provision/ only onto the exact same version (CR and interim fixes)")
    return True, True, f"same version {current.exact}"
