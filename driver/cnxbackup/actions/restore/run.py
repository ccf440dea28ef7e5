"""``cnxbackup restore SET --env ENV``: bring a deployment back to a backup set, safely.

Nothing in the set is trusted beyond what its signature proves (``trust.open_set``), and
nothing live changes until everything has been checked:
1. the signature, then the version guard (HCL's rules) and the destinations, which come from
   the environment (``destinations``), never from the set;
2. before the lock: every archive, copied file, database image and the role mappings file is
   present, of its size (and the images and role file of their SHA-256), and each
   destination filesystem has room for the staged copies (``restore_checks``);
3. staging, with the servers still running: each archive is read once -- hashed, its members
   checked by the gate, extracted into a staging folder beside its destination, flushed --
   and each copied file is copied beside its destination; any failure removes every staging
   folder, and nothing was stopped or changed;
4. only then: stop the servers, swap the staged trees in (what is replaced is moved aside and
   kept), restore the databases with the native tools, re-import the role mappings (from a
   private copy checked against the manifest), and start the servers or print the next steps.
The steps are those of ``restore_plan.restore_steps`` -- the same that RESTORE.md and
``--dry-run`` show.

Journal (``<target.restore_state>/<set>/restore-<stamp>/journal.json``, a folder only root can
change, never inside the set): the stamp, the options, the signature, per step its status,
every container with its identity and every move with its intent and result (``moves``).
``--resume`` checks the signature again and finishes each step from those records, by
identity (the swap protocol: docs/DESIGN.md, "The swap").
"""
from __future__ import annotations

import argparse
import os
import re
import stat
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from ...archive import ArchiveError
from ...atomic import write_file_atomic
from ...config import Environment
from ...databases import restore_database
from ...dirfd import UnsafePath, chase, make_private_at, remove_tree_at
from ...errors import EXIT_FAILED, EXIT_OK, EXIT_WARNINGS, CnxBackupError, ConfigError, Interrupted, StepFailed
from ...hosts import LOCAL, Host, hosts_of
from ...invocation import command_line
from ...journal import Journal
from ...lock import RunLock
from ...log import add_log_file, get_logger, remove_handler
from ...manifest import Manifest
from ...outcome import CommandOutcome
from ...paths import RESTORE_STAMP, set_wsadmin_dir
from ...plan import RESTORE_EXACT, detect_versions
from ...progress import Progress
from ...stopped import note_result, start_selection
from ...transport import HostUnreachable, Transport, make_transport
from ...versions import ConnectionsVersion, restore_decision
from ...was_processes import STOPPED, ProcessError, ProfileScripts, deployment_processes, missing_scripts
from ...wsadmin_session import WsadminError, WsadminSession, new_session, start_servers_command
from ..sets.identity import ALLOW_OTHER, check_identity
from ..sets.naming import RESTORE_DIR_PREFIX, new_restore_stamp, restores_folder, unfinished_restores
from ..sets.trust import OpenedSet, read_checked
from . import component_pack as cp_restore
from .checks import archive_problems, database_problems, roles_problems, space_problems
from .confirm import confirm, impact
from .destinations import parse_only, resolve
from .interrupted import interrupted_message
from .moves import Moves, open_container
from .operations import Carry, LocalRun, MoveIntoPlace, RemoteRun
from .plan import PRINTED_ONLY, PROCESS_STEPS, RestoreStep, restore_steps, skipped_in_run
from .records import FileStepRecord, StepLog
from .remote_trees import remote_tree_problems


class RestoreRefused(CnxBackupError):
    """The restore may not start; nothing was stopped or changed."""


def _refused(*problems: str) -> RestoreRefused:
    """One line for one problem, a line per problem for several."""
    if len(problems) == 1:
        return RestoreRefused(f"restore refused, nothing was stopped or changed: {problems[0]}")
    return RestoreRefused("restore refused, nothing was stopped or changed:\n  - " + "\n  - ".join(problems))


# --------------------------------------------------------------------------- planning


STAMP = re.compile(RESTORE_STAMP)


def _check_written_by_us(path: str) -> None:
    """The restore journal is believed only when it, and its folder, were written by the user running
    this restore and nobody else can change them (a state root set to a shared folder, edited)."""
    for target in (path, os.path.join(path, "journal.json")):
        info = os.lstat(target)
        if stat.S_ISLNK(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
            raise RestoreRefused(f"{target}: not written by this user, or writable by others; the interrupted "
                                 "restore's journal is not trusted: start the restore afresh (without --resume)")


def _unfinished_restore(env: Environment, set_dir: str) -> Journal:
    """The newest unfinished restore of the set; one whose journal cannot be read is not skipped for
    an older one (it may hold the moved-aside copies): the resume is refused, naming it."""
    found = unfinished_restores(env, set_dir)
    if not found:
        raise CnxBackupError(f"{set_dir}: no unfinished restore to resume")
    path, journal = found[0]
    if journal is None:
        raise RestoreRefused(f"{path}: the interrupted restore's journal cannot be read; its moved-aside copies "
                             "are kept: look at them, then start the restore afresh (without --resume)")
    _check_written_by_us(path)
    return journal


def _recorded_options(journal: Journal) -> Tuple[str, Dict[str, Any]]:
    """The stamp and options of the interrupted restore, each checked for its type."""
    data = journal.data
    stamp, only, root, force = data.get("stamp"), data.get("only"), data.get("target_root"), data.get("force_provision")
    if (not isinstance(stamp, str) or not STAMP.fullmatch(stamp)
            or not (only is None or (isinstance(only, list) and all(isinstance(v, str) for v in only)))
            or not (root is None or (isinstance(root, str) and os.path.isabs(root)))
            or not isinstance(force, bool)):
        raise RestoreRefused(f"{journal.path}: the interrupted restore's options are not ones cnxbackup wrote")
    return stamp, {"only": only, "target_root": root, "force_provision": force}


def _check_only(manifest: Manifest, only: Optional[List[str]]) -> None:
    """Every ``--only`` name must be an item of the set, 'databases' or 'roles'."""
    if not only:
        return
    known = set(manifest.item_names) | {"databases", "roles"} | ({"component-pack"} if manifest.component_pack else set())
    unknown = sorted(set(only) - known)
    if unknown:
        raise ConfigError(f"--only: unknown item(s) {', '.join(unknown)}; this set has: {', '.join(sorted(known))}")


IM_ITEMS = ("im-data", "im-install", "im-shared")  # Installation Manager's folders (HCL step 7)


def _is_installation_manager(name: str) -> bool:
    """An item that holds Installation Manager's own folders (``im-data``, ``node1-im-data``, ...)."""
    return any(name == item or name.endswith("-" + item) for item in IM_ITEMS)


def plan_restore(set_dir: str, opened: OpenedSet, env: Environment, options: Dict[str, Any],
                 stamp: str, progress: Optional[Progress] = None) -> Tuple[ConnectionsVersion, List[RestoreStep]]:
    """The deployment's version and the steps; raises RestoreRefused when the guard or a
    destination says no (one line per problem)."""
    manifest = opened.manifest
    names, overrides = parse_only(options["only"])
    if manifest.status == "partial" and not names:
        raise RestoreRefused(f"{set_dir} is a partial backup ({'; '.join(manifest.failures)}); "
                             "finish it with backup --resume, or restore chosen items with --only")
    _check_only(manifest, names)
    names, component_pack = cp_restore.restore_names(names, manifest)
    held_back = [] if component_pack or names else cp_restore.folder_items(manifest)  # restored on their own
    optional = cp_restore.optional_note(manifest)
    if not component_pack and progress is not None and optional:
        progress.note(optional)
    for note in cp_restore.cross_part_notes(manifest, not names or "databases" in names, component_pack):
        if progress is not None:
            progress.note(note)
        else:
            get_logger().warning("%s", note)
    current, _ = detect_versions(env)
    allowed, _, reason = restore_decision(ConnectionsVersion.from_dict(manifest.connections), current)
    im_only = bool(names) and all(_is_installation_manager(name) for name in names)
    if not allowed and not im_only:  # the version guard first: no other answer matters then
        im_items = [name for name in manifest.item_names if _is_installation_manager(name)]
        hint = (f"; if a failed upgrade already moved Installation Manager to the new release, put its folders "
                f"back first: {command_line('restore', set_dir, '--env', env.argument, '--only', *im_items)} , then run "
                "this restore again (README: Rolling back a failed upgrade)") if im_items else ""
        raise _refused(reason + hint)
    if not allowed:
        get_logger().warning("version guard not applied: only the Installation Manager folders are restored (%s), "
                             "which is how a failed upgrade is rolled back: %s", ", ".join(names), reason)
    where = resolve(manifest, env, names, overrides, options["target_root"], unsealed=not opened.signed,
                    exclude=held_back)
    if where.problems:
        raise _refused(*where.problems)
    steps = restore_steps(manifest, set_dir, env, only=names, target_root=options["target_root"],
                          current=current, force_provision=options["force_provision"], stamp=stamp,
                          destinations=where.by_item, version_guard=allowed or not im_only,
                          component_pack=component_pack, exclude=held_back)
    if steps[0].skip_reason:
        raise _refused(str(steps[0].skip_reason))
    return current, steps


def _process_problems(env: Environment, transport: Transport) -> List[str]:
    """The Dmgr's and every node agent's profile scripts are there, before anything stops (a restore
    that stopped the servers and then could not stop a node agent would leave the cell half down)."""
    dmgr, agents = deployment_processes(env)
    problems = []
    for process in ([dmgr] if dmgr else []) + agents:
        try:
            missing = missing_scripts(process, transport)
        except HostUnreachable as error:
            problems.append(f"{process.label}: {error}")
            continue
        if missing:
            problems.append(f"{process.label}: {', '.join(missing)} missing or not executable (is "
                            f"{process.profile} the profile of this environment?)")
    return problems


def check_before_staging(opened: OpenedSet, steps: List[RestoreStep], env: Environment, transport: Transport,
                         progress: Progress, processes: bool = True) -> None:
    """Everything that can be checked without reading whole archives; RestoreRefused listing all.
    ``processes``: the restore stops and starts the Dmgr and the node agents (not under --target-root)."""
    problems = (archive_problems(opened.set_dir, steps)
                + database_problems(opened.manifest, opened.set_dir, steps, env, transport)
                + roles_problems(opened.manifest, opened.set_dir, steps)
                + remote_tree_problems(steps, env, transport)
                + (_process_problems(env, transport) if processes and any(
                    s.kind in PROCESS_STEPS and not s.skip_reason for s in steps) else [])
                + (cp_restore.problems(opened.manifest, env, transport, opened.set_dir)
                   if any(s.kind in cp_restore.KINDS for s in steps) else []))
    space, notes = space_problems(steps, env.section("target")["free_space_margin"], env, transport)
    problems += space
    for note in notes:
        progress.note(note)
    if problems:
        raise _refused(*problems)
    progress.message("[check] the set's files, database images and the room for staging are checked")


def format_steps(steps: List[RestoreStep]) -> str:
    out = []
    for index, step in enumerate(steps, 1):
        out.append(f"{index}. {step.title}" + (f"  [SKIPPED: {step.skip_reason}]" if step.skip_reason else ""))
        if step.note:
            out.append(f"   ({step.note})")
        out.extend(f"     {command}" for command in step.commands)
    return "\n".join(out)


# --------------------------------------------------------------------------- running


def restore_opened(args: argparse.Namespace, env: Environment, progress: Progress, set_dir: str,
                    opened: OpenedSet) -> int:
    manifest = opened.manifest
    if not opened.signed:
        progress.warning(f"--trust-unsealed: {opened.unsealed_reason}; the set's content is trusted as it "
                         "is (setuid/setgid files, FIFOs and devices are refused). This is recorded in the restore journal.")
    identity = check_identity(env, set_dir, manifest.environment, manifest.cell)
    for note in identity.notes:
        progress.note(note)
    if identity.problems and not args.allow_other_environment:
        raise _refused(*(identity.problems + [f"{ALLOW_OTHER} overrides this"]))
    for problem in identity.problems:
        progress.warning(f"{ALLOW_OTHER}: {problem}; this is recorded in the restore journal")
    options, stamp, journal = _restore_options(args, env, set_dir, progress)
    progress.outcome.set_dir = set_dir
    current, steps = plan_restore(set_dir, opened, env, options, stamp, progress)
    backup_version = ConnectionsVersion.from_dict(manifest.connections)
    provision_steps = [s for s in steps if s.archive is not None and s.archive.restore_rule == RESTORE_EXACT]
    forced = [s for s in provision_steps if s.note and not s.skip_reason]
    for step in provision_steps:
        if step.skip_reason:
            progress.note(f"{step.label}: {step.skip_reason}")
    if forced:
        progress.message("!" * 72)
        progress.warning("--force-provision: provision/ WILL be restored although HCL allows it only onto the exact "
                         f"version it was backed up on ({backup_version.exact}); the deployment is {current.exact}. "
                         "This is recorded in the restore journal.")
        progress.message("!" * 72)
    elif options["force_provision"]:
        progress.note("--force-provision has no effect: the versions match or provision/ is not selected")
    if args.dry_run:
        progress.message(f"Dry run: restore of {set_dir} onto {env.name} would do (nothing was changed):\n"
                         + format_steps(steps))
        describe_steps(progress.outcome, steps, None, dry_run=True)
        return EXIT_OK
    transport = make_transport(env)  # one for the checks, the staging and the steps: one ssh master per host
    handler = None
    lock = RunLock(env.section("target")["dir"], env.name, f"restore-{stamp}")
    try:
        check_before_staging(opened, steps, env, transport, progress, processes=not options["target_root"])
        finished = StepLog(journal).is_finished if journal is not None else (lambda step: False)
        confirmed = confirm(impact(steps, env, side_restore=bool(options["target_root"]), start=bool(args.start),
                                   print_db_commands=bool(args.print_db_commands), finished=finished),
                            env, set_dir, yes=bool(args.yes), resume=journal is not None, say=progress.message)
        lock.acquire()
        if journal is None:
            journal = _new_restore_journal(set_dir, env, stamp, opened, backup_version, current, forced,
                                           identity.problems, options)
            journal.put("newPlaces", _new_places(steps, env) if options["target_root"] else [])
        progress.message(f"[journal] {journal.path}")
        handler = add_log_file(os.path.join(journal.set_dir, "restore.log"))
        _stage(steps, opened, env, transport, journal, progress)
        log = get_logger()
        log.info("restore of %s onto %s (%s): set signed by %s; version: backup %s, deployment %s (allowed); "
                 "options %s", set_dir, env.name, env.file, opened.signed_by or f"nobody ({opened.unsealed_reason})",
                 backup_version.exact, current.exact, options)
        log.info("%s", confirmed)
        for problem in identity.problems:
            log.warning("identity overridden (--allow-other-environment): %s", problem)
        for note in identity.notes:
            log.info("identity: %s", note)
        if forced:
            get_logger().warning("--force-provision: provision/ restored onto %s (backed up on %s)",
                                 current.exact, backup_version.exact)
        journal.data["status"] = "running"
        journal.save()
        return _execute(args, env, opened, steps, journal, transport, progress, options)
    finally:
        lock.release()
        transport.close()
        if handler is not None:
            remove_handler(handler)
        describe_steps(progress.outcome, steps, journal)


def _restore_options(args: argparse.Namespace, env: Environment, set_dir: str,
                     progress: Progress) -> Tuple[Dict[str, Any], str, Optional[Journal]]:
    """The options, the stamp and, with ``--resume``, the journal of the interrupted restore,
    whose recorded options are the ones used (a resume must finish the same restore)."""
    options = {"only": args.only, "target_root": os.path.abspath(args.target_root) if args.target_root else None,
               "force_provision": bool(args.force_provision)}
    if not args.resume:
        return options, new_restore_stamp(), None
    journal = _unfinished_restore(env, set_dir)
    stamp, recorded = _recorded_options(journal)
    if any(args_value and recorded[k] != args_value for k, args_value in options.items()):
        progress.note(f"--resume continues with the options of the interrupted restore: {recorded}")
    return recorded, stamp, journal


def _new_places(steps: List[RestoreStep], env: Environment) -> List[str]:
    """The destinations of a restore under ``--target-root`` that do not exist before it starts:
    whatever is moved aside there later is this restore's own making (the folders its nested items'
    staging made, an outer item's copy of a file restored on its own), not something replaced."""
    hosts = hosts_of(env)
    return [step.destination for step in steps if step.kind == "file" and step.destination and step.archive
            and _is_local(hosts, step.archive.host) and not os.path.lexists(step.destination)]


def _is_local(hosts: Dict[str, Host], name: str) -> bool:
    host = hosts.get(name)
    return host is None or host.is_local


def _new_restore_journal(set_dir: str, env: Environment, stamp: str, opened: OpenedSet,
                         backup_version: ConnectionsVersion, current: ConnectionsVersion, forced: List[RestoreStep],
                         other_environment: List[str], options: Dict[str, Any]) -> Journal:
    """The journal of a new restore, in ``<state root>/<set>/restore-<stamp>/`` (made 0700, the name
    new), with what it trusted and overrode."""
    restore_dir = os.path.join(restores_folder(env, set_dir), RESTORE_DIR_PREFIX + stamp)
    try:
        make_private_at(restore_dir)
    except (OSError, UnsafePath) as error:
        raise _refused(f"the restore's journal folder {restore_dir}: {error} (target.restore_state)") from None
    return Journal.create(restore_dir, set=set_dir, environment=env.name, stamp=stamp,
                          signedBy=opened.signed_by, trustUnsealed=opened.unsealed_reason,
                          backupVersion=backup_version.exact, deploymentVersion=current.exact,
                          forcedProvision=bool(forced),
                          forcedProvisionReason=forced[0].note if forced else None,
                          otherEnvironment=other_environment or None, **options)


def describe_steps(outcome: CommandOutcome, steps: List[RestoreStep], journal: Optional[Journal], dry_run: bool = False) -> None:
    """The restore's steps for --json: files as items, databases as databases, every step in details."""
    entries: List[Dict[str, Any]] = []
    for step in steps:
        record = StepLog(journal).record(step) if journal is not None else None
        entry = {"status": record.status if record is not None and record.status != "pending" else None,
                 "error": record.error if record is not None else None}
        status = entry.get("status") or ("skipped" if step.skip_reason else ("planned" if dry_run else "pending"))
        entries.append({"name": step.label, "kind": step.kind, "host": None, "source": step.destination, "status": status,
                        "bytes": step.archive.unpacked_bytes if step.archive is not None else None, "files": None,
                        "seconds": None, "error": entry.get("error") or step.skip_reason, "warnings": [],
                        "id": step.step_id, "title": step.title})
    outcome.items = [e for e in entries if e["kind"] == "file"]
    outcome.databases = [e for e in entries if e["kind"] == "db"]
    outcome.details["steps"] = [{"id": e["id"], "title": e["title"], "kind": e["kind"], "status": e["status"],
                                 "error": e["error"]} for e in entries]
    outcome.details["dryRun"] = dry_run
    if journal is not None:
        outcome.details["restoreJournal"] = journal.path


def _runs(step: RestoreStep, opened: OpenedSet, hosts: Dict[str, Host], transport: Transport, progress: Progress,
          cancel: threading.Event, journal: Journal) -> Tuple[LocalRun, Optional[RemoteRun]]:
    """How the operations of a file step run: here, or on the item's host."""
    item = step.archive
    assert item is not None
    host = hosts.get(item.host)
    members = item.files if item.is_archive else None
    cipher = opened.cipher if item.encrypted else None
    remote = (RemoteRun(transport, host, item.sha256, set_dir=opened.set_dir, expected_members=members,
                        allow_special=opened.signed, cancel=cancel, cipher=cipher)
              if host is not None and not host.is_local and item.host != LOCAL else None)
    local = LocalRun(progress, cancel, item.name, item.sha256, set_dir=opened.set_dir, expected_members=members,
                     allow_special=opened.signed, total_bytes=item.size, cipher=cipher, moves=Moves(journal))
    return local, remote


def _discard_staging(steps: List[RestoreStep], opened: OpenedSet, hosts: Dict[str, Host], transport: Transport,
                     progress: Progress, cancel: threading.Event, journal: Journal) -> None:
    """A restore refused before the stop leaves no staging behind (a full disk stays not full):
    each container this restore made, found by its recorded identity, is removed."""
    for step in steps:
        if step.kind != "stage" or step.archive is None:
            continue
        local, remote = _runs(step, opened, hosts, transport, progress, cancel, journal)
        for op in step.operations:
            try:
                if remote is not None:
                    op.discard_remote(remote)
                else:
                    op.discard_local(local)
            except (CnxBackupError, OSError) as error:
                progress.warning(f"could not remove the staging of {step.label}: {error}")


def _stage(steps: List[RestoreStep], opened: OpenedSet, env: Environment, transport: Transport,
           journal: Journal, progress: Progress) -> None:
    """Stage every item not staged yet, servers still running: one gated read per archive.

    A staged item (its stage step done) is inside a container only root can enter, found again
    by its recorded identity: a resume does not stage it again. Any failure before the swap
    removes every container this restore made and raises RestoreRefused (the journal says
    ``refused``): nothing was stopped or changed.
    """
    hosts = hosts_of(env)
    cancel = threading.Event()
    todo = [step for step in steps if step.kind == "stage" and not step.skip_reason and step.archive is not None
            and not StepLog(journal).is_finished(step)]
    archives = [level for step in todo if step.archive is not None and step.archive.is_archive
                for level in step.archive.levels()]  # one progress task each (a copied file shows a line)
    progress.start_overall("staging", sum(level.size for level in archives), len(archives))
    try:
        for step in todo:
            local_run, remote_run = _runs(step, opened, hosts, transport, progress, cancel, journal)
            StepLog(journal).begin(step)
            for op in step.operations:
                if remote_run is not None:
                    op.run_remote(remote_run)
                else:
                    op.run_local(local_run)
            StepLog(journal).done(step)
            if remote_run is not None or not (step.archive and step.archive.is_archive):
                progress.message(f"[{step.label}] staged" + (f" on {remote_run.host.name}" if remote_run else ""))
        if not StepLog(journal).started_past_staging(steps):
            # before the stop only: once a swap began, a nested item's container may sit inside its
            # parent's staged tree until that parent moves in (the moves find it by identity then)
            _check_carries(steps, hosts, opened, transport, progress, journal)
    except (CnxBackupError, ArchiveError, OSError) as error:
        if StepLog(journal).started_past_staging(steps):
            raise StepFailed(f"staging: {error}") from None
        _give_up_staging(steps, opened, hosts, transport, progress, cancel, journal)
        raise _refused(f"{error} (the staging folders were removed)") from None
    except BaseException:
        if not StepLog(journal).started_past_staging(steps):
            _give_up_staging(steps, opened, hosts, transport, progress, cancel, journal)
        raise


def _give_up_staging(steps: List[RestoreStep], opened: OpenedSet, hosts: Dict[str, Host], transport: Transport,
                     progress: Progress, cancel: threading.Event, journal: Journal) -> None:
    """Nothing stopped, nothing live changed: the journal says ``discarding`` first (a restore that
    is never resumed: its half-removed staging must not be taken for staged), then the containers
    go, then ``refused``. Interrupted in between, what is left are leftovers ``cleanup`` removes."""
    journal.put("status", "discarding")
    _discard_staging(steps, opened, hosts, transport, progress, cancel, journal)
    journal.put("status", "refused")


@dataclass
class Runtime:
    """What the steps of one restore share while they run."""

    args: argparse.Namespace
    env: Environment
    opened: OpenedSet
    journal: Journal
    transport: Transport
    progress: Progress
    side_restore: bool
    cancel: threading.Event = field(default_factory=threading.Event)
    warnings: List[str] = field(default_factory=list)
    replaced: List[str] = field(default_factory=list)
    session: Optional[WsadminSession] = None
    _scripts: Optional[ProfileScripts] = None

    @property
    def steps(self) -> StepLog:
        return StepLog(self.journal)

    @property
    def scripts(self) -> ProfileScripts:
        """Made on first use (it reads the WAS password), then shared."""
        if self._scripts is None:
            self._scripts = ProfileScripts(self.env, self.transport)
        return self._scripts

    def close_session(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None


def _why_not_run(rt: Runtime, step: RestoreStep) -> Optional[str]:
    """Why a step is skipped in this run (recorded as SKIPPED), or None to run it."""
    why = skipped_in_run(step, side_restore=rt.side_restore, start=bool(rt.args.start),
                         print_db_commands=bool(rt.args.print_db_commands))
    if why == PRINTED_ONLY:
        rt.progress.message(f"[{step.step_id}] run by hand:\n    " + "\n    ".join(step.commands))
    return why


def _run_file_step(rt: Runtime, step: RestoreStep) -> None:
    """Put one staged item in place: its swap operations, each resumable from the journal's records."""
    local_run, remote_run = _runs(step, rt.opened, hosts_of(rt.env), rt.transport, rt.progress, rt.cancel, rt.journal)
    record = rt.steps.record(step)
    ops_done = record.ops_done if remote_run is not None and isinstance(record, FileStepRecord) else 0
    for index in range(ops_done, len(step.operations)):
        if remote_run is not None:
            step.operations[index].run_remote(remote_run)
        else:
            step.operations[index].run_local(local_run)
        rt.steps.begin(step, ops_done=index + 1)
    kept = [op.kept_aside(local_run.moves if remote_run is None else None) for op in step.operations]
    moved = [path for path in kept if path is not None]
    if step.destination in (rt.journal.data.get("newPlaces") or []):
        for path in moved:  # nothing was there before this restore: what it moved aside is its own
            _discard_replaced(path, rt.journal)
        moved = []
    if not moved and remote_run is None:  # nothing was there: the empty container is not left behind
        for container in {op.container.path for op in step.operations if isinstance(op, MoveIntoPlace)}:
            _empty_container(container, None, rt.journal)
    rt.replaced.extend(p for p in moved if p not in rt.replaced)
    rt.journal.put("replaced", rt.replaced)
    rt.steps.done(step, replaced=moved, forced=bool(step.note) or None)
    get_logger().info("%s: %s restored to %s; moved aside: %s", step.step_id, step.label, step.destination,
                      ", ".join(moved) or "nothing")


def _run_wsadmin(rt: Runtime, step: RestoreStep) -> None:
    if step.kind == "stop" and rt.session is None and _dmgr_stopped(rt.env, rt.scripts):
        # a resumed restore whose first run stopped the Dmgr: the servers were stopped before it
        rt.progress.message(f"[{step.step_id}] the Dmgr is already stopped (by the interrupted run): the "
                            "application servers were stopped before it")
        rt.steps.done(step)
        return
    rt.session = rt.session or _open_session(rt.env, rt.journal, rt.progress, after_restart=step.kind == "roles")
    _wsadmin_step(rt.session, step, rt.env, rt.journal, rt.opened, say=rt.progress.note)


def _run_process(rt: Runtime, step: RestoreStep) -> None:
    if step.kind == "stop-dmgr":
        rt.close_session()  # the session ends with the Dmgr; a new one after it starts again
    _process_step(rt.scripts, step, rt.env, rt.journal, rt.progress)


def _run_database(rt: Runtime, step: RestoreStep) -> None:
    assert step.database is not None
    restore_database(rt.opened.manifest.database_vendor, step.database, rt.env, get_logger(), transport=rt.transport,
                     spec_dir=rt.journal.set_dir)
    rt.steps.done(step)


def _run_component_pack(rt: Runtime, step: RestoreStep) -> None:
    line = cp_restore.run_step(step.kind, rt.opened.manifest, rt.opened.set_dir, rt.env, rt.transport, rt.journal,
                               get_logger(), cipher=rt.opened.cipher)
    rt.progress.message(f"[{step.step_id}] {line}")
    rt.steps.done(step)


def _done_before(rt: Runtime, step: RestoreStep) -> None:
    rt.steps.done(step)  # staged, or checked, before the servers stopped


STEP_RUNNERS: Dict[str, Callable[[Runtime, RestoreStep], None]] = {
    "stage": _done_before, "check": _done_before, "file": _run_file_step, "db": _run_database,
    "stop": _run_wsadmin, "roles": _run_wsadmin, "next": _run_wsadmin,
    **{kind: _run_process for kind in ("stop-agents", "stop-dmgr", "start-dmgr", "start-agents", "sync")},
    **{kind: _run_component_pack for kind in cp_restore.KINDS},
}


def _execute(args: argparse.Namespace, env: Environment, opened: OpenedSet, steps: List[RestoreStep],
             journal: Journal, transport: Transport, progress: Progress, options: Dict[str, Any]) -> int:
    """Run the steps after the guard, in order; each finished one (the journal, root's own, says so)
    is not run again, and the one that was running resumes from its records."""
    rt = Runtime(args, env, opened, journal, transport, progress, side_restore=bool(options["target_root"]),
                 replaced=list(journal.data.get("replaced", [])))
    try:
        for step in steps[1:]:
            if rt.steps.is_finished(step):
                if step.kind not in ("stage", "check"):
                    progress.message(f"[{step.step_id}] done by the interrupted run, skipped")
                continue
            why = _why_not_run(rt, step)
            if why is not None:
                rt.steps.skipped(step, why)
                if step.skip_reason:
                    progress.message(f"[{step.step_id}] SKIPPED: {step.skip_reason}")
                    if step.archive is not None and step.archive.restore_rule == RESTORE_EXACT:
                        rt.warnings.append(f"{step.archive.name}: {step.skip_reason}")
                continue
            rt.steps.begin(step)
            STEP_RUNNERS[step.kind](rt, step)
            if step.kind not in ("stage", "check"):
                progress.message(f"[{step.step_id}] done")
    except KeyboardInterrupt:
        journal.put("status", "interrupted")
        _scale_back(env, transport, journal, progress)
        raise Interrupted(interrupted_message(env, journal)) from None
    except (CnxBackupError, ArchiveError, OSError) as error:
        return _failed(rt, error)
    finally:
        rt.close_session()
    return _finish(rt, steps)


def _failed(rt: Runtime, error: BaseException) -> int:
    _scale_back(rt.env, rt.transport, rt.journal, rt.progress)
    rt.steps.fail_running(str(error))
    rt.journal.put("status", "failed")
    rt.progress.message(f"restore FAILED: {error}\nnothing moved aside was deleted; fix the cause, then "
                        f"run: {command_line('restore', str(rt.journal.data.get('set')), '--env', rt.env.argument, '--resume')}")
    get_logger().error("restore of %s FAILED, exit %d: %s", rt.journal.data.get("set"), EXIT_FAILED, error)
    return EXIT_FAILED


def _finish(rt: Runtime, steps: List[RestoreStep]) -> int:
    """What is replaced is kept (or removed with --discard-replaced); the next steps; the exit code."""
    if rt.args.discard_replaced:
        kept = []
        for path in rt.replaced:
            try:
                _discard_replaced(path, rt.journal)
            except (OSError, CnxBackupError) as error:
                kept.append(path)
                rt.warnings.append(f"--discard-replaced: {path} kept: {error}")
        rt.progress.message(f"deleted {len(rt.replaced) - len(kept)} replaced copies (--discard-replaced)")
    elif rt.replaced:
        rt.progress.message("what was replaced is kept beside it (delete it once the deployment is proven good):\n    "
                            + "\n    ".join(rt.replaced))
    rt.journal.put("status", "complete")
    if not rt.args.start and not rt.side_restore:
        rt.progress.message(f"next: the Dmgr and the node agents run, the application servers are stopped; start them "
                            f"with: {command_line('start', '--env', rt.env.argument)}\n    (or by hand: "
                            f"{start_servers_command(rt.env, set_wsadmin_dir(str(rt.journal.data.get('set'))))})")
    for warning in rt.warnings:
        rt.progress.warning(warning)
    code = EXIT_WARNINGS if rt.warnings else EXIT_OK
    rt.progress.message("restore complete" + (" with warnings" if rt.warnings else ""))
    get_logger().info("restore of %s complete, exit %d: %d steps, %d moved aside, %d warning(s)",
                      rt.journal.data.get("set"), code, len(steps), len(rt.replaced), len(rt.warnings))
    return code


def _discard_replaced(path: str, journal: Journal) -> None:
    """Remove a replaced copy (``<container>/replaced``), and its container when that is then empty."""
    _empty_container(*os.path.split(path), journal)


def _empty_container(container: str, name: Optional[str], journal: Journal) -> None:
    """Remove ``name`` from a container (None: nothing), then the container when it is empty:
    through the container's recorded identity, never through a name another user can change."""
    moves = Moves(journal)
    key = next((k for k in (journal.data.get("containers") or {}) if moves.container_path(k) == container), None)
    if key is None:
        return  # on another host, or not this restore's
    try:
        box = open_container(moves, container, key)
    except StepFailed:
        return
    try:
        if name is not None:
            remove_tree_at(box, name)
        empty = not os.listdir(box)
    except FileNotFoundError:
        empty = False
    finally:
        os.close(box)
    if empty:
        parent = chase(os.path.dirname(container))
        try:
            os.rmdir(os.path.basename(container), dir_fd=parent)
        finally:
            os.close(parent)
        moves.put_container(key, None)


def _scale_back(env: Environment, transport: Transport, journal: Journal, progress: Progress) -> None:
    """A failed or interrupted restore still scales the Component Pack's consumers back."""
    if not journal.data.get("cpScaled"):
        return
    try:
        progress.message(f"[cp-scale-up] {cp_restore.scale_back(env, transport, journal)} (the restore ended early)")
    except CnxBackupError as error:
        progress.warning(str(error))


def _private_roles_copy(opened: OpenedSet, journal: Journal) -> str:
    """The role mappings wsadmin re-imports: a copy in the restore's own folder, checked against the
    manifest, so that the file wsadmin reads is the one that was checked."""
    roles = opened.manifest.wsadmin.role_mappings
    name = roles.file if roles is not None else "wsadmin/role_mappings.json"
    record = next((f for f in opened.manifest.files if f.path == name), None)
    if record is None:
        raise StepFailed(f"roles: {name} is not among the set's recorded files")
    data = read_checked(opened, name, record.sha256, record.size)
    path = os.path.join(journal.set_dir, "role_mappings.json")
    write_file_atomic(path, data, mode=0o600)
    return path


def _check_carries(steps: List[RestoreStep], hosts: Dict[str, Host], opened: OpenedSet, transport: Transport,
                   progress: Progress, journal: Journal) -> None:
    """Before the stop: no staged tree offers a symlink where live data will be carried."""
    for step in steps:
        if step.kind != "file" or step.skip_reason or step.archive is None or StepLog(journal).is_finished(step):
            continue
        host = hosts.get(step.archive.host)
        if host is not None and not host.is_local:
            continue  # checked by the shell text on the host (test ! -h)
        local, _ = _runs(step, opened, hosts, transport, progress, threading.Event(), journal)
        for op in step.operations:
            if isinstance(op, Carry):
                op.check_staged(local)


def _open_session(env: Environment, journal: Journal, progress: Progress, after_restart: bool = False) -> WsadminSession:
    session = new_session(env, os.path.join(journal.set_dir, ".run"), os.path.basename(journal.set_dir))
    try:
        session.start()
    except WsadminError as error:
        if after_restart and "WASX7246E" in str(error):
            raise StepFailed("the Dmgr started from the restored profile refuses the configured administrative "
                             "credentials (WASX7246E): the restored profile has the credentials of the time of the "
                             "backup; set wsadmin.user and its password source to those, then run the restore again "
                             "with --resume") from None
        raise StepFailed(f"wsadmin: {error}") from None
    return session


def _dmgr_stopped(env: Environment, scripts: ProfileScripts) -> bool:
    dmgr, _ = deployment_processes(env)
    return dmgr is not None and scripts.status(dmgr) == STOPPED


def _process_step(scripts: ProfileScripts, step: RestoreStep, env: Environment, journal: Journal,
                  progress: Progress) -> None:
    """Stop or start the node agents or the Dmgr, or synchronize one node, through the profile scripts."""
    dmgr, agents = deployment_processes(env)
    if step.kind == "sync":
        node = next(p for p in agents if step.step_id == f"sync:{p.host.name}:{os.path.basename(p.profile)}")
        try:
            scripts.sync(node)
        except (ProcessError, HostUnreachable) as error:
            raise StepFailed(str(error)) from None
        progress.message(f"[{step.step_id}] {node.label} synchronized with the Dmgr")
        StepLog(journal).done(step)
        return
    verb, which = step.kind.split("-")
    processes = ([dmgr] if dmgr else []) if which == "dmgr" else agents
    outcome = scripts.each(processes, verb, progress.message)
    if outcome.failed:
        StepLog(journal).failed(step, result=outcome.as_result(verb))
    else:
        StepLog(journal).done(step, result=outcome.as_result(verb))
    if outcome.failed:
        raise StepFailed(f"could not {verb} {', '.join(outcome.failed)}")


def _wsadmin_step(session: WsadminSession, step: RestoreStep, env: Environment, journal: Journal,
                  opened: OpenedSet, say: Optional[Callable[[str], None]] = None) -> None:
    """One wsadmin step; the servers' stop and start keep the record ``cnxbackup start`` reads
    (``stopped``): the start starts only what the stops found running, and says so (``say``)."""
    ws = env.section("wsadmin")
    script = {"stop": "stop_servers", "roles": "import_role_mappings", "next": "start_servers"}[step.kind]
    out = os.path.join(journal.set_dir, f"{script}.json")
    if script == "import_role_mappings":
        argv = ["--in", _private_roles_copy(opened, journal), "--out", out]
        timeout = ws["step_timeout"]
    else:
        argv = ["--timeout", str(ws["stop_timeout"]), "--out", out]
        timeout = ws["step_timeout"] + ws["stop_timeout"]
        if script == "start_servers":
            selection = start_selection(env)
            argv += selection.arguments
            for note in selection.notes:
                (say or get_logger().info)(note)
    try:
        result = session.run_step(script, argv, timeout=timeout, result_file=out)
    except WsadminError as error:
        raise StepFailed(f"wsadmin {script}: {error}") from None
    if result.rc != 0:
        lines = [line for line in result.output.splitlines() if line.strip()]
        raise StepFailed(f"wsadmin {script} failed: {lines[-1] if lines else 'exit ' + str(result.rc)}")
    problem = note_result(env, script, result.result, f"the restore {journal.set_dir}")
    if problem is not None:
        get_logger().warning("the record of the stopped servers (for cnxbackup start): %s", problem)
    StepLog(journal).done(step, result=result.result)
