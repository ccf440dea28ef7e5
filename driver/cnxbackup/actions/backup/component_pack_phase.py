"""The Component Pack part of a backup: inventory (with Helm's release records), the API gateway's etcd
snapshot, MongoDB dump, OpenSearch snapshot.

It runs after the WebSphere stop, beside the database backups, so that the Orient Me and
Profiles data in MongoDB come from the same moment as the WebSphere databases. Each part is one
journaled step (``cp:inventory``, ``cp:etcd``, ``cp:mongodb``, ``cp:opensearch``): a failed part fails alone
(the set is partial, the WebSphere half completes) and ``--resume`` redoes only what is not done.
Deployments named in ``component_pack.quiesce`` (Boards, Customizer, which keep writing after the
WebSphere stop) are scaled to 0 for the dump and always scaled back, also by a resume after a
crash (their replicas are in the journal). The member to lock and the snapshot's name are in the
journal before the lock and the snapshot, so that a resume after a crash unlocks the member its own run
locked (only that one) and deletes a snapshot of that name that did not succeed before taking it again.
"""
from __future__ import annotations

import os
import time
from typing import Any, Callable, Dict, List, Optional

from ...archive import hash_file
from ...componentpack import Kube, KubeError, enabled, etcd, inventory, mongo, opensearch, settings
from ...config import Environment
from ...errors import CnxBackupError
from ...journal import DONE, FAILED, RUNNING, Journal, now
from ...progress import counted
from ..sets.naming import find_resumable_set
from .state import BackupRun

FOLDER = "componentpack"
MONGO_ARCHIVE = f"{FOLDER}/mongodb.archive.gz"
LOCK_RECORD = "cpLock"  # journal: {member, time, runId} of the fsyncLock this run takes, until it is undone
SNAPSHOT_RECORD = "cpSnapshot"  # journal: the OpenSearch snapshot's name, before its PUT


def planned_steps(run: BackupRun) -> List[str]:
    if not enabled(run.env):
        return []
    cp = settings(run.env)
    return (["cp:inventory"] + (["cp:etcd"] if cp["etcd"] != "off" else []) + (["cp:mongodb"] if cp["mongodb"] else [])
            + (["cp:opensearch"] if cp["opensearch"] else []))


def snapshot_item_names(run: BackupRun) -> List[str]:
    """The PV folder items that hold the snapshot repository: archived after the snapshot (phase 2)."""
    if not enabled(run.env) or not settings(run.env)["opensearch"]:
        return []
    return [item.name for item in run.plan.items if item.key == "component_pack.folders"
            and os.path.basename(item.source) in ("opensearchbackup", "esbackup-7")]


def run(run: BackupRun) -> None:
    steps = [s for s in planned_steps(run) if not _still_done(run, s)]
    if not steps:
        if planned_steps(run):
            run.progress.message("[component pack] already backed up in this set")
        return
    kube = Kube(run.env, run.transport)
    run.log.info("component pack: %s in namespace %s on host %s", ", ".join(steps), kube.namespace, kube.host.name)
    actions: Dict[str, Callable[[], Dict[str, Any]]] = {
        "cp:inventory": lambda: _inventory(run, kube),
        "cp:etcd": lambda: _etcd(run, kube),
        "cp:mongodb": lambda: _quiesced(run, kube, lambda: _mongodb(run, kube)),
        "cp:opensearch": lambda: _opensearch(run, kube),
    }
    for step in steps:
        if run.cancel.is_set():
            break
        run.journal.set(step, RUNNING)
        run.progress.message(f"[component pack] {step[3:]} ...")
        started = time.monotonic()
        try:
            result = actions[step]()
        except (CnxBackupError, OSError) as error:
            if run.cancel.is_set():  # its tool was stopped by Ctrl-C: interrupted, not failed (nor said)
                run.journal.set(step, FAILED, error="interrupted")
                run.log.info("component pack %s interrupted (%s)", step[3:], error)
                break
            run.journal.set(step, FAILED, error=str(error))
            run.failures.append(f"component pack {step[3:]}: {error}")
            run.progress.message(f"[component pack] {step[3:]} FAILED: {error}")
            continue
        except BaseException:
            run.journal.set(step, FAILED, error="interrupted")
            raise
        result["seconds"] = round(time.monotonic() - started, 2)
        run.journal.set(step, DONE, result=result)
        run.log.info("component pack %s done in %.1f s: %s", step[3:], result["seconds"], _summary(step, result))
        run.progress.message(f"[component pack] {step[3:]} done: {_summary(step, result)}")


def _still_done(run: BackupRun, step: str) -> bool:
    if not run.journal.is_finished(step):
        return False
    record = run.journal.result(step) or {}
    if step == "cp:etcd":
        return all(os.path.isfile(os.path.join(run.layout.root, FOLDER, str(s.get("file"))))
                   and hash_file(os.path.join(run.layout.root, FOLDER, str(s.get("file")))) == (s.get("sha256"), s.get("size"))
                   for s in record.get("snapshots") or [])
    if step != "cp:mongodb":
        return True
    path = os.path.join(run.layout.root, MONGO_ARCHIVE)
    return os.path.isfile(path) and hash_file(path) == (record.get("sha256"), record.get("size"))


def _etcd(run: BackupRun, kube: Kube) -> Dict[str, Any]:
    """A snapshot of each etcd StatefulSet of the namespaces (``componentpack/etcd/<namespace>.<statefulset>.db``);
    none found is a note with ``etcd: auto``, a failure with ``etcd: on``."""
    cp = settings(run.env)
    namespaces = [kube.namespace, *cp["namespaces"]]
    found = etcd.find(kube, namespaces)
    if not found:
        if cp["etcd"] == "on":
            raise etcd.EtcdError(etcd.problems(kube, namespaces, "on")[0])
        return {"snapshots": [], "note": f"no etcd StatefulSet in namespace(s) {', '.join(dict.fromkeys(namespaces))}"}
    snapshots = []
    for members in found:
        rel = f"etcd/{members.namespace}.{members.statefulset}.db"
        dest = os.path.join(run.layout.root, FOLDER, rel)
        os.makedirs(os.path.dirname(dest), mode=0o700, exist_ok=True)
        record = etcd.save(kube, members, dest, os.path.basename(run.layout.root), timeout=cp["timeout"],
                           cancel=run.cancel, log=run.log, cipher=run.cipher)
        snapshots.append({"file": rel, "path": f"{FOLDER}/{rel}", **record})
    return {"snapshots": snapshots}


def resumed_lock(env: Environment, resume: Optional[str]) -> Optional[str]:
    """The MongoDB member the set to resume recorded as locked by its own run (the gate lets that lock pass)."""
    if not resume or not enabled(env) or not settings(env)["mongodb"]:
        return None
    try:
        set_dir = (find_resumable_set(env.section("target")["dir"], env.name) if resume == "latest"
                   else os.path.abspath(resume))
        journal = Journal.load(set_dir)
    except (CnxBackupError, OSError, ValueError):
        return None  # the resume itself says why it cannot go on
    return mongo.own_lock(journal.data.get(LOCK_RECORD), os.path.basename(set_dir))


def _remember_lock(run: BackupRun, member: Optional[str]) -> None:
    """Before ``fsyncLock``: the member, the time and this set's run id, fsynced; None once unlocked."""
    record = {"member": member, "time": now(), "runId": os.path.basename(run.layout.root)} if member else None
    run.journal.put(LOCK_RECORD, record)


def _release_own_lock(run: BackupRun, kube: Kube, found: mongo.MongoSet) -> None:
    """A resume after a crash: unlock the member this set's run locked (a lock of anyone else still refuses)."""
    member = mongo.own_lock(run.journal.data.get(LOCK_RECORD), os.path.basename(run.layout.root))
    if member is None:
        return
    if mongo.unlock_own(kube, found, member, run.log):
        run.progress.message(f"[component pack] MongoDB member {member}: unlocked, its lock was this set's "
                             f"(taken {run.journal.data[LOCK_RECORD]['time']} by the run that ended without unlocking)")
    _remember_lock(run, None)


def _mongodb(run: BackupRun, kube: Kube) -> Dict[str, Any]:
    found = mongo.detect(kube)
    _release_own_lock(run, kube, found)
    dest = os.path.join(run.layout.root, MONGO_ARCHIVE)
    os.makedirs(os.path.dirname(dest), mode=0o700, exist_ok=True)
    result = mongo.dump(kube, found, dest, timeout=settings(run.env)["timeout"], cancel=run.cancel, log=run.log,
                        cipher=run.cipher, remember=lambda member: _remember_lock(run, member))
    return {"statefulset": found.statefulset, "tls": dict(found.tls), "member": result.member, "locked": result.locked,
            "oplog": result.oplog, "how": result.reason, "path": MONGO_ARCHIVE, "sha256": result.sha256, "size": result.size,
            "version": result.version, "counts": result.counts,
            "documents": sum(n for colls in result.counts.values() for n in colls.values())}


def _inventory(run: BackupRun, kube: Kube) -> Dict[str, Any]:
    """The inventory, and the consumers (``quiesce``) with the replica counts they run with: RESTORE.md scales
    them to 0 and back to these counts (a consumer still scaled down by a crashed run is scaled back first)."""
    restore_scale(run, kube)
    result = inventory.take(kube, os.path.join(run.layout.root, FOLDER), cipher=run.cipher)
    result["consumers"] = {name: int((kube.json("kubectl", ["get", "deployment", name, "-o", "json"]).get("spec") or {})
                                     .get("replicas") or 0) for name in settings(run.env)["quiesce"]}
    return result


def _opensearch(run: BackupRun, kube: Kube) -> Dict[str, Any]:
    """The snapshot; its name is in the journal before its PUT, so that a resume finds an earlier attempt."""
    search = opensearch.detect(kube)
    name = "cnxbackup-" + os.path.basename(run.layout.root).lower()
    resumed = run.journal.data.get(SNAPSHOT_RECORD) == name
    if not resumed:
        run.journal.put(SNAPSHOT_RECORD, name)
    return opensearch.snapshot(kube, search, settings(run.env)["opensearch_repository"], name, resumed=resumed)


def _quiesced(run: BackupRun, kube: Kube, body: Callable[[], Dict[str, Any]]) -> Dict[str, Any]:
    """``body`` with the ``quiesce`` deployments scaled to 0; scaled back whatever happens."""
    restore_scale(run, kube)
    names = list(settings(run.env)["quiesce"])
    saved: Dict[str, int] = {}
    try:
        for name in names:
            replicas = int((kube.json("kubectl", ["get", "deployment", name, "-o", "json"]).get("spec") or {})
                           .get("replicas") or 0)
            saved[name] = replicas
            run.journal.data["cpQuiesced"] = dict(saved)
            run.journal.save()
            kube.run("kubectl", ["scale", f"deployment/{name}", "--replicas=0"]).check()
            _wait_scaled_down(kube, name)
            run.log.info("component pack: deployment %s scaled to 0 for the dump (was %d)", name, replicas)
        result = body()
        result["quiesced"] = sorted(saved)
        return result
    finally:
        restore_scale(run, kube)


def _wait_scaled_down(kube: Kube, name: str, timeout: float = 300) -> None:
    """Until the deployment has no pod left (HCL waits for the pods to be gone before touching data)."""
    deadline = time.monotonic() + timeout
    while True:
        status = kube.json("kubectl", ["get", "deployment", name, "-o", "json"]).get("status") or {}
        if not status.get("replicas"):
            return
        if time.monotonic() > deadline:
            raise KubeError(f"deployment {name} still has {status.get('replicas')} pod(s) {timeout:.0f} s after its "
                            "scale to 0")
        time.sleep(2)


def restore_scale(run: BackupRun, kube: Optional[Kube] = None) -> None:
    """Scale back what this set scaled down (also after a crash: the replicas are in the journal)."""
    allowed = set(settings(run.env)["quiesce"])
    saved = {str(k): max(0, int(v)) for k, v in (run.journal.data.get("cpQuiesced") or {}).items()
             if k in allowed and isinstance(v, int) and not isinstance(v, bool)}
    if not saved:
        return
    kube = kube or Kube(run.env, run.transport)
    left = dict(saved)
    for name, replicas in saved.items():
        try:
            kube.run("kubectl", ["scale", f"deployment/{name}", f"--replicas={int(replicas)}"]).check()
            run.log.info("component pack: deployment %s scaled back to %d", name, replicas)
            left.pop(name)
        except (KubeError, OSError) as error:
            run.warnings.append(f"component pack: deployment {name} could not be scaled back to {replicas}: {error}")
    run.journal.data["cpQuiesced"] = left
    run.journal.save()


def _summary(step: str, result: Dict[str, Any]) -> str:
    if step == "cp:inventory":
        return (f"{counted(len(result.get('releases') or []), 'Helm release')}, "
                f"{counted(int(result.get('secrets') or 0), 'secret')}")
    if step == "cp:etcd":
        return "; ".join(f"{s['namespace']}/{s['statefulset']} from {s['pod']}, {s['size']:,} bytes"
                         for s in result.get("snapshots") or []) or str(result.get("note"))
    if step == "cp:mongodb":
        return (f"{counted(result['documents'], 'document')} in "
                f"{counted(sum(len(c) for c in result['counts'].values()), 'collection')} "
                f"from {result['member']} ({result['how']}), {result['size']:,} bytes")
    return (f"snapshot {result.get('snapshot')} of {counted(len(result.get('indices') or []), 'index', 'indices')}, "
            f"{result.get('state')}")


def stop() -> None:
    """Ctrl-C: end a running dump (its member is unlocked by the dump's own ``finally``)."""
    mongo.stop_dumps()
