"""``manifest.json``: the self-describing record of a backup set, written last.

:mod:`.model` is the typed record (format 1, key for key); :mod:`.store` seals, writes and
loads it. See docs/DESIGN.md, "The manifest at the centre".
"""
from .model import (
    DONE_STATUSES,
    ArchiveRecord,
    DatabaseRecord,
    FileRecord,
    HostRecord,
    ImageRecord,
    Manifest,
    ManifestError,
    RoleMappingsRecord,
    ToolRecord,
    WsadminRecord,
)
from .store import (
    FORMAT,
    MANIFEST,
    ManifestFormatError,
    load_manifest,
    load_manifest_data,
    seal,
    write_manifest,
    write_manifest_data,
)

__all__ = ["DONE_STATUSES", "FORMAT", "MANIFEST", "ArchiveRecord", "DatabaseRecord", "FileRecord", "HostRecord",
           "ImageRecord", "Manifest", "ManifestError", "ManifestFormatError", "RoleMappingsRecord", "ToolRecord",
           "WsadminRecord", "load_manifest", "load_manifest_data", "seal", "write_manifest", "write_manifest_data"]
