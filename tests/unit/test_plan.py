"""The plan: which items on which host, nested sources excluded once, provision/ on its own."""
from __future__ import annotations

import os

import pytest

from cnxbackup.archive import TarExcludes
from cnxbackup.errors import PreflightError
from cnxbackup.plan import RESTORE_EXACT, build_plan, check_sources, detect_versions, estimate_sizes, scan_tree
from envfiles import load

SINGLE = """\
connections: {{version: 8.0.0.0_CR14, interim_fixes: [], ccm: {ccm}, in_place_upgrade: {upgrade}}}
paths:
  was_root: {root}/was
  connections_root: {root}/cnx
  customizations: [{root}/custom/theme]
target: {{dir: {root}/backups}}
database: {{vendor: db2, backup_dir: /backup/db2}}
"""


def items(plan):
    return {item.name: item for item in plan.items}


def test_a_single_host_plan_follows_hcl_s_steps(tmp_path) -> None:
    plan = build_plan(load(tmp_path, SINGLE.format(root=tmp_path, ccm="true", upgrade="true")))
    named = items(plan)
    assert list(named) == ["dmgr-profile", "profile-AppSrv01", "profileRegistry", "connections-root", "shared-data",
                           "shared-provision", "local-data", "engine-ws-ear", "im-data", "im-install", "im-shared",
                           "custom-theme"]
    assert named["connections-root"].nested_excludes == ["./data/shared", "./data/local"]
    assert named["shared-data"].nested_excludes == ["./provision"]  # ccm storage inside shared data goes with it
    provision = named["shared-provision"]
    assert provision.restore_rule == RESTORE_EXACT and provision.optional
    ear = named["engine-ws-ear"]
    assert ear.kind == "copy" and ear.source == f"{tmp_path}/cnx/FileNet/ContentEngine/tools/configure/profiles/CCM/ear/Engine-ws.ear"
    assert named["dmgr-profile"].source == f"{tmp_path}/was/profiles/Dmgr01"
    assert plan.databases[-2:] == ["FNGCD", "FNOS"] and plan.db_vendor == "db2"
    assert plan.wsadmin_steps == ["list_auth_aliases", "check_filenet_admin", "export_role_mappings", "stop_servers"]
    assert any("inside shared data" in note for note in plan.notes)


def test_without_ccm_or_an_in_place_upgrade_there_is_less_to_back_up(tmp_path) -> None:
    plan = build_plan(load(tmp_path, SINGLE.format(root=tmp_path, ccm="false", upgrade="false")))
    named = items(plan)
    assert "engine-ws-ear" not in named and not [n for n in named if n.startswith("im-")]
    assert "FNGCD" not in plan.databases


def test_a_multi_host_plan_puts_each_item_on_its_host(tmp_path) -> None:
    env = load(tmp_path, f"""\
        connections: {{version: 8.0.0.0_CR14, interim_fixes: []}}
        target: {{dir: {tmp_path}/backups}}
        database: {{vendor: none}}
        hosts:
          - {{name: dmgr, address: dmgr.example.com, roles: [dmgr]}}
          - {{name: node1, address: n1.example.com, roles: [node]}}
          - {{name: node2, address: n2.example.com, roles: [node], paths: {{profiles: [/opt/was/profiles/AppSrv02]}}}}
          - {{name: nfs, address: nfs.example.com, roles: [nfs]}}
        """)
    plan = build_plan(env)
    where = {item.name: item.host for item in plan.items}
    assert where["dmgr-dmgr-profile"] == "dmgr" and where["dmgr-connections-root"] == "dmgr"
    assert where["node1-profile-AppSrv01"] == "node1" and where["node2-profile-AppSrv02"] == "node2"
    assert where["nfs-shared-data"] == "nfs" and where["nfs-shared-provision"] == "nfs"
    assert {where["node1-local-data"], where["node2-local-data"]} == {"node1", "node2"}
    dmgr_root = items(plan)["dmgr-connections-root"]
    assert dmgr_root.nested_excludes == []  # shared data lives on another host: nothing to exclude here
    assert plan.databases == [] and plan.db_vendor == "none"


def test_a_version_that_is_not_one_is_refused_naming_the_key(tmp_path) -> None:
    env = load(tmp_path, SINGLE.format(root=tmp_path, ccm="false", upgrade="false").replace("8.0.0.0_CR14", "eight"))
    with pytest.raises(PreflightError, match=r"unit.yaml:1: 'eight' is not a Connections version"):
        detect_versions(env)


def test_sources_are_checked_and_an_absent_provision_folder_is_skipped_with_a_note(tmp_path) -> None:
    plan = build_plan(load(tmp_path, SINGLE.format(root=tmp_path, ccm="false", upgrade="false")))
    for item in plan.items:
        if item.kind == "archive" and item.name != "shared-provision":
            os.makedirs(item.source, exist_ok=True)
    os.makedirs(os.path.dirname(items(plan)["profileRegistry"].source), exist_ok=True)
    problems = check_sources(plan)
    env = plan.env
    assert problems == [f"{env.where('paths.profile_registry')}: key 'paths.profile_registry': item profileRegistry: "
                        f"{tmp_path}/was/properties/profileRegistry.xml does not exist"]
    assert "shared-provision" not in items(plan) and any("shared-provision is skipped" in n for n in plan.notes)


def test_the_size_estimate_is_what_tar_streams(tmp_path) -> None:
    root = tmp_path / "tree"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a").write_bytes(b"x" * 1000)
    (root / "b").write_bytes(b"")
    (root / "skipped").mkdir()
    (root / "skipped" / "big").write_bytes(b"y" * 10000)
    os.symlink("sub/a", root / "link")
    total, entries = scan_tree(str(root), TarExcludes(anchored=("./skipped",)))
    assert entries == 5  # the root, sub, sub/a, b, link
    assert total == 4 * 512 + 1024  # a header per entry below the root, a's data in 512-byte blocks
    plan = build_plan(load(tmp_path, SINGLE.format(root=tmp_path, ccm="false", upgrade="false")))
    local = items(plan)["local-data"]
    os.makedirs(local.source)
    with open(os.path.join(local.source, "f"), "wb") as handle:
        handle.write(b"z" * 513)
    estimate_sizes(plan)
    assert (local.est_bytes, local.est_files) == (512 + 1024, 2)
