"""WebSphere's order: restore swaps no profile folder while its process runs, and ``stop`` /
``start`` bring the whole deployment down and up, idempotent, answering the scripts' console
prompt without a password on any command line."""

from __future__ import annotations

import os


def test_profile_scripts_run_as_the_profile_owner_never_as_root(tmp_path) -> None:
    from cnxbackup.hosts import Host
    from cnxbackup.was_processes import WasProcess, local_owner, script_line

    profile = tmp_path / "profiles" / "AppSrv01"
    (profile / "config").mkdir(parents=True)
    process = WasProcess("nodeagent", Host("local", "local"), str(profile))
    if os.geteuid() == 0:
        assert local_owner(process) is None  # root's own profile: run as is
        os.chown(profile / "config", 65534, 65534)
        owner = local_owner(process)
        assert owner not in (None, "root")
        line = script_line(process, "stopNode", (), owner)
        assert line == f"su -s /bin/sh {owner} -c {profile}/bin/stopNode.sh"
    assert script_line(process, "syncNode", ["dmgr.example.com", "8879"]) == \
        f"{profile}/bin/syncNode.sh dmgr.example.com 8879"
