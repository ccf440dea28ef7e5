"""Generate the cell fixtures in cells/*.json (run: python3 make_fixtures.py).

The generated JSON is committed; tests never need to run this.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CELLS_DIR = Path(__file__).resolve().parent / "cells"
FILE_REALM = "defaultWIMFileBasedRealm"
ADMINS_GROUP_ID = f"group:{FILE_REALM}/CN=IC Admins,ou=ic,dc=ad,dc=com"
WASADMIN_ID = f"user:{FILE_REALM}/uid=wasadmin,o={FILE_REALM}"

# application -> (cluster, extra roles); every app also gets the common roles below.
APPLICATIONS: dict[str, tuple[str, list[str]]] = {
    "Activities": ("Apps", ["everyone", "reader", "person", "metrics-reader", "search-admin", "widget-admin", "admin"]),
    "Blogs": ("Apps", ["everyone", "reader", "person", "metrics-reader", "search-admin", "widget-admin", "admin", "global-moderator"]),
    "Common": ("Infra", ["everyone", "reader", "person", "allAuthenticated", "admin"]),
    "Communities": ("Apps", ["everyone", "reader", "person", "metrics-reader", "community-creator", "community-metrics-run", "search-admin", "widget-admin", "admin", "global-moderator", "dsx-admin"]),
    "ConnectionsProxy": ("Infra", ["everyone", "reader", "person", "admin"]),
    "Dogear": ("Apps", ["everyone", "reader", "person", "metrics-reader", "search-admin", "admin"]),
    "Files": ("Apps", ["everyone", "reader", "person", "metrics-reader", "search-admin", "admin", "org-admin", "filesync-user", "global-moderator"]),
    "Forums": ("Apps", ["everyone", "reader", "person", "metrics-reader", "search-admin", "widget-admin", "admin", "global-moderator"]),
    "Help": ("Infra", ["everyone", "reader", "person"]),
    "Homepage": ("Apps", ["everyone", "reader", "person", "metrics-reader", "search-admin", "admin", "mail-user"]),
    "ICEC": ("Util", ["everyone", "reader", "person", "ADMIN"]),
    "Invite": ("Util", ["everyone", "reader", "person", "admin"]),
    "Metrics": ("Util", ["everyone", "reader", "person", "metrics-reader", "community-metrics-run", "admin"]),
    "MetricsEventCapture": ("Util", ["everyone", "reader", "person", "admin"]),
    "MetricsUI": ("Util", ["everyone", "reader", "person", "admin"]),
    "Mobile": ("Apps", ["everyone", "reader", "person", "admin"]),
    "Mobile Administration": ("Apps", ["everyone", "person", "admin"]),
    "Moderation": ("Util", ["everyone", "reader", "person", "global-moderator", "admin"]),
    "News": ("Apps", ["everyone", "reader", "person", "metrics-reader", "search-admin", "widget-admin", "admin", "sharedWidgetAdmin"]),
    "Profiles": ("Infra", ["everyone", "reader", "person", "allAuthenticated", "metrics-reader", "search-admin", "admin", "org-admin", "bss-provisioning-admin", "dsx-admin"]),
    "PushNotification": ("Push", ["everyone", "reader", "person", "admin"]),
    "RichTextEditors": ("Infra", ["everyone", "reader", "person", "admin"]),
    "Search": ("Infra", ["everyone", "reader", "person", "search-admin", "admin"]),
    "Sidebar": ("Util", ["everyone", "reader", "person", "admin"]),
    "StorageProxy": ("Util", ["everyone", "reader", "person", "admin"]),
    "Touchpoint": ("Util", ["everyone", "reader", "person", "admin"]),
    "URLPreview": ("Util", ["everyone", "reader", "person"]),
    "WebSphereOauth20SP": ("Infra", ["authenticated", "clientManager"]),
    "WidgetContainer": ("Infra", ["everyone", "reader", "person", "admin", "trustedExternalApplication"]),
    "Wikis": ("Apps", ["everyone", "reader", "person", "metrics-reader", "search-admin", "widget-admin", "admin", "wiki-creator"]),
}
RUNAS_APPS = {"Activities": ["activities-runas"], "Homepage": ["homepage-runas"], "News": ["news-runas"],
              "Search": ["search-runas"], "Metrics": ["metrics-runas"]}


def role_entry(app: str, role: str, realm: str) -> dict[str, Any]:
    entry = {"role": role, "everyone": False, "allAuthenticated": False, "users": [], "groups": [],
             "allAuthenticatedInTrustedRealms": False, "userAccessIds": [], "groupAccessIds": []}
    if role in ("everyone", "reader"):
        entry["everyone"] = True
    elif role in ("person", "allAuthenticated", "authenticated", "metrics-reader", "mail-user",
                  "community-creator", "wiki-creator", "filesync-user"):
        entry["allAuthenticated"] = True
    elif role in ("admin", "ADMIN", "search-admin", "widget-admin", "global-moderator", "org-admin", "dsx-admin"):
        entry["users"] = ["wasadmin", "connectionsAdmin"]
        entry["userAccessIds"] = [WASADMIN_ID, f"user:{realm}/uid=connectionsadmin,o={realm}"]
        entry["groups"] = ["IC Admins"]
        entry["groupAccessIds"] = [ADMINS_GROUP_ID]
    elif role == "trustedExternalApplication":
        entry["users"] = ["connectionsAdmin"]
        entry["userAccessIds"] = [f"user:{realm}/uid=connectionsadmin,o={realm}"]
    elif role == "bss-provisioning-admin":
        entry["groups"] = ["Provisioning: Team=Ops"]
        entry["groupAccessIds"] = [f"group:{realm}/cn=Provisioning: Team=Ops,ou=groups,dc=example,dc=com"]
    return entry


def applications(seq_start: int) -> list[dict[str, Any]]:
    apps = []
    for i, (name, (cluster, roles)) in enumerate(sorted(APPLICATIONS.items())):
        app = {"name": name, "target": cluster, "configSeq": seq_start + i,
               "roles": [role_entry(name, r, FILE_REALM) for r in roles],
               "runAsRoles": [{"role": r, "user": "connectionsAdmin", "password": "RunAsSecret1"}
                              for r in RUNAS_APPS.get(name, [])]}
        apps.append(app)
    return apps


def base_cell(version: str, cell: str, node_prefix: str) -> dict[str, Any]:
    dmgr_node = f"{node_prefix}CellManager01"
    nodes = [f"{node_prefix}Node01", f"{node_prefix}Node02"]
    servers = [{"name": "dmgr", "node": dmgr_node, "type": "DEPLOYMENT_MANAGER", "configSeq": 1, "running": True}]
    seq = 1620000000000
    for node in nodes:
        seq += 1
        servers.append({"name": "nodeagent", "node": node, "type": "NODE_AGENT", "configSeq": seq, "running": True})
    clusters = []
    for ci, cname in enumerate(["Infra", "Util", "Apps", "Push"]):
        members = []
        for ni, node in enumerate(nodes):
            seq += 1
            sname = f"{cname}Cluster_server{ni + 1}"
            servers.append({"name": sname, "node": node, "type": "APPLICATION_SERVER", "cluster": cname,
                            "configSeq": seq, "running": True, "stopDelay": 0.5, "startDelay": 0.5})
            members.append({"server": sname, "node": node, "configSeq": seq + 500, "weight": 2})
        clusters.append({"name": cname, "configSeq": 1620000001000 + ci, "members": members})
    return {
        "schemaVersion": 1,
        "cell": cell,
        "wasVersion": version,
        "profileRoot": "/opt/IBM/WebSphere/AppServer/profiles/Dmgr01",
        "dmgrHost": "dmgr.example.com",
        "dmgrPort": 8879,
        "dmgrRmiPort": 9809,
        "dmgrRunning": True,
        "securityEnabled": True,
        "adminUser": "wasadmin",
        "adminPassword": "Adm1n-Secret",
        "stopServerTimeout": 30,
        "realm": FILE_REALM,
        "repositories": [{"id": "InternalFileRepository", "type": "File", "host": "LocalHost"}],
        "users": [
            {"uniqueName": f"uid=wasadmin,o={FILE_REALM}", "uid": "wasadmin", "cn": "wasadmin", "sn": "wasadmin"},
            {"uniqueName": f"uid=connectionsadmin,o={FILE_REALM}", "uid": "connectionsadmin",
             "cn": "Connections Admin", "sn": "Admin", "mail": "connectionsadmin@example.com"},
        ],
        "nodes": [{"name": dmgr_node, "hostName": "dmgr.example.com"}]
                 + [{"name": n, "hostName": f"was{i + 1}.example.com"} for i, n in enumerate(nodes)],
        "servers": servers,
        "clusters": clusters,
        "authData": [
            {"alias": "connectionsAdmin", "userId": "connectionsadmin", "password": "CnxAdm1n",
             "description": "", "configSeq": 1620000100001},
            {"alias": "icecJAASAuth", "userId": "icecuser", "password": "Icec-Pw", "description": "ICEC database",
             "configSeq": 1620000100002},
        ],
        "applications": applications(1620000200000),
    }


def was855() -> dict[str, Any]:
    cell = base_cell("8.5.5.20", "ICCell01", "IC")
    cell["authData"].append({"alias": "ICNode01/filenetAdmin", "userId": "filenetadmin", "password": "Fn-Secret1",
                             "description": "FileNet admin (CCM)", "configSeq": 1620000100003})
    cell["users"].append({"uniqueName": f"uid=filenetadmin,o={FILE_REALM}", "uid": "filenetadmin",
                          "cn": "filenetadmin", "sn": "filenetadmin"})
    return cell


def was905() -> dict[str, Any]:
    cell = base_cell("9.0.5.14", "CNXCell", "CNX")
    ldap_users = [("fnadmin", "FileNet Admin"), ("jdoe", "John Doe"), ("jsmith", "Jane Smith")]
    for uid, cn in ldap_users:
        cell["users"].append({"uniqueName": f"uid={uid},cn=users,dc=example,dc=com", "uid": uid, "cn": cn,
                              "sn": cn.split()[-1], "mail": f"{uid}@example.com"})
    cell["repositories"].append({"id": "ldap.example.com:636", "type": "LDAP",
                                 "specificType": "IBM_DIRECTORY_SERVER", "host": "ldap.example.com"})
    cell["authData"].append({"alias": "filenetAdmin", "userId": "fnadmin", "password": "Fn-Secret2",
                             "description": "", "configSeq": 1620000100004})
    for srv in cell["servers"]:
        if srv["name"] == "AppsCluster_server1":
            srv["stopDelay"] = 1.5        # slow to stop: a stop sees it STOPPING over two polls (1 s apart)
        if srv["name"] == "PushCluster_server2":
            srv["running"] = False        # already stopped
    return cell


def noccm() -> dict[str, Any]:
    cell = base_cell("9.0.5.14", "NoCCMCell", "NC")
    return cell


def stuck() -> dict[str, Any]:
    cell = base_cell("9.0.5.14", "StuckCell", "ST")
    cell["stopServerTimeout"] = 3
    for srv in cell["servers"]:
        if srv["name"] == "UtilCluster_server1":
            srv["neverStops"] = True
    return cell


def main() -> None:
    CELLS_DIR.mkdir(exist_ok=True)
    for name, build in [("was855", was855), ("was905", was905), ("noccm", noccm), ("stuck", stuck)]:
        data = build()
        (CELLS_DIR / f"{name}.json").write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
