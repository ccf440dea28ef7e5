"""The attacks of issue 26 made by an unprivileged local user, not by root (the tests run as root):
what is planted is planted by a uid nobody here has (``tests/intruder.py``), in folders that user
owns as the WebSphere user owns its profile and data folders; root's code then must neither run
their code as root, nor write, delete or truncate anything outside through what they planted, nor
hang, and a refusal names the path. Each assertion looks at the root-owned target itself (its
bytes, owner and mode), so that "no exception" is never what passes."""

from __future__ import annotations

import argparse
import io
import json
import logging
import logging.handlers
import os
import re
import stat
import time
import types

import pytest

from intruder import UID, IntruderFailed, arena, as_intruder, give, intruder_loop, within

if os.geteuid() != 0:
    pytest.skip("acting as another user needs root (setuid in a forked child)", allow_module_level=True)

from cnxbackup import atomic  # noqa: E402 - after the skip: nothing to import for a non-root run
from cnxbackup.actions.cleanup_cmd import remove_leftovers  # noqa: E402
from cnxbackup.actions.list_cmd import run_list  # noqa: E402
from cnxbackup.actions.prune_cmd import run_prune  # noqa: E402
from cnxbackup.actions.restore.leftovers import find_leftovers  # noqa: E402
from cnxbackup.actions.sets.retention import decide, scan_sets  # noqa: E402
from cnxbackup.hosts import Host  # noqa: E402
from cnxbackup.log import get_logger  # noqa: E402
from cnxbackup.manifest import SIGNATURE_ALGORITHM, write_manifest_data  # noqa: E402
from cnxbackup.progress import Progress  # noqa: E402
from cnxbackup.render import render_template  # noqa: E402
from cnxbackup.shown import shell_word  # noqa: E402
from cnxbackup.signing import ensure_signing_key, fingerprint, public_key_of, sign  # noqa: E402
from cnxbackup.transport.local import LocalTransport  # noqa: E402
from cnxbackup.versions import ConnectionsVersion, detect_interim_fixes  # noqa: E402
from cnxbackup.was_processes import ProfileRefused, ProfileScripts, WasProcess  # noqa: E402
from format1kit import FIXTURE  # noqa: E402

pytestmark = pytest.mark.timeout(60)  # the last resort; each root-side call has its own `within`

SECRET = b"root's own, 0600\n"
HANG = 5.0  # seconds a root-side call may take before it counts as hanging


@pytest.fixture
def room():
    with arena() as path:
        yield path


def _facts(path: str) -> tuple:
    info = os.lstat(path)
    with open(path, "rb") as handle:
        return handle.read(), info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode), info.st_nlink


def _root_file(path: str, data: bytes = SECRET, mode: int = 0o600) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)
    return path


def test_the_intruder_is_really_unprivileged(room) -> None:
    """The kit itself: the child has the uid, no groups, and cannot read root's 0600 file."""
    secret = _root_file(os.path.join(room, "root", "secret"))

    def probe(path: str) -> tuple:
        try:
            open(path, "rb").close()
            readable = True
        except PermissionError:
            readable = False
        return os.getuid(), os.geteuid(), os.getgid(), os.getgroups(), readable

    assert as_intruder(probe, secret) == (UID, UID, UID, [], False)
    with pytest.raises(IntruderFailed, match="ZeroDivisionError"):
        as_intruder(lambda: 1 // 0)


# -- 1. the profile's owner: who runs serverStatus.sh -------------------------------------------

def _profile(room: str, canary: str) -> WasProcess:
    """A profile the intruder owns (folder, config, bin and a serverStatus.sh that says who ran it)."""
    profile = os.path.join(room, "profiles", "AppSrv01")
    os.makedirs(os.path.join(profile, "config"))
    os.mkdir(os.path.join(profile, "bin"))
    script = os.path.join(profile, "bin", "serverStatus.sh")
    with open(script, "w") as handle:
        handle.write(f"#!/bin/sh\nid -u >> {canary}\n")
    os.chmod(script, 0o755)
    give(profile, os.path.join(profile, "config"), os.path.join(profile, "bin"), script)
    return WasProcess("nodeagent", Host("local", "local"), profile)


def _scripts() -> ProfileScripts:
    ws = {"stop_timeout": 20, "start_timeout": 20, "user": None, "credentials": "none", "env": {},
          "host": "localhost", "port": 8879}
    env = types.SimpleNamespace(name="demo", section=lambda name: {"wsadmin": ws}[name])
    return ProfileScripts(env, LocalTransport())  # type: ignore[arg-type]


def _link_config_to(profile: str, folder: str) -> None:
    os.rename(os.path.join(profile, "config"), os.path.join(profile, "config.real"))
    os.symlink(folder, os.path.join(profile, "config"))


def test_a_config_the_intruder_links_to_a_root_folder_does_not_make_root_run_their_script(room) -> None:
    canary = os.path.join(room, "canary")
    open(canary, "w").close()
    os.chmod(canary, 0o666)  # whoever runs the script can say so
    process = _profile(room, canary)
    rootdir = os.path.join(room, "root-config")
    os.mkdir(rootdir)
    as_intruder(_link_config_to, process.profile, rootdir)
    config = os.path.join(process.profile, "config")
    assert os.lstat(config).st_uid == UID and os.path.islink(config)
    scripts = _scripts()
    with pytest.raises(ProfileRefused, match=re.escape(f"{config}: is a symlink")):
        within(HANG, scripts.status, process)
    assert open(canary).read() == ""  # serverStatus.sh did not run at all, so not as uid 0


def _swap_script(script: str, body: str) -> None:
    os.unlink(script)
    with open(script, "w") as handle:
        handle.write(body)
    os.chmod(script, 0o755)


def test_a_root_profile_whose_bin_the_intruder_can_write_does_not_run_their_script_as_root(room) -> None:
    """Root's profile (folder and config root's), but ``bin`` is the intruder's: they put their own
    serverStatus.sh there; root would run it as root (the profile's owner is root)."""
    canary = os.path.join(room, "canary")
    open(canary, "w").close()
    os.chmod(canary, 0o666)
    process = _profile(room, canary)
    os.chown(process.profile, 0, 0)
    os.chown(os.path.join(process.profile, "config"), 0, 0)
    script = os.path.join(process.profile, "bin", "serverStatus.sh")
    os.chown(script, 0, 0)
    as_intruder(_swap_script, script, f"#!/bin/sh\nid -u >> {canary}\n")
    assert os.lstat(script).st_uid == UID
    bin_folder = os.path.dirname(script)  # the first of profile, bin, script that is not root's
    with pytest.raises(ProfileRefused, match=re.escape(f"{bin_folder}: owned by uid {UID}") + ".*runs as root only when"):
        within(HANG, _scripts().status, process)
    assert open(canary).read() == ""


# -- 2. names planted where an atomic write goes ------------------------------------------------

def _plant(kind: str, at: str, root_secret: str, own: str) -> str:
    """As the intruder: a symlink to root's file, a hard link (to root's file when the kernel lets
    it, else to a file of their own: ``fs.protected_hardlinks``), or a FIFO at ``at``."""
    if kind == "symlink":
        os.symlink(root_secret, at)
        return root_secret
    if kind == "fifo":
        os.mkfifo(at, 0o666)
        return ""
    try:
        os.link(root_secret, at)
        return root_secret
    except PermissionError:
        with open(own, "wb") as handle:
            handle.write(b"the intruder's own file\n")
        os.chmod(own, 0o644)
        os.link(own, at)
        return own


@pytest.mark.parametrize("folder", ["sticky", "theirs"])
@pytest.mark.parametrize("kind", ["symlink", "hardlink", "fifo"])
@pytest.mark.parametrize("writer", ["file", "json"])
def test_a_name_the_intruder_plants_at_the_partial_is_never_written_through(room, folder, kind, writer) -> None:
    secret = _root_file(os.path.join(room, "root", "secret"))
    os.chmod(os.path.dirname(secret), 0o755)
    where = os.path.join(room, "shared")
    os.mkdir(where)
    if folder == "sticky":
        os.chmod(where, 0o1777)  # root's, /tmp-like
    else:
        give(where)  # the intruder's folder, where root writes a file (a textfile collector's, a share)
    final = os.path.join(where, "manifest.json")
    partial = atomic.partial_path(final)
    target = as_intruder(_plant, kind, partial, secret, os.path.join(where, "own"))
    before = _facts(target) if target else None
    secret_before = _facts(secret)
    write = (lambda: atomic.write_file_atomic(final, b"ours\n")) if writer == "file" else \
        (lambda: atomic.write_json_atomic(final, {"ours": True}))
    if kind == "fifo":
        with pytest.raises(FileExistsError) as raised:
            within(HANG, write)
        assert partial in str(raised.value) and "refused" in str(raised.value)
        assert stat.S_ISFIFO(os.lstat(partial).st_mode) and not os.path.lexists(final)
    else:
        within(HANG, write)
        assert not os.path.lexists(partial)
        info = os.lstat(final)
        assert stat.S_ISREG(info.st_mode) and info.st_uid == 0 and info.st_nlink == 1
        assert stat.S_IMODE(info.st_mode) == 0o600
        assert open(final, "rb").read() in (b"ours\n", b'{\n  "ours": true\n}\n')
        # the target kept its bytes, owner and mode; a hard link lost only the planted name
        assert _facts(target)[:4] == before[:4]  # type: ignore[index]
        assert _facts(target)[4] == before[4] - (kind == "hardlink")  # type: ignore[index]
    assert _facts(secret) == secret_before


def _replant(partial: str, secret: str) -> None:
    try:
        os.symlink(secret, partial)
    except FileExistsError:
        pass


def test_a_symlink_planted_again_and_again_at_the_partial_never_reaches_root_s_file(room) -> None:
    """The race: the intruder re-plants the link while root takes the name back and creates it."""
    secret = _root_file(os.path.join(room, "root", "secret"))
    where = os.path.join(room, "shared")
    os.mkdir(where)
    os.chmod(where, 0o1777)
    final = os.path.join(where, "verify-result.json")
    partial = atomic.partial_path(final)
    loop = intruder_loop(_replant, partial, secret)
    written = refused = 0
    try:
        for n in range(300):
            try:
                within(HANG, atomic.write_file_atomic, final, b"round %d\n" % n)
                written += 1
            except FileExistsError as error:
                assert partial in str(error)
                refused += 1
    finally:
        rounds = loop.stop()
    assert rounds > 0 and written + refused == 300
    assert _facts(secret) == (SECRET, 0, 0, 0o600, 1)
    if written:
        assert not os.path.islink(final) and open(final, "rb").read().startswith(b"round ")


# -- 3. cleanup through a source folder the intruder replaced by a link -------------------------

STAMP = "cnxbackup-replaced-20260101T000000"


def _cleanup_tree(room: str):
    """The intruder's profiles folder and profile (with a copy a restore moved aside inside) and
    root's tree elsewhere holding folders of the leftover names."""
    profiles = os.path.join(room, "profiles")
    source = os.path.join(profiles, "AppSrv01")
    os.makedirs(os.path.join(source, "config"))
    os.mkdir(os.path.join(source, STAMP))
    give(profiles, source, os.path.join(source, "config"), os.path.join(source, STAMP))
    victim = os.path.join(room, "victim")
    for name in (STAMP, "cnxrestore-new"):
        _root_file(os.path.join(victim, name, "precious"), b"root's\n", 0o644)
    item = types.SimpleNamespace(host="local", name="profile", source=source)
    return item, source, victim


def _victim_intact(victim: str) -> None:
    for name in (STAMP, "cnxrestore-new"):
        assert _facts(os.path.join(victim, name, "precious")) == (b"root's\n", 0, 0, 0o644, 1)


def _remove(found) -> tuple:
    entries = [{"removed": False} for _ in found]
    failed = remove_leftovers(found, entries, {}, LocalTransport(), Progress(io.StringIO(), plain=True))
    return failed, entries


def _swap_for_link(source: str, victim: str) -> None:
    os.rename(source, source + ".real")
    os.symlink(victim, source)


def test_cleanup_finds_and_removes_nothing_through_a_source_the_intruder_linked(room) -> None:
    item, source, victim = _cleanup_tree(room)
    as_intruder(_swap_for_link, source, victim)
    found = within(HANG, find_leftovers, [item], {}, LocalTransport())
    inside = [lo for lo in found if os.path.dirname(lo.path) == source]
    assert inside and all(lo.link for lo in inside)  # named, as links, never walked
    failed, entries = within(HANG, _remove, found)
    assert not any(e["removed"] for lo, e in zip(found, entries) if lo.link)
    _victim_intact(victim)


def _flip(source: str, victim: str) -> None:
    """One round: the real folder (with a fresh leftover inside) in place, then a link to root's tree."""
    os.makedirs(os.path.join(source, STAMP), exist_ok=True)
    time.sleep(0.002)  # each state lasts long enough for root's listing or removal to meet it
    os.rename(source, source + ".real")
    os.symlink(victim, source)
    time.sleep(0.002)
    os.unlink(source)
    os.rename(source + ".real", source)


def test_cleanup_racing_an_intruder_who_flips_the_source_to_a_link_removes_nothing_of_root_s(room) -> None:
    item, source, victim = _cleanup_tree(room)
    loop = intruder_loop(_flip, source, victim)
    try:
        for _ in range(40):
            found = within(HANG, find_leftovers, [item], {}, LocalTransport())
            within(HANG, _remove, found)
    finally:
        rounds = loop.stop()
    assert rounds > 0
    _victim_intact(victim)


# -- 4. FIFOs in a set on a share the intruder can write ----------------------------------------

def _env(target: str, state: str) -> types.SimpleNamespace:
    """The environment as list and prune read it; restores keep their journals in ``state`` (root's)."""
    known = {"target": {"dir": target, "restore_state": state},
             "signing": {"trusted_keys": os.path.join(target, "no-keys.pem")}}
    return types.SimpleNamespace(name="demo", data={}, lines={}, section=lambda name: known.get(name, {}))


def _fifo_set(target: str) -> None:
    set_dir = os.path.join(target, "demo-20260101T000000")
    restore = os.path.join(set_dir, "restore-20260102T000000")
    os.makedirs(restore)
    for path in ("verify-result.json", "manifest.json", "journal.json",
                 os.path.join("restore-20260102T000000", "journal.json")):
        os.mkfifo(os.path.join(set_dir, path), 0o666)


def test_fifos_the_intruder_puts_in_a_set_neither_hang_list_nor_prune_and_are_named(room) -> None:
    target = os.path.join(room, "backups")
    os.mkdir(target)
    give(target)
    as_intruder(_fifo_set, target)
    set_dir = os.path.join(target, "demo-20260101T000000")
    env = _env(target, os.path.join(room, "restore-state"))
    entries = within(HANG, scan_sets, env, os.path.join(target, "no-keys.pem"))
    assert [e.name for e in entries] == ["demo-20260101T000000"]
    entry = entries[0]
    assert entry.state == "untrusted" and os.path.join(set_dir, "manifest.json") in entry.trust_problem
    assert entry.verify is None
    assert entry.verify_problem == os.path.join(set_dir, "verify-result.json") + ": not a regular file"
    # a journal in the set is either named as an unfinished restore or, where restores keep their
    # journals outside the set (target.restore_state), not read at all: never anything else
    assert entry.restore_running in (None, os.path.join(set_dir, "restore-20260102T000000"))
    out = io.StringIO()
    within(HANG, run_list, argparse.Namespace(trusted_keys=None), env, Progress(out, plain=True))
    text = out.getvalue()
    assert os.path.join(set_dir, "manifest.json") in text and "never verified" not in text
    assert "verify record unreadable: " + os.path.join(set_dir, "verify-result.json") + ": not a regular file" in text
    if entry.restore_running:
        assert "an unfinished restore: " + entry.restore_running in text
    out = io.StringIO()
    args = argparse.Namespace(keep=1, keep_within=None, dry_run=False, trusted_keys=None)
    within(HANG, run_prune, args, env, Progress(out, plain=True))
    assert "keep   demo-20260101T000000 (untrusted)" in out.getvalue()
    for name in ("verify-result.json", "manifest.json", "journal.json"):
        assert stat.S_ISFIFO(os.lstat(os.path.join(set_dir, name)).st_mode)  # kept, never removed


def _hard_link(victim: str, at: str) -> bool:
    try:
        os.link(victim, at)
        return True
    except PermissionError:
        return False


def test_the_run_lock_is_not_taken_through_a_hard_link_the_intruder_plants_on_the_share(room) -> None:
    """prune, backup and restore lock ``<target>/.cnxbackup-<env>.lock`` on a share the intruder can
    write; a hard link planted there to root's file must not be written or truncated. With
    ``fs.protected_hardlinks=1`` the kernel refuses the intruder such a link to a root file they
    cannot write; the link is then made by root, as the kernel lets the intruder where it is 0."""
    from cnxbackup.errors import LockHeld
    from cnxbackup.lock import RunLock

    target = os.path.join(room, "backups")
    os.mkdir(target)
    give(target)
    victim = _root_file(os.path.join(room, "root", "shadow"))
    lock = os.path.join(target, ".cnxbackup-demo.lock")
    if not as_intruder(_hard_link, victim, lock):
        os.link(victim, lock)
    held = RunLock(target, "demo", "prune")
    try:
        with pytest.raises(LockHeld, match=re.escape(f"refused lock {lock}: 2 hard links to it") + ".*remove it"):
            within(HANG, held.acquire)
    finally:
        held.release()
    assert os.lstat(lock).st_nlink == 2  # refused, not removed: the operator looks at it
    assert _facts(victim)[:4] == (SECRET, 0, 0, 0o600)


def _plant_at_lock(kind: str, at: str, victim: str) -> None:
    if kind == "fifo":
        os.mkfifo(at, 0o666)
    elif kind == "symlink":
        os.symlink(victim, at)
    else:  # a file of their own, which root would lock and write its description into
        with open(at, "wb") as handle:
            handle.write(b"theirs\n")
        os.chmod(at, 0o666)


@pytest.mark.parametrize("kind", ["fifo", "symlink", "theirs"])
def test_a_fifo_a_symlink_or_a_file_the_intruder_plants_as_the_run_lock_is_refused_without_hanging(room, kind) -> None:
    from cnxbackup.errors import LockHeld
    from cnxbackup.lock import RunLock

    target = os.path.join(room, "backups")
    os.mkdir(target)
    give(target)
    victim = _root_file(os.path.join(room, "root", "shadow"))
    lock = os.path.join(target, ".cnxbackup-demo.lock")
    as_intruder(_plant_at_lock, kind, lock, victim)
    held = RunLock(target, "demo", "prune")
    try:
        with pytest.raises(LockHeld, match=re.escape(lock) + ".*a link, a FIFO or a file of another user is there"):
            within(HANG, held.acquire)
        assert within(HANG, held.holder) is None
    finally:
        held.release()
        if kind == "fifo":  # let a blocked open return
            try:
                os.close(os.open(lock, os.O_RDWR | os.O_NONBLOCK))
            except OSError:
                pass
    assert os.lstat(lock).st_uid == UID and _facts(victim)[:4] == (SECRET, 0, 0, 0o600)
    if kind == "theirs":
        assert open(lock, "rb").read() == b"theirs\n"


def test_a_fifo_the_intruder_plants_as_installed_xml_does_not_hang_root(room) -> None:
    im = os.path.join(room, "im")
    os.mkdir(im)
    give(im)  # Installation Manager's agent data in user mode: the WebSphere user's
    installed = os.path.join(im, "installed.xml")
    as_intruder(os.mkfifo, installed, 0o666)
    try:
        assert within(2.0, detect_interim_fixes, os.path.join(room, "Connections"), installed) == []
    finally:  # let a blocked open return, so that no thread is left waiting on the FIFO
        try:
            os.close(os.open(installed, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass


# -- 5. an older set renamed newer by the intruder before prune ---------------------------------

def test_prune_keeps_the_truly_newest_set_when_the_intruder_renames_an_older_one_newer(room) -> None:
    key, trusted = os.path.join(room, "key.pem"), os.path.join(room, "trusted-keys")
    ensure_signing_key(key, trusted)
    target = os.path.join(room, "backups")
    os.mkdir(target)
    with open(os.path.join(FIXTURE, "set", "manifest.json"), encoding="utf-8") as handle:
        base = json.load(handle)
    for run_id in ("demo-20260101T000000", "demo-20260201T000000", "demo-20260301T000000"):
        path = os.path.join(target, run_id)
        os.mkdir(path)
        data = {k: v for k, v in base.items() if k not in ("format", "manifestSha256")}
        data.update(runId=run_id, status="complete", databases=[],
                    signing={"keyFingerprint": fingerprint(public_key_of(key)), "algorithm": SIGNATURE_ALGORITHM})
        write_manifest_data(path, data, lambda text: sign(key, text))
    give(target)  # the share is the intruder's; the sets in it are root's
    as_intruder(os.rename, os.path.join(target, "demo-20260201T000000"), os.path.join(target, "demo-20991231T000000"))
    env = _env(target, os.path.join(room, "restore-state"))
    args = argparse.Namespace(keep=1, keep_within=None, dry_run=False, trusted_keys=trusted)
    out = io.StringIO()
    within(HANG, run_prune, args, env, Progress(out, plain=True))
    assert sorted(os.listdir(target)) == [".cnxbackup-demo.lock", "demo-20260301T000000", "demo-20991231T000000"]
    newest = os.path.join(target, "demo-20260301T000000", "manifest.json")
    assert os.path.isfile(newest) and os.lstat(newest).st_uid == 0
    assert re.search(r"keep +demo-20991231T000000 \(misnamed\)", out.getvalue())
    decisions = {d.entry.name: d.keep for d in decide(scan_sets(env, trusted), 1, None, 2e9)}
    assert decisions == {"demo-20260301T000000": True, "demo-20991231T000000": True}


# -- 6. an interim-fix name with a newline, a backtick and an ESC -------------------------------

EVIL = "LO1\n## 9. Injected\n```sh\nrm -rf `id` $(id)\n```\x1b]0;t\x07\x1b[2J"


# in installed.xml: no ESC (not a character XML 1.0 allows: the whole file would not parse), the
# newlines as character references (an attribute's raw newline is read as a space)
INSTALLED_XML = ('<installed><location path="x"><package id="com.ibm.connections" version="8.0"/>'
                 '<fix id="LO2&#10;## 9. Injected&#10;```sh&#10;rm -rf `id`&#10;```" offering="com.ibm.connections"/>'
                 '<fix id="LO777" offering="com.ibm.connections"/></location></installed>')


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:  # closed here: the child ends with os._exit, which flushes nothing
        handle.write(text)


def _plant_fixes(root: str) -> None:
    version = os.path.join(root, "version")
    os.makedirs(os.path.join(version, "efixes", EVIL))
    for name in ("LO12345.efix", EVIL + ".efix"):
        open(os.path.join(version, name), "w").close()


def _runbook(fixes: list) -> str:
    exact = ConnectionsVersion(raw="8.0.0.0_CR14", interim_fixes=fixes).exact
    m = {"environment": "demo", "runId": "r1", "was": {"version": "9.0.5.14"},
         "connections": {"version": "8.0 CR14", "release": "8.0", "exact": exact}}
    steps = [types.SimpleNamespace(title=f"Check the release (backup taken on {exact})", skip_reason=None,
                                   note=f"provision/ was backed up on {exact}",
                                   commands=[f"grep -F -- {shell_word(f)} installed.xml" for f in fixes])]
    return render_template("report/RESTORE.md.j2", m=m, set_dir="/backups/demo-20260101T000000", steps=steps,
                           env_name="demo", cp_steps=[])


def test_an_interim_fix_name_the_intruder_plants_reaches_neither_the_runbook_nor_the_console_raw(room) -> None:
    connections = os.path.join(room, "opt", "Connections")
    os.makedirs(connections)
    give(connections)
    as_intruder(_plant_fixes, connections)
    im = os.path.join(room, "im")
    os.mkdir(im)
    give(im)
    as_intruder(_write, os.path.join(im, "installed.xml"), INSTALLED_XML)
    heard = logging.handlers.BufferingHandler(100)
    get_logger().addHandler(heard)
    console = io.StringIO()
    try:
        found = within(HANG, detect_interim_fixes, connections, os.path.join(im, "installed.xml"))
        Progress(console, plain=True).message(f"interim fixes: {', '.join(found)}; planted: {EVIL}")
    finally:
        get_logger().removeHandler(heard)
    assert found == ["LO12345", "LO777"]  # the planted name is left out, the genuine ones kept
    said = [record.getMessage() for record in heard.buffer]
    assert said and all("\x1b" not in s and "\x07" not in s and "\n" not in s for s in said)
    assert any("is not an interim fix's name" in s and "\\x1b" in s for s in said)
    shown = console.getvalue()
    assert "\x1b" not in shown and "\x07" not in shown and "\\x1b]0;t\\x07" in shown
    text, benign = _runbook(found), _runbook(["LO12345", "LO777"][:len(found)])
    headings = [line for line in text.split("\n") if line.startswith("#")]
    assert len(headings) == len([line for line in benign.split("\n") if line.startswith("#")])
    assert not any("Injected" in line for line in headings)
    fences = [line for line in text.split("\n") if line.lstrip().startswith(("```", "~~~"))]
    assert fences == [line for line in benign.split("\n") if line.lstrip().startswith(("```", "~~~"))]
    assert "\x1b" not in text and "`id`" not in text
    assert any("is not an interim fix's name" in s and "\\x0a## 9. Injected" in s for s in said)  # installed.xml's too
