"""The manifest as typed records: what backup writes, and what verify and restore read.

The JSON is format 1, key for key: ``to_json`` of a loaded format-1 manifest gives back the
dict it was loaded from. Each record is a dataclass whose fields map to JSON keys (camelCase
unless a field says otherwise). A field with ``omit_none`` is left out of the JSON while it
is None (the key is optional in format 1); every other field is always written. Keys this
release does not know are kept in ``extra`` and written back unchanged, so a set written by
a later release with optional additions survives a load and save here.

Loading checks every known key's type and names the key at fault
(``archives[3].size: expected an integer, found 'x'``): a manifest whose checksum is right
but whose content is not what cnxbackup writes is refused, not half-read.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple, Type, TypeVar

from ..errors import CnxBackupError

R = TypeVar("R")

DONE_STATUSES = ("done", "warning")
"""Statuses of an archive or database record whose content is in the set."""

COMPLETE = ("complete", "complete-with-warnings")
"""Statuses of a manifest whose set holds everything its plan asked for."""

SIGNATURE_ALGORITHM = "ecdsa-p256-sha256"
"""How ``manifest.json.sig`` is made: ECDSA with a P-256 key over the SHA-256 digest (``signing`` makes it)."""


class ManifestError(CnxBackupError):
    """The manifest is missing, damaged, edited, or not what cnxbackup writes."""


def key(name: Optional[str] = None, *, omit_none: bool = False) -> Dict[str, Any]:
    """Field metadata: the JSON key (when not the camelCase of the field name) and whether
    the key is left out while the value is None."""
    return {"key": name, "omit_none": omit_none}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _json_key(f: dataclasses.Field) -> str:
    return f.metadata.get("key") or _camel(f.name)


def _fields(cls: type) -> List[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if f.name != "extra"]


_HINTS: Dict[type, Dict[str, Any]] = {}


def _hints(cls: type) -> Dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list", dict: "an object"}


def _convert(value: Any, hint: Any, where: str) -> Any:
    """``value`` checked against the type ``hint`` (records built from their dicts)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin is typing.Union:
        if value is None and type(None) in args:
            return None
        [inner] = [a for a in args if a is not type(None)]
        return _convert(value, inner, where)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ManifestError(f"{where}: expected an object, found {_short(value)}")
        return from_json(typing.cast(Type[Any], hint), value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ManifestError(f"{where}: expected a list, found {_short(value)}")
        return [_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ManifestError(f"{where}: expected an object, found {_short(value)}")
        return {str(k): _convert(v, args[1], f"{where}.{k}") for k, v in value.items()}
    ok = (isinstance(value, bool) if hint is bool else
          isinstance(value, (int, float)) and not isinstance(value, bool) if hint is float else
          isinstance(value, hint) and not isinstance(value, bool))
    if not ok:
        raise ManifestError(f"{where}: expected {_NAMES.get(hint, hint)}, found {_short(value)}")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def from_json(cls: Type[R], data: Mapping[str, Any], where: str = "manifest") -> R:
    """A record of type ``cls`` from its JSON object; ManifestError names the key at fault."""
    hints = _hints(cls)
    values: Dict[str, Any] = {}
    known = set()
    for f in _fields(cls):
        name = _json_key(f)
        known.add(name)
        path = f"{where}.{name}" if where else name
        if name in data:
            values[f.name] = _convert(data[name], hints[f.name], path)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ManifestError(f"{path}: missing")
    values["extra"] = {k: v for k, v in data.items() if k not in known}
    return cls(**values)


def to_json(record: Any) -> Any:
    """The JSON form of a record (or of a list or dict of them), keys as format 1 has them."""
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        out: Dict[str, Any] = {}
        for f in _fields(type(record)):
            value = getattr(record, f.name)
            if value is None and f.metadata.get("omit_none"):
                continue
            out[_json_key(f)] = to_json(value)
        out.update(getattr(record, "extra", {}))
        return out
    if isinstance(record, list):
        return [to_json(v) for v in record]
    if isinstance(record, dict):
        return {k: to_json(v) for k, v in record.items()}
    return record


class Record:
    """Mixin of the manifest records: ``from_json`` / ``to_json``."""

    @classmethod
    def from_json(cls: Type[R], data: Mapping[str, Any], where: str = "manifest") -> R:
        return from_json(cls, data, where)

    def to_json(self) -> Dict[str, Any]:
        return typing.cast(Dict[str, Any], to_json(self))


# --------------------------------------------------------------------------- records


@dataclass
class ToolRecord(Record):
    """The program that wrote the set; ``path``: its own copy in the set (``tools/cnxbackup.pyz``,
    a zipapp that restores the set on a rebuilt host), with its SHA-256."""

    name: str
    version: str
    path: Optional[str] = field(default=None, metadata=key(omit_none=True))
    sha256: Optional[str] = field(default=None, metadata=key(omit_none=True))
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass
class HostRecord(Record):
    name: str
    address: str
    roles: List[str] = field(default_factory=list)
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass
class SnapshotRecord(Record):
    """GNU tar's listed-incremental snapshot of a level-0 archive, as fetched into the set."""

    path: str
    sha256: str
    size: int
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass
class LevelRecord(Record):
    """The level-1 archive of a two-phase item: what changed after its level 0 (format 3).

    ``snapshot_sha256`` names the level-0 snapshot it was started from: a level 1 taken from
    any other snapshot would not carry the changes since this set's level 0.
    """

    path: str
    sha256: str
    size: int
    files: int
    snapshot_sha256: str
    seconds: float = 0.0
    tar_bytes: Optional[int] = field(default=None, metadata=key(omit_none=True))
    warnings: List[str] = field(default_factory=list)
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass
class ArchiveRecord(Record):
    """One item of the set: a tar.zst of a folder (``kind`` archive) or a copied file (copy).

    ``source`` is where it was read on ``host``; ``path`` is relative to the set. The counts,
    digest and timing are there once the item was backed up; ``mode``/``uid``/``gid`` only for
    a copied file (the set keeps its own 0600 copy, the source's attributes are recorded);
    ``tar_bytes`` (the uncompressed tar stream, roughly the restored size) since format 2.
    """

    name: str
    kind: str
    source: str
    path: str
    status: str
    host: str = "local"
    description: str = ""
    restore_rule: str = "release"
    excluded: List[str] = field(default_factory=list)
    sha256: Optional[str] = field(default=None, metadata=key(omit_none=True))
    size: Optional[int] = field(default=None, metadata=key(omit_none=True))
    files: Optional[int] = field(default=None, metadata=key(omit_none=True))
    warnings: Optional[List[str]] = field(default=None, metadata=key(omit_none=True))
    seconds: Optional[float] = field(default=None, metadata=key(omit_none=True))
    error: Optional[str] = field(default=None, metadata=key(omit_none=True))
    mode: Optional[str] = field(default=None, metadata=key(omit_none=True))
    uid: Optional[int] = field(default=None, metadata=key(omit_none=True))
    gid: Optional[int] = field(default=None, metadata=key(omit_none=True))
    tar_bytes: Optional[int] = field(default=None, metadata=key(omit_none=True))
    # written with extended attributes, ACLs and SELinux contexts (restored with them as root)
    attributes: Optional[bool] = field(default=None, metadata=key(omit_none=True))
    # two-phase (format 3): the archive above is level 0, taken while the servers ran, with its
    # snapshot; ``level1`` holds what changed until the end; files that changed while level 0
    # read them (level 1 takes them again) are listed apart from the warnings
    level: Optional[int] = field(default=None, metadata=key(omit_none=True))
    numeric_owner: Optional[bool] = field(default=None, metadata=key(omit_none=True))
    snapshot: Optional[SnapshotRecord] = field(default=None, metadata=key(omit_none=True))
    level1: Optional[LevelRecord] = field(default=None, metadata=key(omit_none=True))
    changed_while_read: Optional[List[str]] = field(default=None, metadata=key(omit_none=True))
    # format 4: the archive (both levels) or the copied file is an OpenPGP message (archive.encrypt)
    encrypted: Optional[bool] = field(default=None, metadata=key(omit_none=True))
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def in_set(self) -> bool:
        return self.status in DONE_STATUSES

    @property
    def is_archive(self) -> bool:
        return self.kind == "archive"

    @property
    def two_phase(self) -> bool:
        """A level-0 archive whose level 1 must be extracted after it."""
        return self.level == 0

    def levels_problem(self) -> str:
        """Why the levels of the item do not make one tree ("" when they do): a level 1 needs its
        level 0, its snapshot, and to have been taken from that snapshot."""
        if self.level1 is not None and not self.two_phase:
            return "a level-1 archive without its level 0: the set is broken"
        if not self.two_phase:
            return ""
        if self.level1 is None:
            return "a level-0 archive without its level 1 (what changed until the stop is missing)"
        if self.snapshot is None:
            return "a level-0 archive without its snapshot: the set is broken"
        if self.level1.snapshot_sha256 != self.snapshot.sha256:
            return (f"its level 1 was taken from another snapshot ({self.level1.snapshot_sha256[:12]}..., the set's "
                    f"level 0 has {self.snapshot.sha256[:12]}...): the set is broken")
        return ""

    @property
    def unpacked_bytes(self) -> Optional[int]:
        """Roughly what the item takes restored: its tar stream(s), or a copied file's size."""
        if not self.is_archive:
            return self.tar_bytes if self.tar_bytes is not None else self.size
        if self.tar_bytes is None:
            return None
        return self.tar_bytes + ((self.level1.tar_bytes or self.level1.size) if self.level1 is not None else 0)

    def levels(self) -> List["ArchiveLevel"]:
        """The archives to extract, in order: the one archive, or level 0 then level 1."""
        first = ArchiveLevel(0 if self.two_phase else None, self.path, self.sha256 or "", self.size or 0,
                             self.files)
        if not self.two_phase or self.level1 is None:
            return [first]
        return [first, ArchiveLevel(1, self.level1.path, self.level1.sha256, self.level1.size, self.level1.files)]


@dataclass(frozen=True)
class ArchiveLevel:
    """One archive file of an item (not a manifest record: a view for verify and restore)."""

    level: Optional[int]
    path: str
    sha256: str
    size: int
    files: Optional[int]


@dataclass
class ImageRecord(Record):
    """A database backup image: ``path`` as the DB server sees it; ``host`` when that is
    another host; ``copy`` (relative to the set) when it was also fetched into the set."""

    path: str
    sha256: Optional[str] = field(default=None, metadata=key(omit_none=True))
    size: Optional[int] = field(default=None, metadata=key(omit_none=True))
    host: Optional[str] = field(default=None, metadata=key(omit_none=True))
    copy: Optional[str] = field(default=None, metadata=key(omit_none=True))
    encrypted: Optional[bool] = field(default=None, metadata=key(omit_none=True))  # the copy in the set
    # an encrypted copy is not the image's bytes: its own digest and size (``sha256``/``size`` stay the image's)
    copy_sha256: Optional[str] = field(default=None, metadata=key(omit_none=True))
    copy_size: Optional[int] = field(default=None, metadata=key(omit_none=True))

    @property
    def copy_digest(self) -> Tuple[Optional[str], Optional[int]]:
        """(SHA-256, size) of the copy in the set."""
        return (self.copy_sha256, self.copy_size) if self.copy_sha256 else (self.sha256, self.size)
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass
class DatabaseRecord(Record):
    """One database (DB2/SQL Server), SID (RMAN) or schema job (Data Pump) and its images."""

    name: str
    vendor: str
    status: str
    images: List[ImageRecord] = field(default_factory=list)
    timestamp: Optional[str] = None
    location: str = ""
    command: str = ""
    output_tail: str = field(default="", metadata=key("output_tail"))
    error: Optional[str] = None
    seconds: float = 0.0
    warnings: List[str] = field(default_factory=list)
    online: bool = False
    dry_run: bool = field(default=False, metadata=key("dry_run"))
    host: Optional[str] = field(default=None, metadata=key(omit_none=True))
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def in_set(self) -> bool:
        return self.status in DONE_STATUSES


@dataclass
class FileRecord(Record):
    """A file of the set (wsadmin results, generated scripts; since format 5 also RESTORE.md, REPORT.md,
    SHA256SUMS, ``tools/``: every file no other record names), relative to the set."""

    path: str
    sha256: str
    size: int
    encrypted: Optional[bool] = field(default=None, metadata=key(omit_none=True))
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass
class RoleMappingsRecord(Record):
    cell: Optional[str]
    applications: List[str]
    file: str = "wsadmin/role_mappings.json"
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass
class WsadminRecord(Record):
    """What the wsadmin steps found; their results as the Jython scripts wrote them."""

    auth_aliases: Optional[Dict[str, Any]] = None
    filenet_admin: Optional[Dict[str, Any]] = None
    stop_servers: Optional[Dict[str, Any]] = None
    launches: int = 0
    role_mappings: Optional[RoleMappingsRecord] = field(default=None, metadata=key(omit_none=True))
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass
class SigningRecord(Record):
    """Which key signed ``manifest.json.sig`` (format 2)."""

    key_fingerprint: str
    algorithm: str = SIGNATURE_ALGORITHM
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass
class Manifest(Record):
    """The whole record of a set. ``format`` and ``manifest_sha256`` are set by sealing."""

    tool: ToolRecord
    environment: str
    run_id: str
    connections: Dict[str, Any]
    status: str
    hosts: List[HostRecord] = field(default_factory=list)
    was: Dict[str, Any] = field(default_factory=dict)
    ccm: bool = False
    paths: Dict[str, Any] = field(default_factory=dict)
    started: Optional[str] = None
    ended: Optional[str] = None
    warnings: List[str] = field(default_factory=list)
    failures: List[str] = field(default_factory=list)
    steps: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    archives: List[ArchiveRecord] = field(default_factory=list)
    databases: List[DatabaseRecord] = field(default_factory=list)
    database_vendor: str = "none"
    wsadmin: WsadminRecord = field(default_factory=WsadminRecord)
    files: List[FileRecord] = field(default_factory=list)
    cell: Optional[str] = field(default=None, metadata=key(omit_none=True))
    # the checks the run was told to pass over (--allow-partial, --allow-other-environment)
    overrides: Optional[List[str]] = field(default=None, metadata=key(omit_none=True))
    # every time the servers were stopped for this set (a resume after a restart stops them again)
    stops: Optional[List[str]] = field(default=None, metadata=key(omit_none=True))
    # the Component Pack part (inventory summary, MongoDB dump with its counts, OpenSearch snapshot)
    component_pack: Optional[Dict[str, Any]] = field(default=None, metadata=key(omit_none=True))
    # the outage: from the first stop of the servers to the end of the last backup step
    archive_mode: Optional[str] = field(default=None, metadata=key(omit_none=True))
    stopped_at: Optional[str] = field(default=None, metadata=key(omit_none=True))
    finished_at: Optional[str] = field(default=None, metadata=key(omit_none=True))
    downtime_seconds: Optional[float] = field(default=None, metadata=key(omit_none=True))
    signing: Optional[SigningRecord] = field(default=None, metadata=key(omit_none=True))
    # format 4: {"tool": "gnupg", "recipients": [fingerprints]}: what the set's encrypted files need
    encryption: Optional[Dict[str, Any]] = field(default=None, metadata=key(omit_none=True))
    # format 5: every file of the set is in ``files`` or another record, or matches one of these
    # patterns (the files that change after the backup by design: ``manifest.coverage``)
    mutable_files: Optional[List[str]] = field(default=None, metadata=key(omit_none=True))
    format: Optional[int] = field(default=None, metadata=key(omit_none=True))
    manifest_sha256: Optional[str] = field(default=None, metadata=key("manifestSha256", omit_none=True))
    extra: Dict[str, Any] = field(default_factory=dict)

    def archive(self, name: str) -> Optional[ArchiveRecord]:
        return next((a for a in self.archives if a.name == name), None)

    @property
    def item_names(self) -> List[str]:
        return [a.name for a in self.archives]
