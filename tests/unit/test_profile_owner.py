"""WebSphere's order: restore swaps no profile folder while its process runs, and ``stop`` /
``start`` bring the whole deployment down and up, idempotent, answering the scripts' console
prompt without a password on any command line.

Who runs a profile's scripts is taken without following links: the WebSphere user must not make
root run their ``serverStatus.sh`` by pointing ``config`` at a root-owned folder (issue 26)."""

from __future__ import annotations

import os
import re

import pytest

from cnxbackup.hosts import Host
from cnxbackup.was_processes import ProfileRefused, WasProcess, check_local_root_script, local_owner, script_line

ROOT = os.geteuid() == 0
NOBODY = 65534


def _profile(tmp_path, owner: int = 0) -> WasProcess:
    profile = tmp_path / "profiles" / "AppSrv01"
    (profile / "config").mkdir(parents=True)
    (profile / "bin").mkdir()
    script = profile / "bin" / "serverStatus.sh"
    script.write_text("#!/bin/sh\n")
    os.chmod(profile, 0o755)
    os.chmod(profile / "bin", 0o755)
    os.chmod(script, 0o755)
    if owner:
        for path in (profile, profile / "config", profile / "bin", script):
            os.chown(path, owner, owner)
    return WasProcess("nodeagent", Host("local", "local"), str(profile))


def test_profile_scripts_run_as_the_profile_owner_never_as_root(tmp_path) -> None:
    process = _profile(tmp_path)
    profile = process.profile
    if ROOT:
        assert local_owner(process) is None  # root's own profile: run as is
        os.chown(profile, NOBODY, NOBODY)
        os.chown(os.path.join(profile, "config"), NOBODY, NOBODY)
        owner = local_owner(process)
        assert owner not in (None, "root")
        line = script_line(process, "stopNode", (), owner)
        assert line == f"su -s /bin/sh {owner} -c {profile}/bin/stopNode.sh"
    assert script_line(process, "syncNode", ["dmgr.example.com", "8879"]) == \
        f"{profile}/bin/syncNode.sh dmgr.example.com 8879"


@pytest.mark.skipif(not ROOT, reason="chown needs root")
def test_a_config_linked_to_a_root_folder_is_refused_not_followed(tmp_path) -> None:
    """The attack: the WebSphere user replaces ``config`` by a link to a root-owned folder; ``os.stat``
    followed it and ``stop`` ran their serverStatus.sh as uid 0."""
    process = _profile(tmp_path, owner=NOBODY)
    config = os.path.join(process.profile, "config")
    os.rmdir(config)
    rootdir = tmp_path / "rootowned"
    rootdir.mkdir()
    os.symlink(rootdir, config)
    os.lchown(config, NOBODY, NOBODY)
    with pytest.raises(ProfileRefused, match=re.escape(f"{config}: is a symlink")):
        local_owner(process)


@pytest.mark.skipif(not ROOT, reason="chown needs root")
def test_a_profile_and_config_of_different_owners_are_refused(tmp_path) -> None:
    process = _profile(tmp_path, owner=NOBODY)
    os.chown(os.path.join(process.profile, "config"), 0, 0)  # config root's inside the WebSphere user's profile
    with pytest.raises(ProfileRefused, match="different owners"):
        local_owner(process)


@pytest.mark.skipif(not ROOT, reason="chown needs root")
def test_a_linked_profile_folder_is_refused(tmp_path) -> None:
    process = _profile(tmp_path, owner=NOBODY)
    linked = WasProcess("nodeagent", Host("local", "local"), str(tmp_path / "link"))
    os.symlink(process.profile, linked.profile)
    with pytest.raises(ProfileRefused, match="is a symlink"):
        local_owner(linked)


@pytest.mark.skipif(not ROOT, reason="chown needs root")
@pytest.mark.parametrize("attack", ["script-not-root", "script-group-writable", "bin-other-writable", "script-link"])
def test_a_script_root_would_run_must_be_roots(tmp_path, attack: str) -> None:
    process = _profile(tmp_path)
    script = os.path.join(process.profile, "bin", "serverStatus.sh")
    check_local_root_script(process, "serverStatus")  # root's, 0755: runs
    if attack == "script-not-root":
        os.chown(script, NOBODY, NOBODY)
    elif attack == "script-group-writable":
        os.chmod(script, 0o775)
    elif attack == "bin-other-writable":
        os.chmod(os.path.dirname(script), 0o757)
    else:
        elsewhere = tmp_path / "theirs.sh"
        elsewhere.write_text("#!/bin/sh\n")
        os.unlink(script)
        os.symlink(elsewhere, script)
    with pytest.raises(ProfileRefused, match="runs as root only when"):
        check_local_root_script(process, "serverStatus")
