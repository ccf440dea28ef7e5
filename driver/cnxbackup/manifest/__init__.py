"""``manifest.json``: the self-describing record of a backup set, written last.

:mod:`.model` is the typed record (format 1, key for key); :mod:`.store` seals, writes and
loads it. See docs/DESIGN.md, "The manifest at the centre".
"""
from .coverage import COVERED_FORMAT, MUTABLE_FILES, SUMS
from .model import (
    COMPLETE,
    DONE_STATUSES,
    SIGNATURE_ALGORITHM,
    ArchiveLevel,
    ArchiveRecord,
    DatabaseRecord,
    FileRecord,
    HostRecord,
    ImageRecord,
    LevelRecord,
    Manifest,
    ManifestError,
    RoleMappingsRecord,
    SigningRecord,
    SnapshotRecord,
    ToolRecord,
    WsadminRecord,
)
from .store import (
    FORMAT,
    MANIFEST,
    SIGNATURE,
    ManifestFormatError,
    Signer,
    load_manifest,
    load_manifest_data,
    manifest_from_data,
    parse_manifest,
    parse_manifest_data,
    read_manifest_bytes,
    read_signature,
    seal,
    write_manifest,
    write_manifest_data,
)

__all__ = [
    "COMPLETE", "COVERED_FORMAT", "DONE_STATUSES", "MUTABLE_FILES", "SUMS",
    "FORMAT", "MANIFEST", "SIGNATURE", "SIGNATURE_ALGORITHM", "ArchiveLevel", "ArchiveRecord",
    "LevelRecord", "SnapshotRecord",
    "DatabaseRecord", "FileRecord", "HostRecord",
    "ImageRecord", "Manifest", "ManifestError", "ManifestFormatError", "RoleMappingsRecord", "Signer", "SigningRecord",
    "ToolRecord", "WsadminRecord", "load_manifest", "load_manifest_data", "manifest_from_data", "parse_manifest", "parse_manifest_data",
    "read_manifest_bytes", "read_signature", "seal", "write_manifest", "write_manifest_data",
]
