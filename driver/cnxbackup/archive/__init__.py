"""The archive engine: ``tar | zstd`` archives and single-file copies, hashed in the stream.

- :mod:`.common`: errors, results, progress throttling, cancellation;
- :mod:`.process`: child-process plumbing and the parser of ``tar -v`` stderr;
- :mod:`.create`: archives here or from another host's stream, the remote command;
- :mod:`.excludes`: what tar leaves out, as tar options, as the estimate's test and as ``find`` prunes;
- :mod:`.copy`: the one hash-while-copy loop (files into and out of the set, every transport);
- :mod:`.members`: the member gate (tar read as GNU tar reads it, checked before it is passed on);
- :mod:`.extract`: one gated read to extract or scan, and GNU tar's own listing.
"""
from __future__ import annotations

from .common import (
    ATTRIBUTE_ARGS,
    ArchiveCancelled,
    ArchiveError,
    ArchiveResult,
    DiskFullError,
    ListResult,
    ProgressFn,
    UnsafeArchiveError,
    attribute_args,
)
from .copy import CopyResult, copy_back_file, copy_file, hash_file, open_source, pump, receive
from .create import (
    create_archive,
    create_archive_from_stream,
    incremental_args,
    low_priority_prefix,
    remote_archive_command,
    tar_create_args,
    zstd_compress_args,
)
from .encryption import Cipher, EncryptionError, Keyring, filter_bytes, read_through
from .excludes import TarExcludes
from .extract import archive_names, extract_archive, list_archive, scan_archive, stream_archive, tar_extract_argv
from .members import MalformedArchive, MemberGate
from .process import changed_while_read

__all__ = [
    "ATTRIBUTE_ARGS", "attribute_args", "Cipher", "EncryptionError", "Keyring", "filter_bytes", "read_through",
    "ArchiveCancelled", "ArchiveError", "ArchiveResult", "CopyResult", "DiskFullError", "ListResult", "ProgressFn",
    "UnsafeArchiveError", "copy_back_file", "copy_file", "create_archive", "create_archive_from_stream",
    "extract_archive", "hash_file", "list_archive", "open_source", "pump", "receive", "remote_archive_command",
    "tar_create_args", "zstd_compress_args", "scan_archive", "stream_archive", "tar_extract_argv",
    "MalformedArchive", "MemberGate", "archive_names", "changed_while_read", "incremental_args", "low_priority_prefix",
    "TarExcludes",
]
