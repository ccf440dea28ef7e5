"""Shared state, logging and image handling for the fake database tools.

The fakes (``db2``, ``db2ckbkp``, ``sqlcmd``, ``rman``, ``expdp``, ``impdp``) are thin
executables that import this module. Tests call :func:`prepare` to create the state file
and get the environment to run the driver with. See README.md in this directory.
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import grp
import hashlib
import json
import os
import pwd
import random
import re
import shlex
import sys
import time
from typing import Any, Iterator

FAKES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fakes")
IMAGE_MAGIC = b"FAKEDBIMG1 "
DEFAULT_IMAGE_SIZE = 64 * 1024
FAILURE_KEYS = ("in_use", "disk_full", "no_permission", "missing")


# --------------------------------------------------------------------------- test side


def prepare(tmp_dir: str, vendor: str, databases: list[str] | None = None, **options: Any) -> dict[str, str]:
    """Create a fresh state file in ``tmp_dir`` and return the env vars the fakes need.

    ``databases``: names that exist (DB2/SQL Server databases; Oracle schemas).
    Options (all optional):
      per-database failures, each a list of names: in_use, disk_full, no_permission, missing
        (``missing`` removes the name from the existing databases);
      delay_seconds: float, slept by every backup/restore/verify call (makes parallelism measurable);
      image_size: bytes of payload per backup image (default 64 KiB);
      instance: DB2 instance name (default: the owner's name, as a real instance is named after its owner);
      owner: the instance / Oracle software owner (default: the user running this);
      sysadm_group, sysctrl_group, sysmaint_group: DB2's authority groups (default NULL: SYSADM is the
        owner's primary group); osdba_group: Oracle's OSDBA group (default: the owner's primary group);
      recoverable: list of DB2 databases with archive logging (online backup allowed);
      schema_version: value returned by ``select POSTSCHEMAVER from FILES.PRODUCT``;
      edition: SQL Server edition ('Enterprise' default; 'Express' refuses COMPRESSION);
      sql_user / sql_password: SQL Server login accepted with -U;
      oracle_sid (default LSCONN), archivelog (bool), oracle_user / oracle_password,
      directories: {DIRECTORY object name: path} for Data Pump.
    """
    os.makedirs(tmp_dir, exist_ok=True)
    names = [name.upper() for name in (databases or [])]
    missing = {name.upper() for name in options.pop("missing", [])}
    owner = options.pop("owner", None) or pwd.getpwuid(os.geteuid()).pw_name
    state: dict[str, Any] = {
        "vendor": vendor,
        "instance": options.pop("instance", owner),
        "owner": owner,
        "sysadm_group": options.pop("sysadm_group", None),
        "sysctrl_group": options.pop("sysctrl_group", None),
        "sysmaint_group": options.pop("sysmaint_group", None),
        "osdba_group": options.pop("osdba_group", None),
        "delay_seconds": float(options.pop("delay_seconds", 0)),
        "image_size": int(options.pop("image_size", DEFAULT_IMAGE_SIZE)),
        "schema_version": str(options.pop("schema_version", "147.3")),
        "edition": options.pop("edition", "Enterprise"),
        "sql_user": options.pop("sql_user", "cnxbackup"),
        "sql_password": options.pop("sql_password", None),
        "oracle_sid": options.pop("oracle_sid", "LSCONN"),
        "archivelog": bool(options.pop("archivelog", False)),
        "oracle_user": options.pop("oracle_user", "SYSTEM"),
        "oracle_password": options.pop("oracle_password", None),
        "open_mode": "OPEN",
        "directories": options.pop("directories", {}),
        "connections": {},
        "rman_backups": [],
        "databases": {},
    }
    flags = {key: {name.upper() for name in options.pop(key, [])} for key in FAILURE_KEYS if key != "missing"}
    recoverable = {name.upper() for name in options.pop("recoverable", [])}
    if options:
        raise TypeError("unknown fakedb options: %s" % ", ".join(sorted(options)))
    for name in names:
        if name in missing:
            continue
        state["databases"][name] = {
            "active": True,
            "recoverable": name in recoverable,
            "restored_from": None,
            "single_user": False,
            **{key: name in members for key, members in flags.items()},
        }
    # failures may name the instance / SID itself (RMAN) even if not a database
    for key, members in flags.items():
        for name in members:
            state["databases"].setdefault(name, {"active": True, "recoverable": False, "restored_from": None,
                                                 "single_user": False, "in_use": False, "disk_full": False,
                                                 "no_permission": False, "virtual": True})[key] = True
    state_path = os.path.join(tmp_dir, "fakedb-state.json")
    with open(state_path, "w") as handle:
        json.dump(state, handle, indent=1)
    log_path = os.path.join(tmp_dir, "fakedb-log.jsonl")
    open(log_path, "w").close()
    env = {
        "FAKEDB_STATE": state_path,
        "FAKEDB_LOG": log_path,
        "DB2INSTANCE": state["instance"],
        "ORACLE_SID": state["oracle_sid"],
        "PATH": python_dir(tmp_dir, owner) + os.pathsep + os.environ.get("PATH", ""),
    }
    return env


def python_dir(folder: str, owner: str | None = None) -> str:
    """``folder/bin``, whose ``python3`` (written, or rewritten, here) runs :func:`stand_in_python`.
    First on the fakes' PATH, it is what their ``#!/usr/bin/env python3`` runs: they work wherever the
    program does (a host with only ``python3.9``, or a ``python3`` too old for them). ``-S``: they need
    the standard library only, and skip site-packages' start-up cost (and version-manager shims: pyenv
    costs 0.4-0.9 s per fake call)."""
    bin_dir = os.path.join(folder, "bin")
    os.makedirs(bin_dir, exist_ok=True)
    path = os.path.join(bin_dir, "python3")
    text = ("#!/bin/sh\n# the demo's fakes run with the Python that runs cnxbackup (cnxbackup/demo/fakedb.py)\n"
            f'exec {shlex.quote(stand_in_python(owner))} -S "$@"\n')
    if not os.path.islink(path) and _text_of(path) == text:
        return bin_dir
    fresh = path + ".new"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(fresh)
    with open(os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o755), "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(fresh, 0o755)  # whatever the umask: the owner of the fake instance runs it
    os.replace(fresh, path)
    return bin_dir


def _text_of(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, ValueError):
        return None


def stand_in_python(owner: str | None = None) -> str:
    """The interpreter the fakes run with: the one that runs this program (``sys.executable``), unless
    they run as another ``owner`` who cannot reach it (a venv in root's 0700 home); then the system's."""
    if owner in (None, user_name()) or _anyone_can_run(sys.executable):
        return sys.executable
    system = ["/usr/bin/python%d.%d" % sys.version_info[:2], "/usr/bin/python3"]
    return next((path for path in system if os.path.exists(path) and _anyone_can_run(path)), sys.executable)


def _anyone_can_run(path: str) -> bool:
    """Every folder on the way to ``path`` (as given and resolved) can be entered, and the file run, by others."""
    for probe in dict.fromkeys([os.path.abspath(path), os.path.realpath(path)]):
        while True:
            try:
                if not os.stat(probe).st_mode & 0o001:
                    return False
            except OSError:
                return False
            if os.path.dirname(probe) == probe:
                break
            probe = os.path.dirname(probe)
    return True


def read_log(env: dict[str, str]) -> list[dict[str, Any]]:
    """All invocations recorded so far (one dict per call)."""
    with open(env["FAKEDB_LOG"]) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def read_state(env: dict[str, str]) -> dict[str, Any]:
    with open(env["FAKEDB_STATE"]) as handle:
        return json.load(handle)


def set_database(env: dict[str, str], name: str, **flags: Any) -> None:
    """Change failure flags of one database between calls (e.g. in_use=True: WAS reconnected)."""
    handle = Invocation.__new__(Invocation)
    handle.state_path = env["FAKEDB_STATE"]
    with handle.state() as state:
        state["databases"][name.upper()].update(flags)


def set_owner(env: dict[str, str], **keys: Any) -> None:
    """Change the owner or the authority groups between calls (``sysadm_group``, ``osdba_group`` ...)."""
    unknown = set(keys) - {"owner", "sysadm_group", "sysctrl_group", "sysmaint_group", "osdba_group"}
    if unknown:
        raise TypeError("unknown owner keys: %s" % ", ".join(sorted(unknown)))
    handle = Invocation.__new__(Invocation)
    handle.state_path = env["FAKEDB_STATE"]
    with handle.state() as state:
        state.update(keys)


def tool_path(name: str) -> str:
    return os.path.join(FAKES_DIR, name)


def make_instance_home(home: str, owner: str) -> str:
    """A DB2 instance owner's home: ``sqllib/db2profile`` puts ``sqllib/bin`` (the fake db2 and db2ckbkp)
    on the PATH, as the real one does, so a plain ``db2`` is found only in the instance's environment."""
    _make_tool_home(os.path.join(home, "sqllib"), "db2profile", ["db2", "db2ckbkp"],
                    'PATH="%s/sqllib/bin:$PATH"; export PATH\n' % home, owner)
    os.chown(home, *_ids(owner))
    return home


def make_oracle_home(home: str, owner: str) -> str:
    """An ORACLE_HOME whose ``bin/oraenv`` sets ORACLE_HOME and puts ``bin`` (the fake rman, expdp,
    impdp) on the PATH, quietly when ORAENV_ASK=NO."""
    _make_tool_home(home, os.path.join("bin", "oraenv"), ["rman", "expdp", "impdp"],
                    'ORACLE_HOME="%s"; PATH="%s/bin:$PATH"; export ORACLE_HOME PATH\n'
                    'echo "The Oracle base has been set to %s"\n' % (home, home, home), owner)
    return home


def _make_tool_home(folder: str, profile: str, tools: list[str], text: str, owner: str) -> None:
    os.makedirs(os.path.join(folder, "bin"), exist_ok=True)
    with open(os.path.join(folder, profile), "w") as handle:
        handle.write(text)
    for tool in tools:
        link = os.path.join(folder, "bin", tool)
        if not os.path.lexists(link):
            os.symlink(tool_path(tool), link)
    for path in [folder, os.path.join(folder, "bin"), os.path.join(folder, profile)]:
        os.chown(path, *_ids(owner))


def _ids(user: str) -> tuple[int, int]:
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def own_groups() -> set[str]:
    """The names of the groups of the process (a fake's authority is its user's groups, as the real tools')."""
    names = set()
    for gid in set(os.getgroups()) | {os.getegid()}:
        try:
            names.add(grp.getgrgid(gid).gr_name.upper())
        except KeyError:
            names.add(str(gid))
    return names


def owner_primary_group(state: dict[str, Any]) -> str:
    """The owner's primary group (upper case): DB2's SYSADM group when SYSADM_GROUP is NULL, the fake's
    OSDBA group unless ``osdba_group`` names another."""
    try:
        return grp.getgrgid(pwd.getpwnam(state["owner"]).pw_gid).gr_name.upper()
    except KeyError:
        return ""


def user_name() -> str:
    """The name of the user running the fake."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


# --------------------------------------------------------------------------- fake side


class Invocation:
    """One run of a fake tool: state access under a lock, log record, env access tracking."""

    def __init__(self, tool: str, argv: list[str]) -> None:
        self.tool = tool
        self.argv = argv
        self.started = time.time()
        self.env_used: list[str] = []
        self.extra: dict[str, Any] = {}
        state_path = os.environ.get("FAKEDB_STATE")
        if not state_path or not os.path.isfile(state_path):
            sys.stderr.write("%s (fake): FAKEDB_STATE is not set or does not name a state file; "
                             "create one with cnxbackup.demo.fakedb.prepare()\n" % tool)
            sys.exit(99)
        self.state_path = state_path

    def getenv(self, key: str) -> str | None:
        if key not in self.env_used:
            self.env_used.append(key)
        return os.environ.get(key)

    @contextlib.contextmanager
    def state(self) -> Iterator[dict[str, Any]]:
        """Read-modify-write the state under an exclusive lock (fakes run concurrently)."""
        with open(self.state_path + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                with open(self.state_path) as handle:
                    data = json.load(handle)
                yield data
                temp = self.state_path + ".tmp%d" % os.getpid()
                with open(temp, "w") as handle:
                    json.dump(data, handle, indent=1)
                os.replace(temp, self.state_path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def snapshot(self) -> dict[str, Any]:
        with self.state() as data:
            return json.loads(json.dumps(data))

    def log(self, rc: int, masked_argv: list[str], secret_in_argv: bool, extra: dict[str, Any] | None = None) -> None:
        log_path = os.environ.get("FAKEDB_LOG")
        if not log_path:
            return
        record = {
            "tool": self.tool,
            "argv": masked_argv,
            "secret_in_argv": secret_in_argv,
            "env_used": self.env_used,
            "rc": rc,
            "pid": os.getpid(),
            "ppid": os.getppid(),
            "started": self.started,
            "time": time.time(),
            "host": os.environ.get("CNX_TEST_HOST"),  # set by the test sshd hosts (cnxbackup.demo.sshhosts)
        }
        if extra:
            record.update(extra)
        line = json.dumps(record) + "\n"
        with open(log_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(line)
            fcntl.flock(handle, fcntl.LOCK_UN)


def mask_argv(argv: list[str]) -> tuple[list[str], bool]:
    """Mask passwords in an argv: ``-P pw``, ``user/pw[@db]``, ``userid=user/pw``, ``password=..``."""
    masked: list[str] = []
    found = False
    skip_next = False
    for arg in argv:
        if skip_next:
            masked.append("********")
            skip_next = False
            found = True
            continue
        if arg == "-P":
            masked.append(arg)
            skip_next = True
            continue
        if arg.startswith("-P") and len(arg) > 2:
            masked.append("-P********")
            found = True
            continue
        replaced = re.sub(r"(?i)^((?:userid=)?[\"']?[A-Za-z0-9_$#]+)/([^@\s\"']+)", r"\1/********", arg)
        replaced = re.sub(r"(?i)(password\s*=\s*)\S+", r"\1********", replaced)
        if replaced != arg:
            found = True
        masked.append(replaced)
    return masked, found


def delay(state: dict[str, Any], name: str | None = None) -> None:
    seconds = float(state.get("delay_seconds") or 0)
    if seconds > 0:
        time.sleep(seconds)


def now_stamp() -> str:
    return datetime.datetime.now().strftime("%Y%m%d%H%M%S")


def _expand(generator: random.Random, size: int) -> bytes:
    return generator.getrandbits(size * 8).to_bytes(size, "little") if size else b""


def write_image(path: str, header: dict[str, Any], size: int, truncate_to: int | None = None) -> None:
    """Write an image: magic + JSON header line + payload. ``truncate_to`` simulates a partial write."""
    payload = _expand(random.Random(hashlib.sha256(json.dumps(header, sort_keys=True).encode()).digest()), size)
    full_header = dict(header, size=size, sha256=hashlib.sha256(payload).hexdigest())
    data = IMAGE_MAGIC + json.dumps(full_header, sort_keys=True).encode() + b"\n" + payload
    if truncate_to is not None:
        data = data[:truncate_to]
    with open(path, "wb") as handle:
        handle.write(data)


def read_header(path: str) -> dict[str, Any] | None:
    """The media header at the start of an image written by :func:`write_image` (first 4 KiB only)."""
    try:
        with open(path, "rb") as handle:
            start = handle.read(4096)
    except OSError:
        return None
    if not start.startswith(IMAGE_MAGIC) or b"\n" not in start:
        return None
    try:
        header = json.loads(start[len(IMAGE_MAGIC):].partition(b"\n")[0])
    except ValueError:
        return None
    return header if isinstance(header, dict) else None


def check_image(path: str) -> tuple[bool, str, dict[str, Any]]:
    """(ok, reason, header) for an image written by :func:`write_image`."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        return False, "cannot open: %s" % error.strerror, {}
    if not data.startswith(IMAGE_MAGIC) or b"\n" not in data:
        return False, "bad media header", {}
    head, _, payload = data[len(IMAGE_MAGIC):].partition(b"\n")
    try:
        header = json.loads(head)
    except ValueError:
        return False, "bad media header", {}
    if len(payload) != header.get("size"):
        return False, "truncated image (%d of %d payload bytes)" % (len(payload), header.get("size", 0)), header
    if hashlib.sha256(payload).hexdigest() != header.get("sha256"):
        return False, "checksum mismatch", header
    return True, "ok", header


def dir_writable(path: str) -> bool:
    return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)
