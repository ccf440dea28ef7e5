"""Issue 28's wording: counts agree with their nouns ("1 files"), and a flag is said in words
("(file-based: False)"), in the lines a backup prints."""
from __future__ import annotations

from cnxbackup.actions.backup.component_pack_phase import _summary as cp_summary
from cnxbackup.actions.backup.wsadmin_phase import _summary as wsadmin_summary


def test_the_filenet_admin_check_says_its_realm_in_words() -> None:
    result = {"alias": "filenetAdmin", "userId": "fnadmin", "uniqueName": "uid=fnadmin,o=defaultWIMFileBasedRealm"}
    ldap = wsadmin_summary("check_filenet_admin", dict(result, fileBased=False))
    assert ldap == (": fnadmin -> uid=fnadmin,o=defaultWIMFileBasedRealm, not in the file-based realm (LDAP): "
                    "fileRegistry.xml is not needed")
    assert wsadmin_summary("check_filenet_admin", dict(result, fileBased=True)).endswith(
        ", in the file-based realm: fileRegistry.xml is saved")
    assert "False" not in ldap and "True" not in ldap


def test_counts_of_one_are_singular() -> None:
    assert wsadmin_summary("list_auth_aliases", {"aliases": ["a"]}) == ": 1 J2C alias"
    assert wsadmin_summary("export_role_mappings", {"applications": {"Blogs": [], "Wikis": []}}) == ": 2 applications"
    assert cp_summary("cp:inventory", {"releases": ["connections-env"], "secrets": 1}) == "1 Helm release, 1 secret"
    mongo = cp_summary("cp:mongodb", {"documents": 1, "counts": {"boards": {"cards": 1}}, "member": "mongo7-1",
                                      "how": "secondary", "size": 10})
    assert mongo.startswith("1 document in 1 collection from mongo7-1")
    assert cp_summary("cp:opensearch", {"snapshot": "s", "indices": ["i"], "state": "SUCCESS"}) == \
        "snapshot s of 1 index, SUCCESS"
