"""Restoring the Component Pack part of a set (``restore SET --only component-pack``).

On a rebuilt cluster the administrator reinstalls the charts; the tool prints the commands, in
HCL's order, with the saved secrets applied **before** ``bootstrap`` (bootstrap creates secrets and
certificates only for components not yet deployed, component-pack.md §1.5: applied first, the
restored data and WebSphere keep trusting the same certificates). Once the charts run, the tool
puts the data back: the consumers (``component_pack.quiesce``) scaled to 0 and always scaled back,
the PV folders through the same staged, checked path as every item (numeric owners), the MongoDB
dump into the primary without users, roles or replica-set configuration (``admin``, ``config``,
``local`` excluded), failing on a non-zero exit **or** a non-zero "failed to restore" count, the
document counts compared with the manifest; and the OpenSearch snapshot over the restored
repository folder, closing only the Connections indices that exist (never ``_all``, never the
security index), without the global state, each index then green or yellow.

RESTORE.md writes the same steps out as commands (``steps``): the consumers and the replica counts the
backup recorded, the primary found by ``rs.status()``, mongorestore with the tool's own x509 options
fed the set's dump, each OpenSearch request through ``sendRequest.sh`` in the client pod as the tool
sends it, the indices to close found by ``_cat/indices``.

Versions are checked before anything changes: MongoDB's featureCompatibilityVersion must be the
dump's major.minor (a dump restores only into the same major or FCV, §6), and OpenSearch must not
be older than the snapshot.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ...archive import ArchiveError, Cipher, copy_back_file, hash_file
from ...componentpack import Kube, KubeError, enabled, mongo, opensearch
from ...componentpack.opensearch import SEARCH_NAME
from ...config import Environment
from ...errors import CnxBackupError, StepFailed
from ...journal import Journal
from ...manifest import Manifest
from ...mongo_shell import COUNTS_JS, FCV_JS, PRIMARY_JS
from ...progress import counted
from ...setbox import OutsideTheSet, path_in_set
from ...shown import shell_word
from ...transport import Transport

Spec = Tuple[str, str, List[str], Optional[str]]
"""A restore step of this part as data (kind = step id, title, commands, note): ``restore_plan``
makes its ``RestoreStep`` of it."""

FOLDER = "componentpack"
HELM_ORDER = ("k8s-psp", "connections-volumes", "bootstrap", "connections-env", "cnx-ingress", "infrastructure",
              "mw-proxy", "opensearch-master", "opensearch-data", "opensearch-client", "orientme", "kudos-boards-cp",
              "huddo-boards-cp")
"""HCL's install order (component-pack.md §1.1, §7 restore step 3); other releases follow, by name."""
EXCLUDED_NAMESPACES = ("admin.*", "config.*", "local.*")
"""What a snapshot or index name of the set may be before it goes into a request path."""
KINDS = ("cp-manual", "cp-helm-history", "cp-scale-down", "cp-mongodb", "cp-opensearch", "cp-etcd", "cp-scale-up")
PRINTED = ("cp-manual", "cp-helm-history", "cp-etcd")
"""Steps RESTORE.md and the tool print for the administrator: the tool does not run Helm nor restore etcd."""
KUBE_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
"""What a release, namespace, StatefulSet or pod name of the set may be before it goes into a runbook line."""
CROSS_PART = {"HOMEPAGE": "Orient Me's MongoDB data (profiledb, relationshipdb) and the OpenSearch "
                          "orient-me-collection and quickresults indices",
              "PEOPLEDB": "the Profiles data the Component Pack keeps in MongoDB (profiledb, people-* services) "
                          "and the type-ahead index quickresults",
              "SNCOMM": "the community templates (commtpldb) and Boards data (boards-*) in MongoDB"}


def selected(manifest: Manifest) -> bool:
    return bool(manifest.component_pack)


def folder_items(manifest: Manifest) -> List[str]:
    return [str(name) for name in (manifest.component_pack or {}).get("folders") or []]


def _chart(chart: str) -> Tuple[str, str]:
    match = re.match(r"^(.*?)-(\d[\w.+-]*)$", chart)
    return (match.group(1), match.group(2)) if match else (chart, "")


def _helm_order(releases: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    rank = {name: index for index, name in enumerate(HELM_ORDER)}
    return sorted(releases, key=lambda r: (rank.get(str(r.get("name")), len(rank)), str(r.get("name"))))


def manual_commands(manifest: Manifest, set_dir: str) -> List[str]:
    """The charts, by hand: the namespace, the saved secrets, then each release with its values."""
    cp = manifest.component_pack or {}
    namespace = str(cp.get("namespace") or "connections")
    folder = f"{set_dir}/{FOLDER}"
    ns = shlex.quote(namespace)
    secrets = shlex.quote(folder + "/secrets.json")
    # an encrypted set's files are decrypted on the way, never written out in clear (bash: <(...))
    apply = f"gpg --decrypt {secrets} | kubectl apply -n {ns} -f -" if manifest.encryption else f"kubectl apply -n {ns} -f {secrets}"
    commands = [f"kubectl get namespace {ns} || kubectl create namespace {ns}",
                f"{apply}   # before bootstrap: its certificates stay the ones the data and WebSphere trust"]
    for release in _helm_order((cp.get("inventory") or {}).get("releases") or []):
        name = str(release.get("name"))
        chart, version = _chart(str(release.get("chart") or name))
        values = shlex.quote(f"{folder}/helm-values/{name}.yaml")
        values = f"<(gpg --decrypt {values})" if manifest.encryption else values
        commands.append(f"helm upgrade {shlex.quote(name)} oci://hclcr.io/cnx/{shlex.quote(chart)} -i"
                        + (f" --version {shlex.quote(version)}" if version else "") + f" -n {ns} -f {values}")
    return commands


def steps(manifest: Manifest, set_dir: str) -> Tuple[List[Spec], List[Spec]]:
    """(before the PV swaps, after them). Each command is what the tool itself runs at that step, written
    out for this set: every value of the set shell-quoted, the cluster's own names found by a command."""
    cp = manifest.component_pack or {}
    consumers = _consumers(cp)
    before: List[Spec] = [
        ("cp-manual", "Component Pack: on a rebuilt cluster, the charts by hand, in this order (the tool does not "
                      "run Helm); then restore the data", manual_commands(manifest, set_dir),
         "the saved secrets go in before bootstrap, which would otherwise make new certificates"),
        ("cp-helm-history", "Component Pack: a release uninstalled since the backup: its Helm history back, rolled back "
                            "to the revision it ran at backup", _history_commands(manifest, set_dir),
         "HCL's upgrade steps helm uninstall mw-proxy, connections-outlook-desktop, cnx-ingress and elasticsearch7 before "
         "reinstalling them, which drops their history (and helm upgrade keeps 10 revisions). A release whose deployed "
         "revision's record is the one saved, or that this block already rolled back, is left alone; on a rebuilt cluster, "
         "after the charts above, every release is put back at its backup revision. The saved records go in with kubectl "
         "create, not apply (apply's last-applied annotation is limited to 256 KiB, a record may be near 1 MiB)"),
        ("cp-scale-down", "Component Pack: scale the consumers to 0 (quiesce)", _scale_commands(cp, consumers, False),
         None)]
    after: List[Spec] = []
    dump = cp.get("mongodb") or {}
    if dump.get("status") in ("done", "warning"):
        after.append(("cp-mongodb", f"Component Pack: restore MongoDB into the primary ({dump.get('documents', 0):,} "
                                    "documents)", _mongo_commands(cp, set_dir),
                      "mongorestore can exit 0 and still fail documents: its last line must say "
                      "\"0 document(s) failed to restore\""))
    snap = cp.get("opensearch") or {}
    if snap.get("status") in ("done", "warning"):
        after.append(("cp-opensearch", f"Component Pack: restore the OpenSearch snapshot {snap.get('snapshot')}",
                      _search_commands(cp), None))
    after.append(("cp-etcd", "Component Pack: the API gateway's etcd, by hand (a 3-member etcd is restored with "
                             "etcdutl per member, its StatefulSet at 0)", _etcd_commands(manifest, set_dir),
                  "every member restores the same snapshot into a new data folder (the old one moved aside) with its own "
                  "name and peer URL, with a revision bump (APISIX watches etcd); the chart's startFromSnapshot values are "
                  "the supported alternative. Only when the gateway's routes or settings were changed outside its charts: "
                  "the hcl-api-gateway release writes its own again"))
    after.append(("cp-scale-up", "Component Pack: scale the consumers back", _scale_commands(cp, consumers, True),
                  None))
    return before, after


def _history_commands(manifest: Manifest, set_dir: str) -> List[str]:
    """Per release with saved records: left alone when the cluster holds the deployed revision's record as saved (or
    a rollback to it by this block); else the reinstalled release uninstalled, the records created, the rollback."""
    records = ((manifest.component_pack or {}).get("inventory") or {}).get("helmRecords")
    if not records:
        return ["# this set holds no Helm release records (taken before cnxbackup kept them): a release uninstalled "
                "since comes back by its chart (the step before), without its history"]
    lines: List[str] = []
    for rec in records:
        name, ns, deployed = str(rec.get("release")), str(rec.get("namespace")), rec.get("deployed")
        revisions = [n for n in rec.get("revisions") or [] if isinstance(n, int) and not isinstance(n, bool)]
        if not KUBE_NAME.fullmatch(name) or not KUBE_NAME.fullmatch(ns) or deployed not in revisions \
                or not re.fullmatch(r"[0-9a-f]{64}", str(rec.get("deployedSha256"))):
            lines.append(f"# {shell_word(name)} ({shell_word(ns)}): no deployed revision recorded as the tool records it: "
                         "not put back")
            continue
        lines += [f"# {name} (namespace {ns}): revisions {', '.join(map(str, revisions))} saved, {deployed} deployed at backup"]
        lines += _history_lines(name, ns, int(deployed), revisions, str(rec["deployedSha256"]),
                                f"{set_dir}/{FOLDER}/{rec.get('file')}", bool(manifest.encryption))
    return lines


def _history_lines(name: str, ns: str, deployed: int, revisions: List[int], digest: str, saved: str,
                   encrypted: bool) -> List[str]:
    at = ["-n", ns]
    record = f"sh.helm.release.v1.{name}.v{deployed}"
    held = _join(["kubectl", "get", "secret", *at, record, "-o", "jsonpath={.data.release}"])
    rolled = _join(["helm", "history", name, *at, "--max", "1", "-o", "json"])
    marker = shell_word(f'"description":"Rollback to {deployed}"')
    every = _join(["kubectl", "get", "secret", *at, *[f"sh.helm.release.v1.{name}.v{n}" for n in revisions], "-o", "name"])
    create = (f"gpg --decrypt {shell_word(saved)} | " + _join(["kubectl", "create", *at, "-f", "-"]) if encrypted
              else _join(["kubectl", "create", *at, "-f", saved]))
    return [f'if [ "$({held} 2>/dev/null | sha256sum | cut -c1-64)" = {digest} ] || '
            f"{{ {rolled} 2>/dev/null | grep -F {marker} >/dev/null && {every} >/dev/null 2>&1; }}; "
            f"then echo {shell_word(name + ': the cluster holds its history of the backup')}; else",
            f"  if {_join(['helm', 'status', name, *at])} >/dev/null 2>&1; then "
            f"{_join(['helm', 'uninstall', name, *at, '--wait'])}; fi   # a reinstalled one: its records "
            f"(sh.helm.release.v1.{name}.v1 ...) collide with the saved ones",
            f"  {create}   # create, not apply",
            f"  {_join(['helm', 'rollback', name, str(deployed), *at, '--wait'])}   # a new revision: Rollback to {deployed}",
            "fi"]


def _etcd_commands(manifest: Manifest, set_dir: str) -> List[str]:
    """The manual restore of each etcd snapshot of the set (coverage-component-pack.md §5.4)."""
    snapshots = ((manifest.component_pack or {}).get("etcd") or {}).get("snapshots") or []
    if not snapshots:
        return ["# this set holds no etcd snapshot (no API gateway etcd was found, component_pack.etcd was off, or the "
                "set was taken before cnxbackup took one): nothing to restore"]
    lines: List[str] = []
    for snap in snapshots:
        ns, sts = str(snap.get("namespace")), str(snap.get("statefulset"))
        members = [str(m) for m in snap.get("members") or []]
        container = str(snap.get("container") or "etcd")
        if not members or not all(KUBE_NAME.fullmatch(n) for n in [ns, sts, container, *members]):
            lines.append(f"# {shell_word(ns)}/{shell_word(sts)}: names that are not Kubernetes names: not written out")
            continue
        lines += _etcd_lines(snap, ns, sts, container, members, f"{set_dir}/{snap.get('path')}", bool(manifest.encryption))
    return lines


def _etcd_lines(snap: Dict[str, Any], ns: str, sts: str, container: str, members: List[str], path: str,
                encrypted: bool) -> List[str]:
    source = "/root/cnxrestore-etcd.db" if encrypted else path

    def env_of(var: str) -> str:
        return f"{var}=$({_join(['kubectl', 'exec', '-n', ns, members[0], '-c', container, '--', 'printenv', f'ETCD_INITIAL_{var}'])})"

    lines = [f"# {ns}/{sts}: {counted(len(members), 'member')} ({', '.join(members)}); the snapshot was taken from "
             f"{shell_word(snap.get('pod'))} (etcd {shell_word(snap.get('version') or 'version not recorded')})",
             f"echo {shell_word(str(snap.get('sha256')) + '  ' + path)} | sha256sum -c -   # the snapshot as the manifest "
             "records it",
             "# on the kubectl host, while the members run: their peer URLs and token; then the StatefulSet to 0",
             env_of("CLUSTER"), env_of("CLUSTER_TOKEN").replace("CLUSTER_TOKEN=", "TOKEN=", 1),
             _join(["kubectl", "scale", f"statefulset/{sts}", "--replicas=0", "-n", ns]),
             _join(["kubectl", "wait", "--for=delete", *[f"pod/{m}" for m in members], "-n", ns, "--timeout=600s"]),
             "# on the NFS master (etcdutl of the pods' etcd version), CLUSTER and TOKEN as above; DIR: the member's PV "
             "folder (its claim data-MEMBER; HCL names it NAMESPACE-apisix-etcd-N under /pv-connections)"]
    if encrypted:
        lines.append(f"(umask 077; gpg --decrypt {shell_word(path)} > {source})   # etcdutl reads a file, not a pipe")
    for member in members:
        claim = _join(["kubectl", "get", "pvc", "-n", ns, f"data-{member}", "-o", "jsonpath={.spec.volumeName}"])
        volume = Raw('"$(' + claim + ')"')
        lines += [f"DIR=$({_join(['kubectl', 'get', 'pv', volume, '-o', 'jsonpath={.spec.nfs.path}'])})",
                  f"PEER=$(printf '%s\\n' \"$CLUSTER\" | tr , '\\n' | sed -n {shell_word('s/^' + member + '=//p')})",
                  'mv "$DIR/data" "$DIR/data.cnxrestore-$(date +%Y%m%dT%H%M%S)"   # moved aside, not deleted',
                  _join(["etcdutl", "snapshot", "restore", source, "--name", member, "--data-dir", Raw('"$DIR/data"'),
                         "--initial-cluster", Raw('"$CLUSTER"'), "--initial-cluster-token", Raw('"$TOKEN"'),
                         "--initial-advertise-peer-urls", Raw('"$PEER"'), "--bump-revision", "1000000000", "--mark-compacted"]),
                  'chown -R 1001:1001 "$DIR/data"   # the etcd image runs as UID 1001']
    if encrypted:
        lines.append(f"rm -f {source}")
    replicas = snap.get("replicas")
    count = replicas if isinstance(replicas, int) and not isinstance(replicas, bool) and replicas > 0 else len(members)
    return lines + ["# on the kubectl host: the members back",
                    _join(["kubectl", "scale", f"statefulset/{sts}", f"--replicas={count}", "-n", ns]),
                    _join(["kubectl", "rollout", "status", f"statefulset/{sts}", "-n", ns, "--timeout=600s"])]


class Raw(str):
    """A shell fragment put into a runbook line as it is (a variable the line before set)."""


def _join(words: Sequence[str]) -> str:
    """One shell line of ``words``: each quoted (``shown.shell_word``), but a ``Raw`` fragment."""
    return " ".join(w if isinstance(w, Raw) else shell_word(w) for w in words)


def _set_file(set_dir: str, rel: str, encrypted: bool) -> str:
    """A file of the set as a command reads it (an encrypted one decrypted on the way, never written out)."""
    path = shell_word(f"{set_dir}/{rel}")
    return f"<(gpg --decrypt {path})" if encrypted else path


def _consumers(cp: Dict[str, Any]) -> Dict[str, Optional[int]]:
    """The consumers the backup quiesced and the replica counts they ran with (None: a set that records no count)."""
    recorded = (cp.get("inventory") or {}).get("consumers")
    if isinstance(recorded, dict):
        return {str(name): n if isinstance(n, int) and not isinstance(n, bool) and n >= 0 else None
                for name, n in recorded.items()}
    return {str(name): None for name in (cp.get("mongodb") or {}).get("quiesced") or []}


def _scale_commands(cp: Dict[str, Any], consumers: Dict[str, Optional[int]], back: bool) -> List[str]:
    ns = str(cp.get("namespace") or "connections")
    if not consumers:
        return ["# this set records no consumer to quiesce (component_pack.quiesce was empty): nothing to scale"]
    lines = []
    for name, replicas in consumers.items():
        if back and replicas is None:
            lines.append(f"# {shell_word(name)}: this set does not record its replica count; scale it back to what it "
                         f"ran: kubectl scale {shell_word('deployment/' + name)} --replicas=COUNT -n {shell_word(ns)}")
            continue
        count = replicas if back else 0
        lines.append(_join(["kubectl", "scale", f"deployment/{name}", f"--replicas={count}", "-n", ns])
                     + ("   # as it ran at backup" if back else ""))
    return lines


def _restore_options() -> List[str]:
    """mongorestore's options after the connection: the whole archive, each collection dropped first, never
    users, roles or the replica-set configuration."""
    options = ["--archive", "--gzip", "--drop"]
    for namespace in EXCLUDED_NAMESPACES:
        options += ["--nsExclude", namespace]
    return options


def _mongo_commands(cp: Dict[str, Any], set_dir: str) -> List[str]:
    """The primary found by ``rs.status()`` on the first member, the dump fed to mongorestore there with the
    tool's own x509 options, then every collection's count."""
    dump = cp.get("mongodb") or {}
    ns, sts = str(cp.get("namespace") or "connections"), str(dump.get("statefulset") or mongo.STATEFULSETS[0])
    lines: List[str] = []
    tls = dump.get("tls")
    if not isinstance(tls, dict):  # a set taken before the x509 paths were recorded: read from the pod, as the tool does
        tls = {"key": Raw('"$KEY"'), "ca": Raw('"$CA"')}
        for var, name in (("KEY", "MONGO_net_tls_certificateKeyFile"), ("CA", "MONGO_net_tls_CAFile")):
            lines.append(f"{var}=$({_join(['kubectl', 'exec', '-n', ns, f'{sts}-0', '-c', sts, '--', 'printenv', name])})")
    members = mongo.MongoSet(sts, ns, [f"{sts}-0"], tls={k: v for k, v in tls.items() if k in ("key", "ca")})
    seed, domain = members.pods[0], shell_word(f".{sts}.{ns}.svc.cluster.local")
    primary = Raw('"$PRIMARY"')

    def mongosh(pod: str, host: str, expression: str) -> str:
        return _join(["kubectl", "exec", "-n", ns, pod, "-c", sts, "--", "mongosh", "--quiet", *mongo.shell_auth(members),
                      "--host", Raw(host), "--eval", expression])

    lines += [f"PRIMARY=$({mongosh(seed, shell_word(members.fqdn(seed)), PRIMARY_JS)})",
              f"[[ $PRIMARY =~ ^{shell_word(sts)}-[0-9]+$ ]] || {{ echo \"rs.status() names no primary: $PRIMARY\" >&2; "
              "false; }",
              _join(["kubectl", "exec", "-i", "-n", ns, primary, "-c", sts, "--", "mongorestore", *mongo.tool_auth(members),
                     Raw(f'--uri=mongodb://"$PRIMARY"{shell_word(f".{sts}.{ns}.svc.cluster.local:27017/?directConnection=true")}'),
                     *_restore_options()])
              + f" < {_set_file(set_dir, str(dump.get('path')), bool(dump.get('encrypted')))}"]
    total = sum(n for db, colls in (dump.get("counts") or {}).items() if db not in ("admin", "config", "local")
                for n in colls.values() if isinstance(n, int))
    lines.append(mongosh(primary, f'"$PRIMARY"{domain}', f"EJSON.stringify({COUNTS_JS})")
                 + f"   # every collection's count as componentPack.mongodb.counts in manifest.json ({counted(total, 'document')} "
                 "outside admin, config and local)")
    return lines


def _search_commands(cp: Dict[str, Any]) -> List[str]:
    """The requests the tool sends, through ``sendRequest.sh`` in the client pod the backup used: the repository
    over the restored PV folder, the close of the set's indices that exist (found by ``_cat/indices``), the
    restore without the global state, then each index green or yellow."""
    snap = cp.get("opensearch") or {}
    ns = str(cp.get("namespace") or "connections")
    repository, name = str(snap.get("repository")), str(snap.get("snapshot"))
    wanted = [str(i) for i in snap.get("indices") or [] if not str(i).startswith(".")]
    odd = [n for n in [repository, name, *wanted] if not SEARCH_NAME.fullmatch(n)]
    if odd:
        return [f"# the set names the repository, snapshot or index {shell_word(odd[0])}, not an OpenSearch name: "
                "it is not put into a request (cnxbackup restore refuses it too)"]
    folder = str(snap.get("folder") or "")
    default = next((f"{prefix}-0" for prefix, _, backup in opensearch.FLAVOURS if backup == folder),
                   f"{opensearch.FLAVOURS[0][0]}-0")
    pod = str(snap.get("pod") or default)
    script = opensearch.script_of(pod, folder)

    def send(method: str, path: str, body: Optional[Dict[str, Any]] = None) -> str:
        *bash, inner = opensearch.command(script, method, path, body)
        # in double quotes as HCL writes it when nothing inside would expand there (a body's JSON would not)
        word = Raw(f'"{inner}"') if not set(inner) & set('"$`\\!') else inner
        return _join(["kubectl", "exec", "-n", ns, pod, "--", *bash, word])

    among = " ".join(f"-e {shell_word(i)}" for i in wanted)
    return [
        send("PUT", f"/_snapshot/{repository}", {"type": "fs", "settings": {"compress": True, "location": "/backup"}})
        + "   # the repository over the restored PV folder: acknowledged",
        f"EXISTING=$({send('GET', '/_cat/indices?h=index')} | awk '{{print $1}}' | {{ grep -x -F {among} || true; }} "
        "| paste -sd, -)   # the set's indices that exist now",
        f'if [ -n "$EXISTING" ]; then kubectl exec -n {shell_word(ns)} {shell_word(pod)} -- bash -c '
        f'"{shell_word(script)} POST /$EXISTING/_close"; fi   # closed before the restore (never _all)',
        send("POST", f"/_snapshot/{repository}/{name}/_restore?wait_for_completion=true",
             {"indices": ",".join(wanted), "include_global_state": False}),
        f"test \"$({send('GET', '/_cat/indices?h=health,index')} | awk '$1 == \"green\" || $1 == \"yellow\" "
        f"{{print $2}}' | {{ grep -c -x -F {among} || true; }})\" -eq {len(wanted)}   # each restored index green or "
        "yellow",
    ]


def cross_part_notes(manifest: Manifest, databases: bool, component_pack: bool) -> List[str]:
    """What is then from different moments, when one half is restored without the other."""
    if not selected(manifest) or databases == component_pack:
        return []
    names = [db.name for db in manifest.databases if db.name in CROSS_PART and db.in_set]
    if databases:
        return [f"database {name} is restored from this set but the Component Pack is not: {CROSS_PART[name]} stay "
                "from another moment (restore --only component-pack from the same set too)" for name in names]
    return [f"the Component Pack is restored from this set but database {name} is not: {CROSS_PART[name]} are now of "
            "the time of this set, the database of another moment" for name in names]


# --------------------------------------------------------------------------- checks and execution


def _version(text: str) -> Tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def problems(manifest: Manifest, env: Environment, transport: Transport, set_dir: str) -> List[str]:
    """Before anything changes: the dump as the manifest says, the cluster answers, MongoDB's FCV is
    the dump's, OpenSearch is not older than the snapshot."""
    if not enabled(env):
        return ["the environment has no component_pack section: the Component Pack cannot be restored onto it"]
    cp = manifest.component_pack or {}
    dump = cp.get("mongodb") or {}
    if dump.get("status") in ("done", "warning"):
        try:
            digest = hash_file(path_in_set(set_dir, str(dump.get("path"))))
        except (OutsideTheSet, OSError) as error:
            return [f"component pack: the MongoDB dump: {error}"]
        if digest != (dump.get("sha256"), dump.get("size")):
            return [f"component pack: {dump.get('path')} does not match its SHA-256 and size in the manifest"]
    try:
        kube = Kube(env, transport)
        kube.json("kubectl", ["version", "-o", "json"])
        found: List[str] = []
        if dump.get("status") in ("done", "warning"):
            members = mongo.detect(kube)
            fcv = str(mongo.shell(kube, members, mongo.primary(kube, members), FCV_JS))
            wanted = ".".join(str(dump.get("version", "")).split(".")[:2])
            if fcv != wanted:
                found.append(f"component pack: MongoDB featureCompatibilityVersion is {fcv}, the dump is of MongoDB "
                             f"{dump.get('version')}: it restores only into {wanted}")
        snap = cp.get("opensearch") or {}
        if snap.get("status") in ("done", "warning"):
            odd = [str(n) for n in [snap.get("snapshot"), *(snap.get("indices") or [])] if not SEARCH_NAME.fullmatch(str(n))]
            if odd:
                return [f"component pack: the set names the snapshot or index {odd[0]!r}, not an OpenSearch name"]
            search = opensearch.detect(kube)
            running = str((opensearch.request(kube, search, "GET", "/").get("version") or {}).get("number", ""))
            if _version(running) < _version(str(snap.get("version", ""))):
                found.append(f"component pack: OpenSearch {running} is older than the snapshot's {snap.get('version')}")
        return found
    except (CnxBackupError, OSError) as error:
        return [f"component pack: {error}"]


def run_step(kind: str, manifest: Manifest, set_dir: str, env: Environment, transport: Transport,
             journal: Journal, log: Any, cipher: Optional[Cipher] = None) -> str:
    """Run one Component Pack step (its kind); a line for the console."""
    kube = Kube(env, transport)
    cp = manifest.component_pack or {}
    if kind == "cp-manual":
        return "printed (the tool does not run Helm: on a rebuilt cluster run these first)"
    if kind in PRINTED:
        return "printed (by hand: RESTORE.md writes the commands out; the tool does not run them)"
    if kind == "cp-scale-down":
        saved: Dict[str, int] = dict(journal.data.get("cpScaled") or {})
        for name in env.section("component_pack")["quiesce"]:
            if name not in saved:
                spec = kube.json("kubectl", ["get", "deployment", name, "-o", "json"]).get("spec") or {}
                saved[name] = int(spec.get("replicas") or 0)
                journal.data["cpScaled"] = dict(saved)
                journal.save()
            kube.run("kubectl", ["scale", f"deployment/{name}", "--replicas=0"]).check()
        return f"scaled to 0: {', '.join(saved) or 'nothing (component_pack.quiesce is empty)'}"
    if kind == "cp-scale-up":
        return scale_back(env, transport, journal)
    if kind == "cp-mongodb":
        return _mongorestore(kube, cp, _private_dump(cp, set_dir, journal.set_dir, cipher), log)
    return _snapshot_restore(kube, cp)


def scale_back(env: Environment, transport: Transport, journal: Journal) -> str:
    """Always: back to the replica counts saved before the scale-down (also after a failure)."""
    # the restore journal lives in the set, where others may write: only the environment's own
    # consumers are scaled, to a replica count that is a number
    allowed = set(env.section("component_pack")["quiesce"])
    saved = {str(k): max(0, int(v)) for k, v in (journal.data.get("cpScaled") or {}).items()
             if k in allowed and isinstance(v, int) and not isinstance(v, bool)}
    if not saved:
        return "nothing to scale back"
    kube = Kube(env, transport)
    errors = []
    for name, replicas in list(saved.items()):
        try:
            kube.run("kubectl", ["scale", f"deployment/{name}", f"--replicas={int(replicas)}"]).check()
            saved.pop(name)
        except (KubeError, OSError) as error:
            errors.append(f"{name}: {error}")
    journal.data["cpScaled"] = saved
    journal.save()
    if errors:
        raise StepFailed("component pack: could not scale back " + "; ".join(errors))
    return "scaled back"


def _private_dump(cp: Dict[str, Any], set_dir: str, private: str, cipher: Optional[Cipher] = None) -> str:
    """The dump mongorestore reads: a copy in the restore's own folder, read inside the set and
    checked against the manifest's SHA-256 before it is published (what is fed is what was checked)."""
    dump = cp.get("mongodb") or {}
    try:
        source = path_in_set(set_dir, str(dump.get("path")))
    except OutsideTheSet as error:
        raise StepFailed(f"component pack: {error}") from None
    dest = os.path.join(private, "mongodb.archive.gz")
    if os.path.exists(dest):
        os.unlink(dest)
    try:
        copy_back_file(source, dest, expected_sha256=str(dump.get("sha256")),
                       cipher=cipher if dump.get("encrypted") else None)
    except ArchiveError as error:
        raise StepFailed(f"component pack: the MongoDB dump does not match the manifest: {error}") from None
    return dest


def _mongorestore(kube: Kube, cp: Dict[str, Any], dump_file: str, log: Any) -> str:
    dump = cp.get("mongodb") or {}
    members = mongo.detect(kube)
    primary = mongo.primary(kube, members)
    argv = ["mongorestore", *mongo.tool_auth(members), f"--uri=mongodb://{members.fqdn(primary)}:27017/?directConnection=true",
            *_restore_options()]
    with open(dump_file, "rb") as handle:
        proc = subprocess.run(kube.exec_argv(primary, members.container, argv, stdin=True), stdin=handle,
                              capture_output=True, timeout=kube.settings["timeout"])
    text = proc.stderr.decode("utf-8", "replace")
    found = mongo.RESTORED.findall(text)
    if proc.returncode != 0 or not found:
        raise StepFailed(f"component pack: mongorestore into {primary} failed (exit {proc.returncode}): "
                         f"{text.strip().splitlines()[-1] if text.strip() else 'no output'}")
    restored, failed = (int(n) for n in found[-1])
    if failed:
        raise StepFailed(f"component pack: mongorestore into {primary} exited 0 but {failed} document(s) failed to "
                         "restore")
    counts = mongo.shell(kube, members, primary, COUNTS_JS) or {}
    wrong = [f"{db}.{coll}: {counts.get(db, {}).get(coll)} (the set: {n})"
             for db, colls in (dump.get("counts") or {}).items() if db not in ("admin", "config", "local")
             for coll, n in colls.items() if counts.get(db, {}).get(coll) != n]
    if wrong:
        raise StepFailed("component pack: after the restore, collections hold other counts than the set: "
                         + "; ".join(wrong[:10]))
    log.info("component pack: MongoDB restored into %s: %d documents, counts as in the set", primary, restored)
    return f"{counted(restored, 'document')} into {primary}, every collection's count as in the set"


def _snapshot_restore(kube: Kube, cp: Dict[str, Any]) -> str:
    snap = cp.get("opensearch") or {}
    search = opensearch.detect(kube)
    # the repository is the environment's; the snapshot's and the indices' names were checked before
    repository, name = str(kube.settings["opensearch_repository"]), str(snap["snapshot"])
    opensearch.request(kube, search, "PUT", f"/_snapshot/{repository}",
                       {"type": "fs", "settings": {"compress": True, "location": "/backup"}})
    wanted = [str(i) for i in snap.get("indices") or [] if not str(i).startswith(".")]
    existing = {str(i.get("index")) for i in opensearch.indices(kube, search)}
    close = [i for i in wanted if i in existing]
    if close:
        opensearch.request(kube, search, "POST", f"/{','.join(close)}/_close")
    opensearch.request(kube, search, "POST", f"/_snapshot/{repository}/{name}/_restore?wait_for_completion=true",
                       {"indices": ",".join(wanted), "include_global_state": False})
    health = {str(i.get("index")): i.get("health") for i in opensearch.indices(kube, search)}
    bad = [f"{i} ({health.get(i, 'missing')})" for i in wanted if health.get(i) not in ("green", "yellow")]
    if bad:
        raise StepFailed(f"component pack: after the snapshot restore, index(es) not green or yellow: {', '.join(bad)}")
    return f"snapshot {name}: {len(wanted)} indices restored ({len(close)} closed first), green or yellow"


def restore_names(names: Sequence[str], manifest: Manifest) -> Tuple[List[str], bool]:
    """``--only`` with ``component-pack`` expanded to the part's folder items; whether it was asked."""
    if "component-pack" not in names:
        return list(names), False
    rest = [n for n in names if n != "component-pack"]
    return rest + [n for n in folder_items(manifest) if n not in rest], True


def optional_note(manifest: Manifest) -> Optional[str]:
    if not selected(manifest):
        return None
    return (f"the Component Pack ({', '.join(folder_items(manifest)) or 'no folders'}, MongoDB, OpenSearch) is "
            "restored on its own, once the charts run: cnxbackup restore SET --env ENV --only component-pack")
