"""RESTORE.md's Component Pack section can be run (issue 27, item 5): no empty block, no ``<placeholder>``,
every value of the set one shell word. (That it restores the data, run by bash against the fake
cluster, is tests/e2e/restore/test_component_pack.py.)"""
from __future__ import annotations

import re
import shlex
import subprocess

import pytest

from cnxbackup.actions.restore import component_pack as cp_restore
from cnxbackup.actions.restore.plan import restore_steps
from cnxbackup.manifest import Manifest, ToolRecord
from cnxbackup.shown import fenced

PLACEHOLDER = re.compile(r"<[A-Za-z][^<>]*>")  # <primary>, <x509 options>, <those of ... that exist>


def _manifest(namespace: str = "connections", *, recorded: bool = True, encrypted: bool = False,
              index: str = "quickresults") -> Manifest:
    mongodb = {"status": "done", "statefulset": "mongo7", "member": "mongo7-2", "path": "componentpack/mongodb.archive.gz",
               "documents": 5, "counts": {"profiledb": {"profiles": 5}, "admin": {"system.users": 2}},
               "quiesced": ["kudos-boards-cp-core"], "version": "7.0.39"}
    if recorded:
        mongodb["tls"] = {"key": "/etc/mongodb/x509/user_admin.pem", "ca": "/etc/mongodb/x509/mongo-CA-cert.crt"}
    if encrypted:
        mongodb["encrypted"] = True
    opensearch = {"status": "done", "repository": "os_snaps_repo", "snapshot": "cnxbackup-demo-20261207t230000",
                  "indices": [index, "orient-me-collection", ".opendistro_security"], "folder": "opensearchbackup",
                  **({"pod": "opensearch-cluster-client-0"} if recorded else {})}
    inventory = {"status": "done", "releases": [{"name": "bootstrap", "chart": "bootstrap-0.1.0"}],
                 **({"consumers": {"kudos-boards-cp-core": 2, "mw-proxy": 1}} if recorded else {})}
    return Manifest(tool=ToolRecord("cnxbackup", "t"), environment="demo", run_id="demo-20261207T230000",
                    connections={"version": "8.0.0.0 CR15", "release": "8.0", "exact": "8.0.0.0 CR15"},
                    status="complete", component_pack={"namespace": namespace, "folders": [], "inventory": inventory, "mongodb": mongodb,
                                     "opensearch": opensearch})


def _cp_steps(manifest: Manifest, set_dir: str = "/backups/demo-20261207T230000") -> dict:
    steps = restore_steps(manifest, set_dir, None, only=["component-pack"],
                          component_pack=True, stamp="20261207T230000")
    return {s.kind: s.commands for s in steps if s.kind.startswith("cp-")}


@pytest.mark.parametrize("recorded, encrypted", [(True, False), (True, True), (False, False)])
def test_the_component_pack_section_has_no_empty_block_and_no_placeholder(recorded, encrypted) -> None:
    steps = _cp_steps(_manifest(recorded=recorded, encrypted=encrypted))
    assert set(steps) == set(cp_restore.KINDS)
    for kind, commands in steps.items():
        block = fenced(commands)
        assert commands and block.strip("`sh\n"), kind
        assert not PLACEHOLDER.search(block), (kind, PLACEHOLDER.search(block))
        for line in commands:
            shlex.split(line, comments=True)  # each line is one well-formed shell line
    if recorded:
        assert steps["cp-scale-down"] == ["kubectl scale deployment/kudos-boards-cp-core --replicas=0 -n connections",
                                          "kubectl scale deployment/mw-proxy --replicas=0 -n connections"]
        assert [c.split("   #")[0] for c in steps["cp-scale-up"]] == [
            "kubectl scale deployment/kudos-boards-cp-core --replicas=2 -n connections",
            "kubectl scale deployment/mw-proxy --replicas=1 -n connections"]
        assert "--sslPEMKeyFile /etc/mongodb/x509/user_admin.pem --sslCAFile /etc/mongodb/x509/mongo-CA-cert.crt" \
            in steps["cp-mongodb"][2]
    else:  # a set from before the counts and the x509 paths were recorded: read from the pod, no count made up
        assert steps["cp-mongodb"][0].startswith("KEY=$(kubectl exec -n connections mongo7-0 -c mongo7 -- printenv ")
        assert all(line.startswith("#") for line in steps["cp-scale-up"])
    restore = next(line for line in steps["cp-mongodb"] if " mongorestore " in line)
    assert restore.startswith('kubectl exec -i -n connections "$PRIMARY" -c mongo7 -- mongorestore ')
    assert restore.endswith("< <(gpg --decrypt /backups/demo-20261207T230000/componentpack/mongodb.archive.gz)"
                            if encrypted else "< /backups/demo-20261207T230000/componentpack/mongodb.archive.gz")
    assert ".opendistro_security" not in " ".join(steps["cp-opensearch"])


def test_every_value_of_the_set_is_one_shell_word(tmp_path) -> None:
    """Run by bash with a stand-in kubectl that logs its arguments: a hostile namespace arrives as one
    argument every time and runs nothing."""
    owned = tmp_path / "owned"
    namespace = f"connections; touch {owned}"
    (tmp_path / "componentpack").mkdir()
    (tmp_path / "componentpack" / "mongodb.archive.gz").write_bytes(b"")
    log = tmp_path / "kubectl.log"
    stand_in = f"kubectl() {{ printf '%s\\0' CALL \"$@\" >> {shlex.quote(str(log))}; echo mongo7-0; echo quickresults; }}"
    steps = _cp_steps(_manifest(namespace), str(tmp_path))
    for kind in ("cp-scale-down", "cp-scale-up", "cp-mongodb", "cp-opensearch"):
        log.write_bytes(b"")
        subprocess.run(["bash", "-c", "\n".join([stand_in, *steps[kind]])], capture_output=True, timeout=30)
        calls = [call.split(b"\0") for call in log.read_bytes().split(b"CALL\0")[1:]]
        assert len(calls) == sum(line.count("kubectl ") for line in steps[kind]), kind
        assert all(namespace.encode() in call for call in calls), kind
        assert not owned.exists(), kind


def test_an_index_name_that_is_not_an_opensearch_name_goes_into_no_request() -> None:
    steps = _cp_steps(_manifest(index="x$(touch /tmp/owned)"))
    assert all(line.startswith("#") for line in steps["cp-opensearch"])
    assert "'x$(touch /tmp/owned)'" in steps["cp-opensearch"][0]
