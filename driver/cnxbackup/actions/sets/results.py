"""The ``--json`` results of a plan or a set: per-item and per-database entries for a CommandOutcome.

A set is described from its manifest when it has one (written last), else from its journal
(a run that stopped before the end). Only what the set says is reported: these entries are
information for scripts, never a decision input.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from ...journal import Journal
from ...manifest import ArchiveRecord, DatabaseRecord, Manifest, ManifestError, load_manifest
from ...outcome import CommandOutcome
from ...plan import Plan


def item_entry(record: ArchiveRecord) -> Dict[str, Any]:
    size = (record.size or 0) + (record.level1.size if record.level1 is not None else 0)
    return {"name": record.name, "kind": record.kind, "host": record.host, "source": record.source,
            "status": record.status, "bytes": size if record.size is not None else None, "files": record.files,
            "seconds": (record.seconds or 0.0) + (record.level1.seconds if record.level1 is not None else 0.0),
            "error": record.error, "warnings": list(record.warnings or [])}


def database_entry(record: DatabaseRecord) -> Dict[str, Any]:
    sizes = [image.size for image in record.images if image.size is not None]
    return {"name": record.name, "vendor": record.vendor, "host": record.host, "status": record.status,
            "bytes": sum(sizes) if sizes else None, "seconds": record.seconds, "error": record.error,
            "warnings": list(record.warnings)}


def set_bytes(manifest: Manifest) -> int:
    """What the set holds on its disk: archives (both levels), snapshots, files, copied images."""
    total = 0
    for record in manifest.archives:
        total += record.size or 0
        total += record.level1.size if record.level1 is not None else 0
        total += record.snapshot.size if record.snapshot is not None else 0
    total += sum(record.size for record in manifest.files)
    total += sum(image.copy_digest[1] or 0 for db in manifest.databases for image in db.images if image.copy)
    return total


def describe_manifest(outcome: CommandOutcome, manifest: Manifest) -> None:
    outcome.items = [item_entry(record) for record in manifest.archives]
    outcome.databases = [database_entry(record) for record in manifest.databases]
    outcome.bytes = set_bytes(manifest)
    outcome.downtime_seconds = manifest.downtime_seconds
    outcome.details["setStatus"] = manifest.status
    outcome.details["connectionsVersion"] = manifest.connections.get("version")
    if manifest.component_pack is not None:
        outcome.details["componentPack"] = manifest.component_pack


def _journal_entries(journal: Journal) -> List[Dict[str, Any]]:
    entries = []
    for step_id in journal.data.get("order", []):
        entry = journal.step(step_id)
        kind, _, name = step_id.partition(":")
        found = entry.get("result")
        result: Dict[str, Any] = found if isinstance(found, dict) else {}
        entries.append({"name": name or step_id, "kind": kind, "host": result.get("host"), "source": result.get("source"),
                        "status": entry.get("status", "pending"), "bytes": result.get("size"),
                        "files": result.get("files"), "seconds": result.get("seconds"), "error": entry.get("error"),
                        "warnings": list(result.get("warnings") or [])})
    return entries


def describe_set(outcome: CommandOutcome, set_dir: str) -> None:
    """Fill the outcome from the set: its manifest, or the journal of a run that did not get there."""
    outcome.set_dir = set_dir
    try:
        describe_manifest(outcome, load_manifest(set_dir))
        return
    except (OSError, ManifestError):
        pass
    try:
        journal = Journal.load(set_dir)
    except (OSError, ValueError):
        return
    entries = _journal_entries(journal)
    outcome.items = [e for e in entries if e["kind"] in ("item", "level1", "file", "cp")]
    outcome.databases = [e for e in entries if e["kind"] == "db"]
    outcome.details["setStatus"] = journal.data.get("status", "running")


def describe_plan(outcome: CommandOutcome, plan: Plan, estimated_downtime: Optional[str] = None) -> None:
    outcome.items = [{"name": item.name, "kind": item.kind, "host": item.host, "source": item.source,
                      "status": "planned", "bytes": item.est_bytes, "files": item.est_files, "seconds": None,
                      "error": None, "warnings": []} for item in plan.items]
    outcome.databases = [{"name": name, "vendor": plan.db_vendor, "host": None, "status": "planned", "bytes": None,
                          "seconds": None, "error": None, "warnings": []} for name in plan.databases]
    outcome.bytes = plan.estimated_bytes
    outcome.details["connectionsVersion"] = plan.version.raw
    outcome.details["wsadminSteps"] = list(plan.wsadmin_steps)
    if estimated_downtime:
        outcome.details["estimatedDowntime"] = estimated_downtime

