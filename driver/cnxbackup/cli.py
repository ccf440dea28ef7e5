"""``cnxbackup`` command line: plan, backup, verify, restore, cleanup.

Exit codes: 0 ok, 1 failed, 2 bad config or usage, 3 finished with warnings, 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List, NoReturn, Optional, Protocol

from . import __version__, signals
from .actions.backup_cmd import run_plan_or_backup
from .actions.cleanup_cmd import run_cleanup
from .actions.control_cmd import run_control
from .actions.init_cmd import run_init
from .actions.list_cmd import run_list
from .actions.prune_cmd import run_prune
from .actions.restore_cmd import run_restore
from .actions.verify_cmd import run_verify
from .config import Environment, load_environment
from .config.schema import reference_markdown
from .demo.prepare import prepare_demo
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CnxBackupError
from .log import get_logger, record_in_file, setup_console
from .outcome import CommandOutcome
from .progress import Progress
from .shown import printable
from .transport.remote_tool import run_remote_tool


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # usage errors exit 2 with one clear line
        self.print_usage(sys.stderr)
        sys.stderr.write(f"cnxbackup: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


REMOTE_TOOL = "_remote-tool"  # internal: a DB tool on a remote host (argv handled before argparse, never listed)


def _global_options(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", default=default, help="log details on the console too")
    parser.add_argument("--plain", action="store_true", default=default, help="plain progress lines even on a terminal")
    parser.add_argument("--json", action="store_true", default=default,
                        help="one JSON result document on stdout at the end (docs/result.schema.json); "
                             "progress and messages go to stderr")


class _AddCommand(Protocol):
    """Adds a subcommand (with the global options after it too) and returns its parser."""

    def __call__(self, name: str, help: str) -> argparse.ArgumentParser: ...


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog="cnxbackup", description="Back up, verify and restore an HCL Connections deployment.")
    parser.add_argument("--version", action="version", version=f"cnxbackup {__version__}")
    _global_options(parser, False)
    # the same options after the subcommand too; SUPPRESS keeps a value given before it
    common = _ArgumentParser(add_help=False)
    _global_options(common, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_ArgumentParser)
    sub.required = True

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, parents=[common])

    # in this order in --help
    _backup_commands(command)
    _verify_command(command)
    _restore_command(command)
    _housekeeping_commands(command)
    _init_command(command)
    _control_commands(command)
    command("config-reference", help="print the configuration reference (Markdown)")
    return parser


def _backup_commands(command: _AddCommand) -> None:
    """plan and backup."""
    plan = command("plan", help="preflight checks and the plan; changes nothing")
    plan.add_argument("--env", required=True, help="environment name (environments/NAME.yaml) or file")
    plan.add_argument("--allow-partial", action="store_true",
                      help="pass the gate although a host is unreachable (as backup --allow-partial would run)")

    backup = command("backup", help="back up the whole deployment")
    backup.add_argument("--env", required=True, help="environment name (environments/NAME.yaml) or file")
    backup.add_argument("--dry-run", action="store_true", help="check and show every command; change nothing")
    backup.add_argument("--resume", nargs="?", const="latest", metavar="SET",
                        help="continue the newest unfinished set (or SET) without redoing verified items")
    backup.add_argument("--allow-partial", action="store_true",
                        help="start although a host is unreachable: its items fail, the set ends partial (recorded)")
    backup.add_argument("--allow-other-environment", action="store_true",
                        help="resume a set of another environment or cell (recorded in the journal)")


def _verify_command(command: _AddCommand) -> None:
    verify = command("verify", help="check a backup set's manifest, archives and database images")
    verify.add_argument("set_dir", metavar="SET", help="the backup set folder (target.dir/ENV-YYYYmmddTHHMMSS)")
    verify.add_argument("--deep", action="store_true", help="also decompress and list every archive")
    verify.add_argument("--env", help="environment (its trusted keys, and the database verifiers' tool paths)")
    verify.add_argument("--trusted-keys", metavar="FILE",
                        help="public keys to trust (default: the environment's signing.trusted_keys, else "
                             "/etc/cnxbackup/trusted-keys)")
    verify.add_argument("--identity", metavar="FILE",
                        help="the secret key (gpg export) that decrypts an encrypted set, for --deep (default: $CNXBACKUP_IDENTITY)")
    verify.add_argument("--trust-unsealed", action="store_true",
                        help="accept a set that is unsigned or not signed by a trusted key (sets from before signing)")


def _restore_command(command: _AddCommand) -> None:
    restore = command("restore", help="restore a backup set")
    restore.add_argument("set_dir", metavar="SET", help="the backup set folder (target.dir/ENV-YYYYmmddTHHMMSS)")
    restore.add_argument("--env", required=True, help="environment to restore onto (environments/NAME.yaml) or file")
    restore.add_argument("--trusted-keys", metavar="FILE", help="public keys to trust (default: signing.trusted_keys)")
    restore.add_argument("--identity", metavar="FILE",
                         help="the secret key (gpg export) that decrypts an encrypted set (default: $CNXBACKUP_IDENTITY)")
    restore.add_argument("--trust-unsealed", action="store_true",
                         help="restore a set that is unsigned or not signed by a trusted key (recorded in the restore "
                              "journal; setuid/setgid files, FIFOs, devices and extended attributes are then always refused)")
    restore.add_argument("--only", nargs="+", metavar="ITEM",
                         help="only these items (archive names, 'databases', 'roles', 'component-pack')")
    restore.add_argument("--target-root", metavar="DIR", help="restore files under DIR instead of their original paths")
    restore.add_argument("--dry-run", action="store_true", help="print the steps; change nothing")
    restore.add_argument("--yes", action="store_true",
                         help="do not ask before stopping, replacing and restoring (for scripts; the summary is still "
                              "printed and logged)")
    restore.add_argument("--print-db-commands", action="store_true", help="print the database restore commands; do not run them")
    restore.add_argument("--start", action="store_true", help="start the servers at the end")
    restore.add_argument("--resume", action="store_true", help="continue an interrupted restore of SET")
    restore.add_argument("--force-provision", action="store_true",
                         help="DANGEROUS: restore provision/ even though the exact version differs (recorded)")
    restore.add_argument("--discard-replaced", action="store_true",
                         help="delete what was moved aside once the whole restore has succeeded")
    restore.add_argument("--allow-other-environment", action="store_true",
                         help="restore a set of another environment or cell (recorded in the restore journal)")


def _housekeeping_commands(command: _AddCommand) -> None:
    """cleanup, list and prune: what is left beside the live trees, and the sets themselves."""
    cleanup = command("cleanup", help="remove what restores left beside the live trees (moved-aside copies, "
                                             "staging folders) and the database images no set lists, after a prompt")
    cleanup.add_argument("--env", required=True, help="environment name (environments/NAME.yaml) or file")
    cleanup.add_argument("--yes", action="store_true", help="do not ask (for scripts)")

    listing = command("list", help="the environment's backup sets: status, date, version, size, downtime, last verify")
    listing.add_argument("--env", required=True, help="environment name (environments/NAME.yaml) or file")
    listing.add_argument("--trusted-keys", metavar="FILE", help="public keys to trust (default: signing.trusted_keys)")

    prune = command("prune", help="remove old backup sets (and the images and snapshot each recorded outside itself)")
    prune.add_argument("--env", required=True, help="environment name (environments/NAME.yaml) or file")
    prune.add_argument("--keep", type=int, required=True, metavar="N", help="keep the newest N complete sets")
    prune.add_argument("--keep-within", type=float, metavar="DAYS", help="also keep every complete set of the last DAYS days")
    prune.add_argument("--dry-run", action="store_true", help="say what would be removed; remove nothing")
    prune.add_argument("--trusted-keys", metavar="FILE", help="public keys to trust (default: signing.trusted_keys)")


def _init_command(command: _AddCommand) -> None:
    init = command("init", help="write a first environment file from what this host shows (never overwrites)")
    init.add_argument("--env", required=True, help="the new environment's name: writes environments/NAME.yaml")
    init.add_argument("--output", metavar="FILE", help="write FILE instead of environments/NAME.yaml")
    init.add_argument("--was-root", default="/opt/IBM/WebSphere/AppServer", metavar="DIR",
                      help="WebSphere app_server_root to look in (default: %(default)s)")
    init.add_argument("--im-data", default="/var/ibm/InstallationManager", metavar="DIR",
                      help="Installation Manager agent data, holding installed.xml (default: %(default)s)")
    init.add_argument("--target", default="/backup/cnxbackup", metavar="DIR",
                      help="where backup sets will go (default: %(default)s)")


def _control_commands(command: _AddCommand) -> None:
    """stop and start of the whole deployment."""
    for name, what in (("stop", "stop the whole deployment: application servers, node agents, then the Dmgr"),
                       ("start", "start the whole deployment: the Dmgr, node agents, then application servers")):
        control = command(name, help=what + " (idempotent, waits for each)")
        control.add_argument("--env", required=True, help="environment name (environments/NAME.yaml) or file")


def load_env(name: str, progress: Progress, build_tree: bool = False) -> Environment:
    """The environment for a command. A demo environment first gets its stand-ins ready
    (``prepare_demo``), then is loaded again with the overlay they need; nothing validated is changed."""
    env = load_environment(name)
    if not env.data.get("demo"):
        return env
    return load_environment(name, overlay=prepare_demo(env, progress, build_tree=build_tree))


def _dispatch(args: argparse.Namespace, progress: Progress) -> int:
    if args.command == "config-reference":
        sys.stdout.write(reference_markdown())
        return EXIT_OK
    if args.command in ("plan", "backup"):
        return run_plan_or_backup(args, load_env(args.env, progress, build_tree=True), progress)
    if args.command == "verify":
        return run_verify(args, load_env(args.env, progress) if args.env else None, progress)
    if args.command == "restore":
        return run_restore(args, load_env(args.env, progress), progress)
    if args.command in ("stop", "start"):
        return run_control(args, load_env(args.env, progress), progress)
    if args.command == "init":
        return run_init(args, progress)
    if args.command == "cleanup":
        return run_cleanup(args, load_env(args.env, progress), progress)
    if args.command == "list":
        return run_list(args, load_env(args.env, progress), progress)
    if args.command == "prune":
        return run_prune(args, load_env(args.env, progress), progress)
    raise CnxBackupError(f"unknown command {args.command}")


def _run(args: argparse.Namespace, progress: Progress) -> int:
    """The command's exit code; every error becomes one line on stderr (and an entry of the outcome)."""
    outcome = progress.outcome
    try:
        return _dispatch(args, progress)
    except KeyboardInterrupt:
        message = "interrupted; partial files were removed and nothing unfinished is marked done"
        outcome.error(message)
        progress.end_bar()
        sys.stderr.write(f"cnxbackup: {message}\n")
        return EXIT_INTERRUPTED
    except CnxBackupError as error:
        outcome.error(str(error))
        progress.end_bar()  # the last lines start on a line of their own, not after a progress bar
        sys.stderr.write(f"cnxbackup: {printable(error, keep_newlines=True)}\n")  # names from outside, shown escaped
        return error.exit_code
    except Exception as error:  # a bug or an unexpected OS error: one line, details in the log
        get_logger().exception("unexpected error")
        outcome.error(f"unexpected error: {type(error).__name__}: {error}")
        sys.stderr.write(f"cnxbackup: unexpected error: {type(error).__name__}: {printable(error, keep_newlines=True)} "
                         "(run with -v for details)\n")
        return EXIT_FAILED


class _JsonStdout:
    """With --json, file descriptor 1 is the JSON document's alone: while the command runs, it
    points at stderr (the messages, and any child process that writes to its stdout)."""

    def __init__(self) -> None:
        sys.stdout.flush()
        self.saved = os.dup(1)
        os.dup2(2, 1)

    def write(self, document: Dict[str, Any]) -> None:
        sys.stdout.flush()
        os.dup2(self.saved, 1)
        os.close(self.saved)
        sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
        sys.stdout.flush()


def _command_names(parser: argparse.ArgumentParser) -> List[str]:
    return [name for action in parser._actions if isinstance(action, argparse._SubParsersAction)
            for name in action.choices]


def _usage_error_document(argv: List[str], error: SystemExit) -> Dict[str, Any]:
    """The document of a command line argparse refused (the command, when one was named)."""
    commands = _command_names(build_parser())
    outcome = CommandOutcome(next((a for a in argv if a in commands), ""))
    outcome.error("usage error (see the message on stderr)")
    return outcome.document(int(error.code) if isinstance(error.code, int) else EXIT_USAGE, __version__)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [REMOTE_TOOL] and len(argv) >= 2:
        tool_args = argv[2:]
        return run_remote_tool(argv[1], tool_args[1:] if tool_args[:1] == ["--"] else tool_args)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as error:
        if "--json" in argv and error.code not in (0, None):
            sys.stdout.write(json.dumps(_usage_error_document(argv, error), indent=2, sort_keys=True) + "\n")
        raise
    setup_console(args.verbose)
    signals.install()
    json_stdout = _JsonStdout() if args.json else None
    progress = Progress(plain=True if args.plain else None)
    progress.recorder = record_in_file
    progress.interrupted = signals.CANCEL  # after Ctrl-C only the main thread's lines reach the console
    progress.outcome = CommandOutcome(args.command, getattr(args, "env", None))
    os.umask(0o077)  # everything this run and its children create is private (sets are 0700/0600)
    code = _run(args, progress)
    if json_stdout is not None:
        json_stdout.write(progress.outcome.document(code, __version__))
    return code

if __name__ == "__main__":
    sys.exit(main())
