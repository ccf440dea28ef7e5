"""``prune --dry-run`` lists what the real prune removes (issue 28): each database image on its
host, the OpenSearch snapshot and the folder, from the set's signed record alone; what the record
already shows the real prune would refuse is a problem, and nothing is touched."""
from __future__ import annotations

import os

from cnxbackup.actions.sets.retention import PruneDecision, SetEntry, planned_removal
from cnxbackup.manifest import DatabaseRecord, ImageRecord, Manifest, ToolRecord
from envfiles import load

ENV = """\
    target: {{dir: {root}/backups}}
    database: {{vendor: db2, backup_dir: /backup/db2}}
    hosts:
      - {{name: dmgr, address: dmgr.example.com, roles: [dmgr, node, nfs]}}
      - {{name: db1, address: db1.example.com, roles: [db]}}
    component_pack: {{host: dmgr}}
    """
SHA = "a" * 64


def _manifest(images: list, snapshot: str = "cnx-20260101t000000") -> Manifest:
    return Manifest(tool=ToolRecord("cnxbackup", "test"), environment="unit", run_id="unit-20260101T000000",
                    connections={}, status="complete", database_vendor="db2",
                    databases=[DatabaseRecord("BLOGS", "db2", "done", images),
                               DatabaseRecord("FILES", "db2", "failed", [ImageRecord("/backup/db2/F.001", SHA, 9)])],
                    component_pack={"opensearch": {"status": "done", "snapshot": snapshot}})


def _dry_run(tmp_path, manifest: Manifest) -> PruneDecision:
    env = load(tmp_path, ENV.format(root=tmp_path))
    folder = tmp_path / "backups" / "unit-20260101T000000"
    folder.mkdir(parents=True)
    entry = SetEntry(str(folder), folder.name, 0.0, "complete", manifest=manifest, size=2048)
    decision = planned_removal(env, PruneDecision(entry, False, "complete, beyond the newest 1"))
    assert folder.is_dir()  # a dry run removes nothing
    return decision


def test_the_dry_run_names_each_image_on_its_host_the_snapshot_and_the_folder(tmp_path) -> None:
    images = [ImageRecord("/backup/db2/BLOGS.0.db2inst1.DBPART000.20260101000000.001", SHA, 3 << 20),
              ImageRecord("/backup/db2/BLOGS.0.db2inst1.DBPART000.20260101000000.002", SHA, 1024)]
    decision = _dry_run(tmp_path, _manifest(images))
    assert decision.problems == []
    assert decision.removed == [
        f"database BLOGS: image db1:{images[0].path} (3.0 MB): would be removed",
        f"database BLOGS: image db1:{images[1].path} (1.0 KB): would be removed",
        "OpenSearch snapshot os_snaps_repo/cnx-20260101t000000 (through kubectl on dmgr): would be deleted",
        f"{os.path.join(str(tmp_path), 'backups', 'unit-20260101T000000')}: would be removed (2.0 KB)"]
    assert decision.reason == "complete, beyond the newest 1" and not decision.keep


def test_what_the_real_prune_would_refuse_is_said_in_the_dry_run(tmp_path) -> None:
    images = [ImageRecord("/etc/precious.bin", SHA, 10), ImageRecord("/backup/db2/BLOGS.002"),
              ImageRecord("/backup/db2/BLOGS.003", SHA, 10, host="elsewhere")]
    decision = _dry_run(tmp_path, _manifest(images, snapshot="../_all"))
    assert decision.problems == [
        "database BLOGS: image /etc/precious.bin is not inside database.backup_dir /backup/db2: left alone",
        "database BLOGS: image /backup/db2/BLOGS.002: the set records no SHA-256 and size for it: left alone",
        "image /backup/db2/BLOGS.003: host elsewhere is not in the environment",
        "the set names the OpenSearch snapshot '../_all', not an OpenSearch name: left alone"]
    assert decision.removed[-1].endswith("unit-20260101T000000: would be removed (2.0 KB)")
