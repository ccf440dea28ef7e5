"""Issue 26, item 3: an item on another host is restored only when no folder on the way to it can be
changed by another user than the ssh user. The "host" is this machine: a fake transport runs the
one shell command with ``sh -c`` here (no sshd), so the checks look at real folders made here."""
from __future__ import annotations

import os
import subprocess
from typing import Any, List

import pytest

from cnxbackup.actions.restore.plan import RestoreStep
from cnxbackup.actions.restore.remote_trees import parse, remote_tree_problems, script
from cnxbackup.config import Environment
from cnxbackup.hosts import Host
from cnxbackup.manifest import ArchiveRecord
from cnxbackup.transport import HostUnreachable

OTHER = 54321  # a uid nobody here has

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="folders of another owner are made as root")


class HereTransport:
    """Runs the host's command on this machine; counts the commands."""

    def __init__(self) -> None:
        self.commands: List[str] = []

    def run(self, host: Host, text: str, **_: Any) -> "subprocess.CompletedProcess[str]":
        self.commands.append(text)
        return subprocess.run(["sh", "-c", text], capture_output=True, text=True)


class DownTransport:
    def run(self, host: Host, text: str, **_: Any) -> Any:
        raise HostUnreachable(host, "connection refused")


def environment(user: str = "root") -> Environment:
    hosts = [{"name": "dmgr", "address": "local", "user": None, "port": 22, "key": None, "roles": ["dmgr"]},
             {"name": "node2", "address": "10.0.0.2", "user": user, "port": 22, "key": None, "roles": ["node"]}]
    return Environment("t", "t.yaml", {"hosts": hosts}, {})


def stage(name: str, destination: str, host: str = "node2") -> RestoreStep:
    record = ArchiveRecord(name=name, kind="archive", source=destination, path=f"archives/{name}.tar.zst",
                           status="done", host=host)
    return RestoreStep(f"stage:{name}", f"Stage {name}", "stage", archive=record, destination=destination)


def problems(*steps: RestoreStep, user: str = "root") -> List[str]:
    return remote_tree_problems(list(steps), environment(user), HereTransport())  # type: ignore[arg-type]


def test_root_owned_folders_are_no_problem(tmp_path) -> None:
    (tmp_path / "profiles").mkdir()
    assert problems(stage("node2-profile", str(tmp_path / "profiles" / "AppSrv01"))) == []


def test_a_folder_of_another_user_on_the_way_refuses_naming_host_path_and_owner(tmp_path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    os.chown(profiles, OTHER, OTHER)
    transport = HereTransport()
    steps = [stage("node2-profile", str(profiles / "AppSrv01")), stage("node2-other", str(profiles / "AppSrv02")),
             stage("local-item", str(profiles / "Dmgr01"), host="dmgr")]
    found = remote_tree_problems(steps, environment(), transport)  # type: ignore[arg-type]
    assert len(transport.commands) == 1  # both node2 items in one command; the local item not looked at
    assert len(found) == 1, found
    assert found[0].startswith(f"host node2: {profiles} is owned by uid {OTHER}, not the ssh user root")
    assert "node2-profile, node2-other by hand (RESTORE.md)" in found[0] and "hosts[node2].user" in found[0]
    assert "local-item" not in found[0]


def test_the_destination_itself_of_another_user_refuses(tmp_path) -> None:
    destination = tmp_path / "localdata"
    destination.mkdir()
    os.chown(destination, OTHER, OTHER)
    [found] = problems(stage("node2-local-data", str(destination)))
    assert f"{destination} is owned by uid {OTHER}" in found


def test_a_folder_of_the_ssh_user_is_no_problem_when_that_user_connects(tmp_path) -> None:
    # the ssh user is root here; a folder of another user is refused, but one of root is fine with any ssh user name
    (tmp_path / "profiles").mkdir()
    assert problems(stage("node2-profile", str(tmp_path / "profiles" / "AppSrv01")), user="wasadmin") == []


def test_skipped_and_non_stage_steps_are_not_looked_at(tmp_path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    os.chown(profiles, OTHER, OTHER)
    skipped = stage("node2-profile", str(profiles / "AppSrv01"))
    skipped.skip_reason = "not in this set"
    swap = stage("node2-other", str(profiles / "AppSrv02"))
    swap.kind = "file"
    assert problems(skipped, swap) == []


def test_a_symbolic_link_of_another_user_on_the_way_refuses(tmp_path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "profiles"
    link.symlink_to(real)
    os.lchown(link, OTHER, OTHER)
    [found] = problems(stage("node2-profile", str(link / "AppSrv01")))
    assert f"{link} is a symbolic link owned by uid {OTHER}, not root" in found


def test_a_root_link_into_a_folder_of_another_user_refuses_that_folder(tmp_path) -> None:
    """The links on the way are followed too: a root link does not hide whose folder it leads into."""
    theirs = tmp_path / "theirs"
    (theirs / "profiles").mkdir(parents=True)
    os.chown(theirs, OTHER, OTHER)
    link = tmp_path / "opt"
    link.symlink_to(theirs)
    [found] = problems(stage("node2-profile", str(link / "profiles" / "AppSrv01")))
    assert found.startswith(f"host node2: {theirs} is owned by uid {OTHER}")


def test_a_group_writable_folder_without_the_sticky_bit_refuses(tmp_path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o775)
    [found] = problems(stage("node2-data", str(shared / "data")))
    assert f"{shared} is writable by group or others (mode 0775) without the sticky bit" in found
    assert "chmod go-w" in found
    os.chmod(shared, 0o1777)  # like /tmp: others may add names but not rename or remove those of others
    assert problems(stage("node2-data", str(shared / "data"))) == []


def test_a_path_with_control_characters_is_shown_escaped(tmp_path) -> None:
    odd = tmp_path / "a\nb\x1b[2Jc"
    odd.mkdir()
    os.chown(odd, OTHER, OTHER)
    [found] = problems(stage("node2-profile", str(odd / "AppSrv01")))
    assert "\n" not in found and "\x1b" not in found
    assert f"{tmp_path}/a\\x0ab\\x1b[2Jc is owned by uid {OTHER}" in found


def test_a_missing_part_of_the_way_is_fine(tmp_path) -> None:
    assert problems(stage("node2-profile", str(tmp_path / "not" / "yet" / "there"))) == []


def test_an_unreachable_host_is_one_line() -> None:
    found = remote_tree_problems([stage("node2-a", "/opt/a"), stage("node2-b", "/opt/b")],  # type: ignore[arg-type]
                                 environment(), DownTransport())
    assert len(found) == 1 and found[0].startswith("host node2: cannot be reached") and "connection refused" in found[0]


def test_an_answer_without_the_user_line_is_not_taken_for_a_clean_one() -> None:
    class Silent:
        def run(self, host: Host, text: str, **_: Any) -> Any:
            return subprocess.CompletedProcess(["sh"], 127, "L 0 0 0 41ed root\n", "sh: stat: not found\n")
    [found] = remote_tree_problems([stage("node2-a", "/opt/a")], environment(), Silent())  # type: ignore[arg-type]
    assert found.startswith("host node2: the folders its items are restored through could not be checked (exit 127)")


def test_lines_that_do_not_parse_are_ignored() -> None:
    report = parse("U 0 root\nL 0 x 0 41ed root\nP 0 zz\nL 0 0 0 41ed\nR\n\x1b[2J\n")
    assert report.uid == 0 and list(report.stats) == [("L", 0, 0)] and report.resolved == {}


def test_the_command_quotes_the_destinations() -> None:
    text = script(["/opt/it's; rm -rf /"])
    assert "'/opt/it'\"'\"'s; rm -rf '" in text and " rm -rf /\n" not in text


def test_a_host_without_realpath_is_not_taken_for_a_clean_one() -> None:
    class NoRealpath:
        def run(self, host: Host, text: str, **_: Any) -> Any:
            return subprocess.CompletedProcess(["sh"], 0, "U 0 root\nL 0 0 0 41ed root\n", "sh: realpath: not found\n")
    [found] = remote_tree_problems([stage("node2-a", "/opt/a")], environment(), NoRealpath())  # type: ignore[arg-type]
    assert found.startswith("host node2: where the folders on the way to node2-a lead could not be found")


def test_a_folder_of_another_user_inside_the_destination_on_the_way_to_a_carried_item_refuses(tmp_path) -> None:
    """The swap moves the live nested item (``data/local``) by name from inside the destination: a
    ``data`` of the WebSphere user there could be swapped for a link, so it refuses too."""
    from cnxbackup.actions.restore.operations import Carry, Container

    dest = tmp_path / "Connections"
    (dest / "data" / "local").mkdir(parents=True)
    os.chown(dest / "data", 54321, 54321)
    staged = stage("node2-cr", str(dest))
    swap = RestoreStep("file:node2-cr", "Put node2-cr in place", "file", archive=staged.archive, destination=str(dest),
                       operations=[Carry(str(dest), "data/local", Container(str(dest) + ".c", str(dest)))])
    assert problems(staged) == []  # the destination alone is root's
    [line] = problems(staged, swap)
    assert f"{dest}/data is owned by uid 54321" in line and "node2-cr" in line
