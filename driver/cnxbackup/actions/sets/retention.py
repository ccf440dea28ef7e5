"""``cnxbackup list`` and ``cnxbackup prune``: the sets of an environment, and removing old ones.

A set counts as complete only when its manifest's signature holds under the trusted keys and
its status is complete (warnings allowed): a forged "complete" set on a shared disk must not
push the real ones out of ``--keep``. A set whose signature does not hold is never counted
and never removed (it is reported; an administrator removes it by hand). Sets are dated and
ordered by their signed record (``runId``, the folder name the backup gave them), not by the
folder's name now: an older set renamed with a newer stamp would otherwise pass for the newest
and let ``--keep 1`` remove the truly newest; a folder whose name disagrees with its signed record
is listed as such ("misnamed") and, like an untrusted one, never counted nor removed.

Prune rules (borgmatic/restic's ``--keep-last`` and ``--keep-within``, with the set's own
guards): the newest ``--keep N`` complete sets are kept, and with ``--keep-within DAYS`` every
complete set of the last DAYS days too; an unfinished or partial set newer than the newest
complete one is kept (it may be resumed), an older one is removed; a set that an unfinished
restore names is never removed; the newest complete set never is. Removing a set also removes
what the set itself recorded outside it, each only when the signature holds: its database
images left on the DB host (inside ``database.backup_dir``, SHA-256 matching; through the
vendor's own catalogue where it keeps one, the ``forget_backup`` hook: an Oracle RMAN backup by
its tag, never DB2 ``PRUNE HISTORY``), and its OpenSearch snapshot when the Component Pack is
configured. The set folder is first renamed to a hidden ``.cnxbackup-pruning-NAME`` so that a
cut prune never leaves a half-removed set that looks whole; the next prune finishes those.
"""
from __future__ import annotations

import os
import shlex
import shutil
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from ...componentpack import Kube, enabled, opensearch
from ...componentpack.opensearch import SEARCH_NAME
from ...config import Environment
from ...databases import db_host, forget_database_backup, image_state_here, image_state_on_host
from ...errors import CnxBackupError
from ...hosts import Host, hosts_of
from ...manifest import COMPLETE, MANIFEST, DatabaseRecord, ImageRecord, Manifest, ManifestError
from ...paths import is_plain_path_within
from ...progress import human_bytes
from ...shown import quoted
from ...signing import SignatureRefused
from ...transport import HostUnreachable, Transport
from .naming import list_sets, set_name_pattern, set_stamp, unfinished_restores
from .trust import open_set
from .verify_record import read_verify_record

PRUNING_PREFIX = ".cnxbackup-pruning-"


@dataclass
class SetEntry:
    """One set folder of the environment, as far as its signed manifest proves."""

    path: str
    name: str
    stamp: float  # the start its signed runId gives; from the folder name only while nothing signed says
    state: str  # complete | complete-with-warnings | partial | unfinished | untrusted | misnamed
    manifest: Optional[Manifest] = None
    trust_problem: str = ""
    restore_running: Optional[str] = None  # the folder of a restore that did not finish
    verify: Optional[Dict[str, Any]] = None
    size: int = 0
    verify_problem: str = ""  # why a verify record that is there cannot be read (it names the path)

    @property
    def complete(self) -> bool:
        return self.state in COMPLETE


@dataclass
class PruneDecision:
    entry: SetEntry
    keep: bool
    reason: str
    removed: List[str] = field(default_factory=list)
    problems: List[str] = field(default_factory=list)


def _folder_size(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def scan_sets(env: Environment, trusted_keys: str) -> List[SetEntry]:
    """The environment's sets under ``target.dir``, oldest first."""
    entries = []
    for path in list_sets(env.section("target")["dir"], env.name):
        name = os.path.basename(path)
        running = unfinished_restores(env, path)
        verify, verify_problem = read_verify_record(path)
        entry = SetEntry(path, name, set_stamp(env.name, name) or 0.0, "unfinished",
                         restore_running=running[0][0] if running else None,
                         verify=verify, size=_folder_size(path), verify_problem=verify_problem)
        if os.path.lexists(os.path.join(path, MANIFEST)):
            try:
                opened = open_set(path, trusted_keys, trust_unsealed=False)
                entry.manifest = opened.manifest
                entry.state = opened.manifest.status if opened.manifest.status in COMPLETE else "partial"
                _date_by_the_record(entry, env.name, opened.manifest)
            except (SignatureRefused, ManifestError, CnxBackupError, OSError) as error:
                entry.state, entry.trust_problem = "untrusted", str(error)
        entries.append(entry)
    entries.sort(key=lambda e: e.stamp)  # stable: oldest first by what the signed records say
    return entries


def _date_by_the_record(entry: SetEntry, env_name: str, manifest: Manifest) -> None:
    """The entry's date from its signed ``runId``; "misnamed" when the folder's name is not it."""
    recorded = manifest.run_id
    stamp = set_stamp(env_name, recorded) if isinstance(recorded, str) else None
    if stamp is not None:
        entry.stamp = stamp
    if recorded != entry.name or stamp is None:
        entry.state = "misnamed"
        entry.trust_problem = (f"name disagrees with its signed record (runId {quoted(recorded)}): "
                               "not counted and not removed; rename it back or remove it by hand")


def decide(entries: List[SetEntry], keep: int, keep_within_days: Optional[float], now: float) -> List[PruneDecision]:
    """Which sets to keep, each with the rule that keeps or removes it (entries oldest first)."""
    complete = [e for e in entries if e.complete]
    newest_complete = complete[-1] if complete else None
    kept_last = {id(e) for e in complete[-keep:]} if keep > 0 else set()
    decisions = []
    for entry in entries:
        if entry.restore_running:
            decisions.append(PruneDecision(entry, True, f"an unfinished restore names it ({entry.restore_running})"))
        elif entry.state == "untrusted":
            decisions.append(PruneDecision(entry, True, f"not removed: its signature does not hold ({entry.trust_problem})"))
        elif entry.state == "misnamed":
            decisions.append(PruneDecision(entry, True, f"not removed: its {entry.trust_problem}"))
        elif entry is newest_complete:
            decisions.append(PruneDecision(entry, True, "the newest complete set"))
        elif id(entry) in kept_last:
            decisions.append(PruneDecision(entry, True, f"one of the newest {keep} complete sets"))
        elif entry.complete and keep_within_days is not None and now - entry.stamp <= keep_within_days * 86400:
            days = f"{keep_within_days:g} day{'' if keep_within_days == 1 else 's'}"
            decisions.append(PruneDecision(entry, True, f"complete and within {days}"))
        elif not entry.complete and (newest_complete is None or entry.stamp > newest_complete.stamp):
            decisions.append(PruneDecision(entry, True, f"{entry.state}, newer than the newest complete set (may be resumed)"))
        elif entry.complete:
            decisions.append(PruneDecision(entry, False, f"complete, beyond the newest {keep}"))
        else:
            decisions.append(PruneDecision(entry, False, f"{entry.state}, older than the newest complete set"))
    return decisions


def _image_host(env: Environment, image: ImageRecord) -> Tuple[Optional[str], Optional[Host]]:
    name = image.host or db_host(env)
    if name is None:
        return None, None
    host = hosts_of(env).get(name)
    if host is None:
        raise CnxBackupError(f"image {image.path}: host {name} is not in the environment")
    return name, host


def _check_image(env: Environment, transport: Transport, db: DatabaseRecord, image: ImageRecord, backup_dir: str) -> bool:
    """Whether the image the set recorded is still there (False: already gone); raises when it may
    not be removed: outside backup_dir, not a regular file, or not the bytes the set recorded."""
    where = f"database {db.name}: image {image.path}"
    if not is_plain_path_within(image.path, backup_dir):
        raise CnxBackupError(f"{where} is not inside database.backup_dir {backup_dir}: left alone")
    if not image.sha256 or image.size is None:
        raise CnxBackupError(f"{where}: the set records no SHA-256 and size for it: left alone")
    host_name, host = _image_host(env, image)
    if host is None:
        state = image_state_here(image)
    else:
        where += f" on {host_name}"
        try:
            state = image_state_on_host(transport, host, image)
        except HostUnreachable as error:
            raise CnxBackupError(f"{where}: {error}") from None
    if state.present and state.problem is not None:
        raise CnxBackupError(f"{where} {state.problem}: left alone")
    return state.present


def _unlink_image(env: Environment, transport: Transport, image: ImageRecord) -> str:
    host_name, host = _image_host(env, image)
    if host is None:
        os.unlink(image.path)
        return f"image {image.path}: removed"
    proc = transport.run(host, f"rm -f -- {shlex.quote(image.path)}")
    if proc.returncode != 0:
        raise CnxBackupError(f"image {host_name}:{image.path}: rm failed (exit {proc.returncode}): {proc.stderr.strip()[-200:]}")
    return f"image {host_name}:{image.path}: removed"


def _forget_databases(env: Environment, manifest: Manifest, transport: Transport) -> List[str]:
    """Every image first checked, then removed (through the vendor's own catalogue where it keeps
    one, an Oracle RMAN backup by its tag): all of them or none."""
    backup_dir = str(env.section("database").get("backup_dir") or "")
    vendor = manifest.database_vendor
    present: List[Tuple[DatabaseRecord, List[ImageRecord]]] = []
    problems: List[str] = []
    for db in manifest.databases:
        # each image's path is where the DB tool wrote it, on the DB host (a copy in the set goes with the set)
        if db.status not in ("done", "warning"):
            continue
        there = []
        for image in db.images:
            try:
                if _check_image(env, transport, db, image, backup_dir):
                    there.append(image)
            except CnxBackupError as error:
                problems.append(str(error))
        try:
            forget_database_backup(vendor, db, env, dry_run=True)
        except CnxBackupError as error:
            problems.append(f"database {db.name}: {error}")
        present.append((db, there))
    if problems:
        raise CnxBackupError("; ".join(problems))
    lines: List[str] = []
    for db, there in present:
        if not there:
            lines.append(f"database {db.name}: its images are already gone")
            continue
        forgotten = forget_database_backup(vendor, db, env)
        if forgotten is not None:
            lines.append(forgotten)
        else:
            lines += [f"database {db.name}: {_unlink_image(env, transport, image)}" for image in there]
    return lines


def _forget_snapshot(env: Environment, manifest: Manifest, transport: Transport) -> List[str]:
    snap = (manifest.component_pack or {}).get("opensearch") or {}
    name = snap.get("snapshot")
    if not enabled(env) or not env.section("component_pack").get("opensearch") or not isinstance(name, str):
        return []
    if not SEARCH_NAME.fullmatch(name):
        raise CnxBackupError(f"the set names the OpenSearch snapshot {name!r}, not an OpenSearch name: left alone")
    kube = Kube(env, transport)
    search = opensearch.detect(kube)
    repository = str(kube.settings["opensearch_repository"])
    try:
        opensearch.request(kube, search, "DELETE", f"/_snapshot/{repository}/{name}")
    except opensearch.SearchError as error:
        if " is missing" not in str(error):  # snapshot_missing_exception: "[REPO:NAME] is missing"
            raise
        return [f"OpenSearch snapshot {repository}/{name}: already gone"]
    return [f"OpenSearch snapshot {repository}/{name}: deleted"]


def _image_place(env: Environment, image: ImageRecord) -> str:
    """``HOST:PATH`` of a recorded image (its path alone when it is on this host)."""
    host_name, host = _image_host(env, image)
    return f"{host_name}:{image.path}" if host is not None else image.path


def _planned_databases(env: Environment, manifest: Manifest) -> Tuple[List[str], List[str]]:
    """The images ``_forget_databases`` would remove, each on its host, and what it would refuse
    already from the record (outside ``database.backup_dir``, no digest, a host not in the file)."""
    backup_dir = str(env.section("database").get("backup_dir") or "")
    lines: List[str] = []
    problems: List[str] = []
    for db in manifest.databases:
        if db.status not in ("done", "warning"):
            continue
        try:
            planned = forget_database_backup(manifest.database_vendor, db, env, dry_run=True)
        except CnxBackupError as error:
            problems.append(f"database {db.name}: {error}")
            continue
        if planned is not None:  # through the vendor's own catalogue (an RMAN backup by its tag)
            lines.append(f"database {db.name}: {planned}")
            continue
        for image in db.images:
            where = f"database {db.name}: image {image.path}"
            try:
                place = _image_place(env, image)
            except CnxBackupError as error:
                problems.append(str(error))
                continue
            if not is_plain_path_within(image.path, backup_dir):
                problems.append(f"{where} is not inside database.backup_dir {backup_dir}: left alone")
            elif not image.sha256 or image.size is None:
                problems.append(f"{where}: the set records no SHA-256 and size for it: left alone")
            else:
                lines.append(f"database {db.name}: image {place} ({human_bytes(image.size)}): would be removed")
    return lines, problems


def planned_removal(env: Environment, decision: PruneDecision) -> PruneDecision:
    """What ``remove_set`` would remove, read from the set's signed record alone (``prune --dry-run``:
    nothing is touched and no host is asked): each database image on its host, the OpenSearch
    snapshot, the folder, each a line in ``removed``; in ``problems`` what the record already
    shows it would refuse (the real prune also checks each image's bytes on its host)."""
    entry = decision.entry
    if entry.manifest is not None:
        lines, problems = _planned_databases(env, entry.manifest)
        decision.removed += lines
        decision.problems += problems
        snap = (entry.manifest.component_pack or {}).get("opensearch") or {}
        name = snap.get("snapshot")
        if enabled(env) and env.section("component_pack").get("opensearch") and isinstance(name, str):
            repository = env.section("component_pack")["opensearch_repository"]
            if SEARCH_NAME.fullmatch(name):
                decision.removed.append(f"OpenSearch snapshot {repository}/{name} (through kubectl on "
                                        f"{env.section('component_pack')['host']}): would be deleted")
            else:
                decision.problems.append(f"the set names the OpenSearch snapshot {name!r}, not an OpenSearch name: "
                                         "left alone")
    decision.removed.append(f"{entry.path}: would be removed ({human_bytes(entry.size)})")
    return decision


def remove_set(env: Environment, decision: PruneDecision, transport: Transport) -> PruneDecision:
    """Remove a decided set: what it recorded outside itself first (each a line in ``removed``,
    each failure in ``problems``, which keeps the set), then the folder."""
    entry = decision.entry
    if entry.manifest is not None:
        for part in (_forget_databases, _forget_snapshot):
            try:
                decision.removed += part(env, entry.manifest, transport)
            except (CnxBackupError, OSError) as error:
                decision.problems.append(str(error))
    if decision.problems:  # what is left outside is still named by the set: keep the set that names it
        return decision
    hidden = os.path.join(os.path.dirname(entry.path), PRUNING_PREFIX + entry.name)
    os.rename(entry.path, hidden)
    shutil.rmtree(hidden)
    decision.removed.append(f"{entry.path}: removed ({human_bytes(entry.size)})")
    return decision


def finish_cut_prunes(target: str, env_name: str) -> List[str]:
    done = []
    for name in sorted(os.listdir(target)) if os.path.isdir(target) else []:
        if name.startswith(PRUNING_PREFIX) and set_name_pattern(env_name).fullmatch(name[len(PRUNING_PREFIX):]):
            shutil.rmtree(os.path.join(target, name), ignore_errors=True)
            done.append(f"{os.path.join(target, name)}: the removal a cut prune began is finished")
    return done


def set_json(entry: SetEntry) -> Dict[str, Any]:
    manifest = entry.manifest
    return {"path": entry.path, "name": entry.name, "status": entry.state,
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(entry.stamp)),
            "connectionsVersion": manifest.connections.get("version") if manifest else None,
            "bytes": entry.size, "downtimeSeconds": manifest.downtime_seconds if manifest else None,
            "signed": manifest is not None,  # a set whose signature does not hold has no manifest here
            "trustProblem": entry.trust_problem or None, "unfinishedRestore": entry.restore_running,
            "lastVerify": entry.verify}
