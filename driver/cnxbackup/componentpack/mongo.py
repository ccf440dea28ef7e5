"""MongoDB of the Component Pack: a gzip archive dump from a fsync-locked secondary, streamed out.

HCL's procedure (component-pack.md §2.3) locks the member it dumps with ``db.fsyncLock()``,
dumps it, then ``db.fsyncUnlock()``. Here the dump is ``mongodump --archive --gzip`` on the
member's own pod, written to stdout and streamed through ``kubectl exec -i`` into the set (hashed
as it lands), connected with ``directConnection=true`` and ``readPreference=secondary`` so that
the member dumped is the member locked. The unlock runs in ``finally``, as many times as this run
locked, and the member's lock is then checked to be gone. With no healthy secondary, the primary
is dumped with ``--oplog`` and no lock (a lock on the primary would stop every write).

The x509 paths are read from the pod (``MONGO_net_tls_*``, as the image's probe does, §2.1);
the user name and ``$external`` go as separate argv words, never through a shell on the pod.
"""
from __future__ import annotations

import json
import re
import subprocess
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..archive import Cipher, CopyResult, receive
from ..errors import CnxBackupError
from .kube import ExecStream, Kube, KubeError, kill_session, pod_ready, tail

STATEFULSETS = ("mongo7", "mongo5")
"""MongoDB 7 (8.0 CR9 and later), MongoDB 5 (8.0 until CR8); ``mongo`` is MongoDB 3 (Component Pack 7)."""
ADMIN_DN = "C=IE,ST=Ireland,L=Dublin,O=IBM,OU=Connections-Middleware-Clients,CN=admin,emailAddress=admin@mongodb"
ADMIN = "db.getSiblingDB('admin')."
_DONE = re.compile(r"\tdone dumping (\S+?)\.(\S+) \((\d+) documents?\)")
_FAILED = re.compile(r"\tFailed: (.*)")

_LIVE: List[subprocess.Popen] = []
_LIVE_LOCK = threading.Lock()


class MongoError(CnxBackupError):
    """The MongoDB part cannot be backed up (the message says why)."""


@dataclass
class MongoSet:
    statefulset: str
    namespace: str
    pods: List[str]
    tls: Dict[str, str] = field(default_factory=dict)  # certificateKeyFile, CAFile; empty: no TLS

    @property
    def container(self) -> str:
        return self.statefulset

    def fqdn(self, pod: str) -> str:
        return f"{pod}.{self.statefulset}.{self.namespace}.svc.cluster.local"


@dataclass
class DumpResult:
    member: str
    locked: bool
    oplog: bool
    reason: str
    sha256: str
    size: int
    counts: Dict[str, Dict[str, int]]
    version: str


def detect(kube: Kube) -> MongoSet:
    """The MongoDB StatefulSet of the namespace (MongoDB 7 or 5), its pods, its x509 paths."""
    names = {i.get("metadata", {}).get("name") for i in kube.items("statefulsets")}
    found = next((name for name in STATEFULSETS if name in names), None)
    if found is None:
        if "mongo" in names:
            raise MongoError("the MongoDB StatefulSet is 'mongo' (MongoDB 3, Component Pack 7): cnxbackup dumps "
                             "MongoDB 5 and 7 only; back it up with HCL's MongoDB 3 steps, or set "
                             "component_pack.mongodb: false")
        raise MongoError(f"no MongoDB StatefulSet ({', '.join(STATEFULSETS)}) in namespace {kube.namespace}; set "
                         "component_pack.mongodb: false if the Component Pack has none")
    pods = sorted(p["metadata"]["name"] for p in kube.items("pods")
                  if re.fullmatch(rf"{found}-\d+", str(p.get("metadata", {}).get("name"))))
    if not pods:
        raise MongoError(f"StatefulSet {found} has no pods")
    mongo = MongoSet(found, kube.namespace, pods)
    env = kube.exec(pods[0], found, ["printenv", "MONGO_net_tls_mode", "MONGO_net_tls_certificateKeyFile",
                                     "MONGO_net_tls_CAFile"])
    values = env.text.split("\n")
    if env.rc == 0 and len(values) >= 3 and values[1] and values[2]:
        mongo.tls = {"key": values[1].strip(), "ca": values[2].strip()}
    return mongo


def _auth(mongo: MongoSet, shell: bool) -> List[str]:
    tls: List[str] = []
    if mongo.tls:
        tls = (["--tls", "--tlsCertificateKeyFile", mongo.tls["key"], "--tlsCAFile", mongo.tls["ca"]] if shell else
               ["--ssl", "--sslPEMKeyFile", mongo.tls["key"], "--sslCAFile", mongo.tls["ca"]])
    return tls + ["--authenticationDatabase", "$external", "--authenticationMechanism", "MONGODB-X509", "-u", ADMIN_DN]


def tool_auth(mongo: MongoSet) -> List[str]:
    """The x509 options of mongodump and mongorestore."""
    return _auth(mongo, False)


def shell_auth(mongo: MongoSet) -> List[str]:
    """The x509 options of mongosh."""
    return _auth(mongo, True)


def shell(kube: Kube, mongo: MongoSet, pod: str, expression: str) -> Any:
    """``mongosh --eval EJSON.stringify(EXPR)`` against ``pod`` itself; the parsed result."""
    argv = ["mongosh", "--quiet", *_auth(mongo, True), "--host", mongo.fqdn(pod), "--eval",
            f"EJSON.stringify({expression})"]
    result = kube.exec(pod, mongo.container, argv)
    if result.rc != 0:
        raise MongoError(f"mongosh on {pod} ({expression}) failed: {tail(result.stderr)}")
    lines = [line for line in result.text.splitlines() if line.strip()]
    try:
        return json.loads(lines[-1]) if lines else None
    except ValueError:
        raise MongoError(f"mongosh on {pod}: not JSON: {result.text.strip()[-200:]!r}") from None


def members(kube: Kube, mongo: MongoSet) -> List[Dict[str, Any]]:
    """``rs.status()`` members: pod, state, health."""
    status = shell(kube, mongo, mongo.pods[0], "rs.status()")
    out = []
    for member in (status or {}).get("members") or []:
        name = str(member.get("name", "")).split(".", 1)[0]
        out.append({"pod": name, "state": member.get("stateStr"), "health": member.get("health")})
    return out


def own_lock(record: Any, run_id: str) -> Optional[str]:
    """The member this set's run recorded (in its journal, before ``fsyncLock``) as locked by itself, or
    None: no record, one of another run, or one that is not whole. Only that member's lock is ours to undo."""
    if not isinstance(record, dict) or record.get("runId") != run_id or not run_id:
        return None
    member, when = record.get("member"), record.get("time")
    if not isinstance(member, str) or not member or not isinstance(when, str) or not when:
        return None
    return member


def problems(kube: Kube, mongo: MongoSet, ours: Optional[str] = None) -> List[str]:
    """What stops a dump: an unhealthy member, a member left fsync-locked by an earlier run (except
    ``ours``, the member this set's own earlier run locked: its resume unlocks it)."""
    found = []
    for member in members(kube, mongo):
        if member["health"] != 1:
            found.append(f"MongoDB member {member['pod']} is not healthy (rs.status health {member['health']})")
    for pod in mongo.pods:
        if pod != ours and shell(kube, mongo, pod, f"{ADMIN}currentOp().fsyncLock === true") is True:
            found.append(f"MongoDB member {pod} is fsync-locked (a run that did not unlock it?); unlock it with "
                         f"db.getSiblingDB('admin').fsyncUnlock() on {pod} once its dump is known to be over")
    return found


def unready(kube: Kube, mongo: MongoSet) -> List[str]:
    """The replica set's pods that are not ready (a pod not listed counts as not ready)."""
    ready = {str(p.get("metadata", {}).get("name")): pod_ready(p) for p in kube.items("pods")}
    return [pod for pod in mongo.pods if not ready.get(pod)]


def primary(kube: Kube, mongo: MongoSet) -> str:
    """The member ``rs.status()`` names PRIMARY (the first pod when none does)."""
    return next((m["pod"] for m in members(kube, mongo) if m["state"] == "PRIMARY"), mongo.pods[0])


def _secondary(status: List[Dict[str, Any]]) -> Optional[str]:
    healthy = [m["pod"] for m in status if m["state"] == "SECONDARY" and m["health"] == 1]
    return healthy[-1] if healthy else None


def dump(kube: Kube, mongo: MongoSet, dest: str, *, timeout: float, cancel: threading.Event,
         log: Any, cipher: Optional[Cipher] = None,
         remember: Callable[[Optional[str]], None] = lambda _member: None) -> DumpResult:
    """Dump into ``dest`` (published only when mongodump succeeded); unlock always. ``remember(member)``
    runs before the lock (so that a run killed right after it is known to hold it), ``remember(None)``
    once the member is known to be unlocked."""
    waiting = unready(kube, mongo)
    if waiting:
        raise MongoError(f"MongoDB pod(s) {', '.join(waiting)} not ready: no dump from a replica set in that state")
    status = members(kube, mongo)
    member = _secondary(status)
    oplog, reason = False, "a healthy secondary, fsync-locked for the dump (as HCL does)"
    if member is None:
        primary = next((m["pod"] for m in status if m["state"] == "PRIMARY"), mongo.pods[0])
        member, oplog = primary, True
        reason = "no healthy secondary: the primary with --oplog and no lock (a lock on it would stop every write)"
    version = str(shell(kube, mongo, member, "db.version()"))
    locks = 0
    try:
        if not oplog:
            remember(member)
            answer = shell(kube, mongo, member, f"{ADMIN}fsyncLock()")
            if not isinstance(answer, dict) or answer.get("ok") != 1:
                raise MongoError(f"db.fsyncLock() on {member} did not succeed: {answer!r}")
            locks += 1
            log.info("mongodb: %s fsync-locked (lockCount %s)", member, answer.get("lockCount"))
        uri = f"mongodb://{mongo.fqdn(member)}:27017/?directConnection=true&readPreference=secondary"
        if oplog:
            uri = f"mongodb://{mongo.fqdn(member)}:27017/?directConnection=true"
        argv = ["mongodump", *_auth(mongo, False), f"--uri={uri}", "--archive", "--gzip"] + (["--oplog"] if oplog else [])
        copied, counts = _stream(kube, mongo, member, argv, dest, timeout, cancel, cipher)
    finally:
        _unlock(kube, mongo, member, locks, log)
        if locks:  # a lock call that failed keeps the record: the member may be locked all the same
            remember(None)
    return DumpResult(member, bool(locks), oplog, reason, copied.sha256, copied.size, counts, version)


def _stream(kube: Kube, mongo: MongoSet, member: str, argv: List[str], dest: str, timeout: float,
            cancel: threading.Event, cipher: Optional[Cipher] = None) -> Tuple[CopyResult, Dict[str, Dict[str, int]]]:
    stream = ExecStream(kube, member, mongo.container, argv, timeout)
    with _LIVE_LOCK:
        _LIVE.append(stream.proc)

    def finished(_result: CopyResult, _fd: int) -> None:
        rc = stream.wait()
        text = stream.errors.decode("utf-8", "replace")
        failure = _FAILED.search(text)
        if rc != 0 or failure:
            raise MongoError(f"mongodump on {member} failed (exit {rc}): "
                             f"{failure.group(1) if failure else tail(stream.errors)}")

    try:
        copied = receive(stream.stdout, dest, before_publish=finished, cancel=cancel, cipher=cipher)
    finally:
        stream.close()
        with _LIVE_LOCK:
            _LIVE.remove(stream.proc)
    counts: Dict[str, Dict[str, int]] = {}
    for db, coll, number in _DONE.findall(stream.errors.decode("utf-8", "replace")):
        counts.setdefault(db, {})[coll] = int(number)
    return copied, counts


def _unlock(kube: Kube, mongo: MongoSet, member: str, locks: int, log: Any) -> None:
    """``fsyncUnlock`` once per lock taken, then the member must not be locked any more."""
    failures = []
    for _ in range(locks):
        try:
            answer = shell(kube, mongo, member, f"{ADMIN}fsyncUnlock()")
            log.info("mongodb: %s fsyncUnlock (lockCount %s)", member, (answer or {}).get("lockCount"))
        except (MongoError, KubeError, OSError) as error:
            failures.append(str(error))
    if locks:
        try:
            still = shell(kube, mongo, member, f"{ADMIN}currentOp().fsyncLock === true")
        except (MongoError, KubeError, OSError) as error:
            still, failures = None, failures + [str(error)]
        if still is not False or failures:
            raise MongoError(f"MongoDB member {member} may still be fsync-locked: {'; '.join(failures) or 'locked'}; "
                             f"unlock it by hand with db.getSiblingDB('admin').fsyncUnlock() on {member}")


def unlock_own(kube: Kube, mongo: MongoSet, member: str, log: Any) -> bool:
    """A resume: undo the lock this set's killed run left on ``member`` (one ``fsyncUnlock``, then it must be
    unlocked); False when the member was not locked. MongoError, naming the unlock command, when it stays locked."""
    if member not in mongo.pods:
        return False
    if shell(kube, mongo, member, f"{ADMIN}currentOp().fsyncLock === true") is not True:
        return False
    _unlock(kube, mongo, member, 1, log)
    return True


def stop_dumps() -> None:
    """Ctrl-C: end the running dumps (each one's ``finally`` unlocks its member)."""
    with _LIVE_LOCK:
        running = list(_LIVE)
    for proc in running:
        if proc.poll() is None:
            kill_session(proc)


RESTORED = re.compile(r"(\d+) document\(s\) restored successfully\. (\d+) document\(s\) failed to restore")


def dry_run(kube: Kube, mongo: MongoSet, archive: bytes) -> Tuple[int, str]:
    """``mongorestore --archive --gzip --dryRun`` of a dump, fed through ``kubectl exec -i`` to the
    primary: (failed documents, its last line). mongorestore can exit 0 and still report failed
    documents (component-pack.md §2.5), so its last line is what is judged."""
    target = primary(kube, mongo)
    argv = ["mongorestore", *_auth(mongo, False),
            f"--uri=mongodb://{mongo.fqdn(target)}:27017/?directConnection=true", "--archive", "--gzip", "--dryRun"]
    proc = subprocess.run(kube.exec_argv(target, mongo.container, argv, stdin=True), input=archive,
                          capture_output=True, timeout=kube.settings["timeout"])
    text = proc.stderr.decode("utf-8", "replace")
    found = RESTORED.findall(text)
    if proc.returncode != 0 or not found:
        raise MongoError(f"mongorestore --dryRun on {target} failed (exit {proc.returncode}): {tail(proc.stderr)}")
    restored, failed = found[-1]
    return int(failed), f"{restored} restored, {failed} failed"
