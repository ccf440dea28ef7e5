"""Fake Oracle ``rman``, ``expdp`` and ``impdp`` (see README.md; messages follow connections.md §3.3)."""
from __future__ import annotations

import datetime
import os
import re
import sys
from typing import Any

from cnxbackup.demo import fakedb

RMAN_STACK = ("RMAN-00571: ===========================================================\n"
              "RMAN-00569: =============== ERROR MESSAGE STACK FOLLOWS ===============\n"
              "RMAN-00571: ===========================================================")


def banner(tool: str) -> str:
    return ("\n%s: Release 19.0.0.0.0 - Production on %s\nVersion 19.3.0.0.0\n\n"
            "Copyright (c) 1982, 2019, Oracle and/or its affiliates.  All rights reserved.\n"
            % (tool, datetime.datetime.now().strftime("%a %b %d %H:%M:%S %Y")))


def long_date() -> str:
    return datetime.datetime.now().strftime("%a %b %d %H:%M:%S %Y").replace(" 0", " ")


def rman_date() -> str:
    return datetime.datetime.now().strftime("%d-%b-%y").upper()


class OracleFailure(Exception):
    """Error text to print (the tool-specific framing is added by the caller)."""


def local_logon(invocation: fakedb.Invocation, state: dict[str, Any]) -> None:
    sid = invocation.getenv("ORACLE_SID")
    if not sid:
        raise OracleFailure("ORA-12162: TNS:net service name is incorrectly specified")
    if sid.upper() != str(state["oracle_sid"]).upper():
        raise OracleFailure("ORA-01034: ORACLE not available\nORA-27101: shared memory realm does not exist\n"
                            "Linux-x86_64 Error: 2: No such file or directory")
    osdba = str(state.get("osdba_group") or fakedb.owner_primary_group(state)).upper()
    if state.get("owner") and osdba not in fakedb.own_groups():  # "/ as sysdba" is the OSDBA group's
        raise OracleFailure("ORA-01031: insufficient privileges")


def password_logon(userid: str, state: dict[str, Any]) -> str:
    """Check ``user/password[@service]``; return the user name (upper case)."""
    user, _, rest = userid.partition("/")
    password = rest.split("@")[0]
    expected = state.get("oracle_password")
    if user.upper() != str(state["oracle_user"]).upper() or not password or \
            (expected is not None and password != expected):
        raise OracleFailure("ORA-01017: invalid username/password; logon denied")
    return user.upper()


# --------------------------------------------------------------------------- RMAN


def rman_main(argv: list[str]) -> int:
    invocation = fakedb.Invocation("rman", argv)
    masked, secret = fakedb.mask_argv(argv)
    target = None
    cmdfile = None
    logfile = None
    index = 0
    while index < len(argv):
        arg = argv[index]
        key, eq, value = arg.partition("=")
        key = key.lower()
        if arg.startswith("@"):
            cmdfile = arg[1:]
        elif key in ("target", "cmdfile", "log", "catalog", "auxiliary") and eq:
            target, cmdfile, logfile = (value if key == "target" else target, value if key == "cmdfile" else cmdfile,
                                        value if key == "log" else logfile)
        elif key in ("target", "cmdfile", "log") and index + 1 < len(argv):
            value = argv[index + 1]
            index += 1
            if key == "target":
                target = value
            elif key == "cmdfile":
                cmdfile = value
            else:
                logfile = value
        elif key in ("nocatalog", "checksyntax"):
            pass
        else:
            sys.stdout.write('%s\nRMAN-00552: syntax error in command line arguments\n'
                             'RMAN-01009: syntax error: found "%s": expecting one of: "append, at, auxiliary, '
                             'catalog, cmdfile, log, msglog, nocatalog, pipe, target, timeout"\n' % (RMAN_STACK, arg))
            invocation.log(1, masked, secret)
            return 1
        index += 1
    if cmdfile is not None:
        try:
            with open(cmdfile) as handle:
                script = handle.read()
        except OSError:
            script = None
    else:
        script = sys.stdin.read()
    lines: list[str] = [banner("Recovery Manager")]
    rc = 0
    if script is None:
        lines.append(RMAN_STACK)
        lines.append('RMAN-00554: initialization of internal recovery manager package failed\n'
                     'RMAN-06009: unable to open command file "%s"' % cmdfile)
        rc = 1
    else:
        rc = RmanSession(invocation, lines).run(target, script)
    lines.append("\nRecovery Manager complete.")
    text = "\n".join(lines) + "\n"
    if logfile:
        with open(logfile, "w") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    invocation.log(rc, masked, secret, {"cmdfile_text": script})
    return rc


class RmanSession:
    def __init__(self, invocation: fakedb.Invocation, lines: list[str]) -> None:
        self.inv = invocation
        self.lines = lines
        self.connected = False

    def say(self, text: str) -> None:
        self.lines.append(text)

    def fail(self, command: str, text: str, at: str = "") -> int:
        self.say(RMAN_STACK)
        stamp = datetime.datetime.now().strftime("%m/%d/%Y %H:%M:%S")
        if at:
            self.say("RMAN-03009: failure of %s command on ORA_DISK_1 channel at %s" % (command, stamp))
        else:
            self.say("RMAN-03002: failure of %s command at %s" % (command, stamp))
        self.say(text)
        return 1

    def run(self, target: str | None, script: str) -> int:
        state = self.inv.snapshot()
        if target is not None:
            try:
                if target.strip("'\"") == "/":
                    local_logon(self.inv, state)
                else:
                    password_logon(target, state)
            except OracleFailure as error:
                self.say(RMAN_STACK)
                self.say("RMAN-00554: initialization of internal recovery manager package failed\n"
                         "RMAN-04005: error from target database: \n%s" % error)
                return 1
            self.connected = True
            self.say("connected to target database: %s (DBID=1234567890)\n" % state["oracle_sid"])
        body = re.sub(r"(?is)\brun\s*\{", "", script).replace("}", "")
        body = "\n".join(line for line in body.splitlines() if not line.strip().startswith("#"))
        for raw in body.split(";"):
            command = " ".join(raw.split())
            if not command:
                continue
            if command.lower() in ("exit", "quit"):
                break
            self.say("\nRMAN> %s;\n" % command)
            rc = self.execute(command)
            if rc:
                return rc
        return 0

    def execute(self, command: str) -> int:
        lower = command.lower()
        if not self.connected:
            return self.fail(lower.split()[0], "RMAN-06171: not connected to target database")
        if lower.startswith("shutdown"):
            with self.inv.state() as state:
                state["open_mode"] = "SHUTDOWN"
            self.say("database closed\ndatabase dismounted\nOracle instance shut down")
            return 0
        if lower.startswith("startup"):
            with self.inv.state() as state:
                state["open_mode"] = "MOUNTED" if "mount" in lower else "OPEN"
            self.say("connected to target database (not started)\nOracle instance started\ndatabase mounted")
            if "mount" not in lower:
                self.say("database opened")
            return 0
        if re.match(r"alter database open( resetlogs)?$", lower):
            with self.inv.state() as state:
                if state["open_mode"] != "MOUNTED":
                    return self.fail("sql", "ORA-01531: a database already open by the instance")
                state["open_mode"] = "OPEN"
            self.say("Statement processed")
            return 0
        if lower.startswith("sql "):
            self.say("sql statement: %s" % command[4:].strip("'\""))
            return 0
        if lower.startswith("backup "):
            return self.backup(command)
        if lower.startswith("restore database"):
            return self.restore("validate" in lower)
        if lower.startswith("recover database"):
            state = self.inv.snapshot()
            if state["open_mode"] != "MOUNTED":
                return self.fail("recover", "ORA-01124: cannot recover data file 1 - file is in use or recovery")
            self.say("Starting recover at %s\nusing channel ORA_DISK_1\n\nFinished recover at %s"
                     % (rman_date(), rman_date()))
            return 0
        if lower.startswith("delete "):
            return self.delete(command)
        if lower in ("list backup summary", "list backup"):
            state = self.inv.snapshot()
            self.say("\nList of Backups\n===============")
            for number, entry in enumerate(state["rman_backups"], 1):
                self.say("%d B F A DISK %s 1 1 YES %s" % (number, rman_date(), entry["tag"]))
            return 0
        self.say(RMAN_STACK)
        self.say('RMAN-00558: error encountered while parsing input commands\n'
                 'RMAN-01009: syntax error: found "identifier": expecting one of: "allocate, alter, backup, '
                 'catalog, list, recover, restore, run, shutdown, sql, startup"\n'
                 'RMAN-01007: at line 1 column 1 file: standard input')
        return 1

    def backup(self, command: str) -> int:
        lower = command.lower()
        format_match = re.search(r"(?i)\bformat\s+'([^']+)'", command)
        tag_match = re.search(r"(?i)\btag\s+'?([A-Za-z0-9_]+)'?", command)
        what = re.sub(r"(?i)\b(format|tag)\s+'[^']*'|\btag\s+\S+", "", lower)
        what = " ".join(what.replace("as compressed backupset", "").replace("as backupset", "").split())
        if what not in ("backup database", "backup database plus archivelog", "backup current controlfile",
                        "backup spfile", "backup database include current controlfile"):
            self.say(RMAN_STACK)
            self.say('RMAN-00558: error encountered while parsing input commands\n'
                     'RMAN-01009: syntax error: found "%s": expecting one of: "archivelog, as, current, database, '
                     'format, spfile, tag"' % what.split()[-1])
            return 1
        with self.inv.state() as state:
            sid = str(state["oracle_sid"])
            info = state["databases"].get(sid.upper(), {})
            open_mode = state["open_mode"]
            archivelog = state["archivelog"]
            size = int(state["image_size"])
            delay_seconds = state["delay_seconds"]
            set_number = len(state["rman_backups"]) + 1
        if open_mode == "SHUTDOWN":
            return self.fail("backup", "ORA-01034: ORACLE not available")
        if "database" in what and open_mode == "OPEN" and not archivelog:
            return self.fail("backup", "ORA-19602: cannot backup or copy active file in NOARCHIVELOG mode", at="x")
        if "plus archivelog" in what and not archivelog:
            return self.fail("backup", "RMAN-06059: expected archived log not found, loss of archived log "
                             "compromises recoverability")
        pattern = format_match.group(1) if format_match else os.path.join(
            os.path.dirname(os.environ["FAKEDB_STATE"]), "fra", "%U")
        stamp = datetime.datetime.now()
        tag = tag_match.group(1).upper() if tag_match else stamp.strftime("TAG%Y%m%dT%H%M%S")
        self.say("Starting backup at %s\nusing target database control file instead of recovery catalog\n"
                 "allocated channel: ORA_DISK_1\nchannel ORA_DISK_1: SID=42 device type=DISK" % rman_date())
        fakedb.delay({"delay_seconds": delay_seconds})
        pieces = []
        for piece_number in (1, 2) if "database" in what else (1,):
            name = expand_format(pattern, sid, stamp, set_number + piece_number - 1, 1)
            directory = os.path.dirname(name) or "."
            if info.get("no_permission") or not fakedb.dir_writable(directory):
                reason = "13: Permission denied" if os.path.isdir(directory) else "2: No such file or directory"
                return self.fail("backup", 'ORA-19504: failed to create file "%s"\nORA-27040: file create error, '
                                 "unable to create file\nLinux-x86_64 Error: %s" % (name, reason), at="x")
            header = {"vendor": "oracle-rman", "db": sid, "timestamp": stamp.strftime("%Y%m%d%H%M%S"),
                      "tag": tag, "piece": piece_number}
            if info.get("disk_full"):
                fakedb.write_image(name, header, size, truncate_to=size // 2)
                return self.fail("backup", 'ORA-19502: write error on file "%s", block number 1024 (block size=8192)'
                                 "\nORA-27072: File I/O error\nLinux-x86_64 Error: 28: No space left on device"
                                 % name, at="x")
            fakedb.write_image(name, header, size if piece_number == 1 else max(size // 8, 1))
            pieces.append(name)
            kind = "compressed full datafile backup set" if piece_number == 1 else "full datafile backup set"
            self.say("channel ORA_DISK_1: starting %s\nchannel ORA_DISK_1: starting piece 1 at %s\n"
                     "channel ORA_DISK_1: finished piece 1 at %s\npiece handle=%s tag=%s comment=NONE\n"
                     "channel ORA_DISK_1: backup set complete, elapsed time: 00:00:01"
                     % (kind, rman_date(), rman_date(), name, tag))
        with self.inv.state() as state:
            state["rman_backups"].append({"tag": tag, "pieces": pieces, "what": what,
                                          "consistent": state["open_mode"] != "OPEN"})
        self.say("Finished backup at %s" % rman_date())
        return 0

    def delete(self, command: str) -> int:
        """DELETE [NOPROMPT] BACKUP TAG 'x': deletes the pieces of that tag (the database mounted or open);
        "Deleted N objects", or RMAN's message when nothing matches (Backup and Recovery Reference, DELETE)."""
        match = re.fullmatch(r"(?i)delete\s+(noprompt\s+)?backup\s+tag\s+'?([A-Za-z0-9_]+)'?", command)
        if match is None:
            return self.fail("delete", "RMAN-01009: syntax error: found \"%s\"" % command.split()[-1])
        if not match.group(1):  # a command file never prompts; cnxbackup always says NOPROMPT
            self.say("Do you really want to delete the above objects (enter YES or NO)? ")
        tag = match.group(2).upper()
        with self.inv.state() as state:
            if state["open_mode"] == "SHUTDOWN":
                return self.fail("delete", "ORA-01034: ORACLE not available")
            matched = [entry for entry in state["rman_backups"] if entry["tag"] == tag]
            state["rman_backups"] = [entry for entry in state["rman_backups"] if entry["tag"] != tag]
        self.say("using channel ORA_DISK_1")
        if not matched:
            self.say("specification does not match any backup in the repository")
            return 0
        self.say("\nList of Backup Pieces\nBP Key  BS Key  Pc# Cp# Status      Device Type Piece Name\n"
                 "------- ------- --- --- ----------- ----------- ----------")
        pieces = [piece for entry in matched for piece in entry["pieces"]]
        for number, piece in enumerate(pieces, 1):
            self.say("%-7d %-7d 1   1   AVAILABLE   DISK        %s" % (number, number, piece))
        for number, piece in enumerate(pieces, 1):
            if os.path.exists(piece):
                os.unlink(piece)
            self.say("deleted backup piece\nbackup piece handle=%s RECID=%d STAMP=1146735%03d" % (piece, number, number))
        self.say("Deleted %d objects\n" % len(pieces))
        return 0

    def restore(self, validate_only: bool) -> int:
        state = self.inv.snapshot()
        if not validate_only and state["open_mode"] != "MOUNTED":
            return self.fail("restore", "ORA-19573: cannot obtain exclusive enqueue for datafile 1")
        backups = [entry for entry in state["rman_backups"] if "database" in entry["what"]]
        self.say("Starting restore at %s\nusing channel ORA_DISK_1" % rman_date())
        usable = [entry for entry in backups if all(os.path.exists(piece) for piece in entry["pieces"])]
        if not usable:
            self.say(RMAN_STACK)
            self.say("RMAN-03002: failure of restore command at %s\nRMAN-06026: some targets not found - aborting "
                     "restore\nRMAN-06023: no backup or copy of datafile 1 found to restore"
                     % datetime.datetime.now().strftime("%m/%d/%Y %H:%M:%S"))
            return 1
        fakedb.delay(state)
        for piece in usable[-1]["pieces"]:
            ok, reason, _ = fakedb.check_image(piece)
            self.say("channel ORA_DISK_1: reading from backup piece %s" % piece)
            if not ok:
                return self.fail("restore", "ORA-19870: error while restoring backup piece %s\n"
                                 "ORA-19587: error occurred reading 8192 bytes at block number 1" % piece, at="x")
            self.say("channel ORA_DISK_1: piece handle=%s tag=%s\nchannel ORA_DISK_1: restored backup piece 1"
                     % (piece, usable[-1]["tag"]))
        if not validate_only:
            with self.inv.state() as state:
                state["restored_from"] = usable[-1]["tag"]
        self.say("Finished restore at %s" % rman_date())
        return 0


def expand_format(pattern: str, sid: str, stamp: datetime.datetime, set_number: int, piece: int) -> str:
    unique = "%08x" % (abs(hash((set_number, stamp.timestamp()))) & 0xFFFFFFFF)
    replacements = {"%d": sid, "%T": stamp.strftime("%Y%m%d"), "%s": str(set_number), "%p": str(piece),
                    "%t": str(int(stamp.timestamp())), "%U": "%s_%d_%d" % (unique, set_number, piece),
                    "%u": unique, "%c": "1", "%I": "1234567890"}
    return re.sub(r"%[dTsptUucI]", lambda match: replacements[match.group(0)], pattern)


# --------------------------------------------------------------------------- Data Pump


def parse_parameters(tokens: list[str], invocation: fakedb.Invocation) -> dict[str, str]:
    params: dict[str, str] = {}
    for index, token in enumerate(tokens):
        key, eq, value = token.partition("=")
        if not eq:
            if index == 0:
                params["userid"] = token
                continue
            raise OracleFailure("LRM-00101: unknown parameter name '%s'" % token)
        key = key.strip().lower()
        value = value.strip()
        if key == "parfile":
            try:
                invocation.extra["parfile_mode"] = "%o" % (os.stat(value).st_mode & 0o777)
                with open(value) as handle:
                    content = handle.read()
            except OSError:
                raise OracleFailure('LRM-00109: could not open parameter file \'%s\'' % value) from None
            lines = [line.split("#")[0].strip() for line in content.splitlines()]
            params.update(parse_parameters([line for line in lines if line], invocation))
            params.pop("__positional", None)
            continue
        params[key] = value.strip('"').strip("'") if key != "userid" else value
    return params


def datapump_main(tool: str, argv: list[str]) -> int:
    invocation = fakedb.Invocation(tool, argv)
    masked, secret = fakedb.mask_argv(argv)
    release = "Export" if tool == "expdp" else "Import"
    out: list[str] = [banner(release)]
    rc = 1
    try:
        params = parse_parameters(argv, invocation)
        rc = run_datapump(tool, params, invocation, out)
    except OracleFailure as error:
        out.append(str(error))
        rc = 1
    sys.stdout.write("\n".join(out) + "\n")
    invocation.log(rc, masked, secret, invocation.extra)
    return rc


def run_datapump(tool: str, params: dict[str, str], invocation: fakedb.Invocation, out: list[str]) -> int:
    known = {"userid", "schemas", "full", "directory", "dumpfile", "logfile", "nologfile", "reuse_dumpfiles",
             "compression", "parallel", "filesize", "job_name", "table_exists_action", "remap_schema",
             "exclude", "include", "flashback_time", "content", "metrics", "logtime", "estimate_only"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise OracleFailure("LRM-00101: unknown parameter name '%s'" % unknown[0])
    state = invocation.snapshot()
    userid = params.get("userid")
    if userid is None:
        out.append("Username: ")
        raise OracleFailure("UDE-01017: operation generated ORACLE error 1017\n"
                            "ORA-01017: invalid username/password; logon denied")
    bare = userid.strip().strip('"').strip("'").strip()
    try:
        if re.match(r"(?i)^/\s+as\s+sysdba$", bare):
            local_logon(invocation, state)
            owner = "SYS"
        else:
            owner = password_logon(bare, state)
    except OracleFailure as error:
        code = re.search(r"ORA-0*(\d+)", str(error))
        raise OracleFailure("UDE-%05d: operation generated ORACLE error %s\n%s"
                            % (int(code.group(1)) if code else 0, code.group(1) if code else "0", error)) from None
    out.append("Connected to: Oracle Database 19c Enterprise Edition Release 19.0.0.0.0 - Production")
    if tool == "expdp" and params.get("estimate_only", "n").lower() in ("y", "yes"):
        return estimate(params, out, state, owner)
    directory_name = params.get("directory", "DATA_PUMP_DIR").upper()
    directory = state["directories"].get(directory_name)
    if directory is None:
        raise OracleFailure("ORA-39002: invalid operation\nORA-39070: Unable to open the log file.\n"
                            "ORA-39087: directory name %s is invalid" % directory_name)
    schemas = [name.strip().strip('"').upper() for name in params.get("schemas", "").split(",") if name.strip()]
    full = params.get("full", "n").lower() in ("y", "yes", "true")
    existing = [name for name, info in state["databases"].items() if not info.get("virtual")]
    if not schemas and not full:
        schemas = [owner]
    for name in schemas:
        if state["databases"].get(name, {}).get("no_permission") or not fakedb.dir_writable(directory):
            raise OracleFailure("ORA-39002: invalid operation\nORA-39070: Unable to open the log file.\n"
                                "ORA-29283: invalid file operation\nORA-06512: at \"SYS.UTL_FILE\", line 536\n"
                                "ORA-29283: invalid file operation")
    kind = "FULL" if full else "SCHEMA"
    job = params.get("job_name") or "SYS_%s_%s_01" % ("EXPORT" if tool == "expdp" else "IMPORT", kind)
    dumpfiles = [name.strip() for name in params.get("dumpfile", "expdat.dmp").split(",") if name.strip()]
    paths = [os.path.join(directory, re.sub(r"%[Uu]", "01", name)) for name in dumpfiles]
    if tool == "expdp":
        rc = export(params, invocation, out, state, owner, job, schemas, full, existing, paths)
    else:
        rc = import_(params, invocation, out, state, owner, job, schemas, paths)
    logfile = params.get("logfile")
    if logfile and params.get("nologfile", "n").lower() not in ("y", "yes"):
        with open(os.path.join(directory, logfile), "w") as handle:
            handle.write("\n".join(out[1:]) + "\n")
    return rc


def estimate(params: dict[str, str], out: list[str], state: dict[str, Any], owner: str) -> int:
    """ESTIMATE_ONLY=YES: the size by blocks, no dump file (with NOLOGFILE=YES no log either)."""
    schemas = [name.strip().strip('"').upper() for name in params.get("schemas", "").split(",") if name.strip()]
    existing = [name for name, info in state["databases"].items() if not info.get("virtual")]
    found = [name for name in schemas or [owner] if name in existing]
    if not found:
        raise OracleFailure("ORA-39001: invalid argument value\nORA-39170: Schema expression 'IN (%s)' does not "
                            "correspond to any schemas." % ", ".join("'%s'" % name for name in schemas))
    job = "SYS_EXPORT_SCHEMA_01"
    out.append('Starting "%s"."%s":  %s' % (owner, job, " ".join(
        "%s=%s" % (key, value) for key, value in params.items() if key != "userid")))
    out.append("Estimate in progress using BLOCKS method...")
    for name in found:
        out.append('.  estimated "%s"."PRODUCT"                          64 KB' % name)
    out.append("Total estimation using BLOCKS method: %d KB" % (64 * len(found)))
    out.append('Job "%s"."%s" successfully completed at %s elapsed 0 00:00:01' % (owner, job, long_date()))
    return 0


def export(params: dict[str, str], invocation: fakedb.Invocation, out: list[str], state: dict[str, Any],
           owner: str, job: str, schemas: list[str], full: bool, existing: list[str], paths: list[str]) -> int:
    reuse = params.get("reuse_dumpfiles", "n").lower() in ("y", "yes")
    for path in paths:
        if os.path.exists(path) and not reuse:
            raise OracleFailure('ORA-39001: invalid argument value\nORA-39000: bad dump file specification\n'
                                'ORA-31641: unable to create dump file "%s"\nORA-27038: created file already exists'
                                '\nAdditional information: 1' % path)
    found = existing if full else [name for name in schemas if name in existing]
    if not found:
        raise OracleFailure("ORA-39001: invalid argument value\nORA-39170: Schema expression 'IN (%s)' does not "
                            "correspond to any schemas." % ", ".join("'%s'" % name for name in schemas))
    out.append('Starting "%s"."%s":  %s' % (owner, job, " ".join(
        "%s=%s" % (key, value) for key, value in params.items() if key != "userid")))
    errors = 0
    for name in schemas:
        if name not in existing:
            out.append("ORA-39165: Schema %s was not found." % name)
            errors += 1
    out.append("Processing object type %s_EXPORT/TABLE/TABLE_DATA" % ("DATABASE" if full else "SCHEMA"))
    fakedb.delay(state)
    stamp = fakedb.now_stamp()
    header = {"vendor": "oracle-dp", "db": state["oracle_sid"], "schemas": found, "timestamp": stamp, "job": job}
    size = int(state["image_size"])
    for name in found:
        if state["databases"][name].get("disk_full"):
            fakedb.write_image(paths[0], header, size, truncate_to=size // 3)
            out.append("ORA-39097: Data Pump job encountered unexpected error -19502\n"
                       'ORA-19502: write error on file "%s", block number 128 (block size=4096)\n'
                       "ORA-27072: File I/O error\nLinux-x86_64 Error: 28: No space left on device" % paths[0])
            out.append('Job "%s"."%s" stopped due to fatal error at %s elapsed 0 00:00:05' % (owner, job, long_date()))
            return 1
        out.append('. . exported "%s"."PRODUCT"                          %.3f KB      12 rows' % (name, size / 1024.0))
    for path in paths:
        fakedb.write_image(path, dict(header, file=os.path.basename(path)), size)
    out.append('Master table "%s"."%s" successfully loaded/unloaded' % (owner, job))
    out.append("*" * 78)
    out.append("Dump file set for %s.%s is:" % (owner, job))
    out.extend("  %s" % path for path in paths)
    if errors:
        out.append('Job "%s"."%s" completed with %d error(s) at %s elapsed 0 00:00:05'
                   % (owner, job, errors, long_date()))
        return 5
    out.append('Job "%s"."%s" successfully completed at %s elapsed 0 00:00:05' % (owner, job, long_date()))
    return 0


def import_(params: dict[str, str], invocation: fakedb.Invocation, out: list[str], state: dict[str, Any],
            owner: str, job: str, schemas: list[str], paths: list[str]) -> int:
    headers = []
    for path in paths:
        if not os.path.exists(path):
            raise OracleFailure('ORA-39001: invalid argument value\nORA-39000: bad dump file specification\n'
                                'ORA-31640: unable to open dump file "%s" for read\n'
                                "ORA-27037: unable to obtain file status\n"
                                "Linux-x86_64 Error: 2: No such file or directory" % path)
        ok, _, header = fakedb.check_image(path)
        if not ok:
            raise OracleFailure('ORA-39001: invalid argument value\nORA-39000: bad dump file specification\n'
                                'ORA-31619: invalid dump file "%s"' % path)
        headers.append(header)
    in_dump = headers[0].get("schemas", [])
    wanted = schemas or in_dump
    out.append('Master table "%s"."%s" successfully loaded/unloaded' % (owner, job))
    out.append('Starting "%s"."%s":  %s' % (owner, job, " ".join(
        "%s=%s" % (key, value) for key, value in params.items() if key != "userid")))
    fakedb.delay(state)
    errors = 0
    for name in wanted:
        if name not in in_dump:
            out.append("ORA-39165: Schema %s was not found." % name)
            errors += 1
            continue
        out.append('. . imported "%s"."PRODUCT"                          1.000 KB      12 rows' % name)
    with invocation.state() as current:
        for name in wanted:
            if name in in_dump:
                entry = current["databases"].setdefault(name, {"in_use": False})
                entry.pop("virtual", None)
                entry["restored_from"] = headers[0].get("timestamp")
    if errors:
        out.append('Job "%s"."%s" completed with %d error(s) at %s elapsed 0 00:00:03'
                   % (owner, job, errors, long_date()))
        return 5
    out.append('Job "%s"."%s" successfully completed at %s elapsed 0 00:00:03' % (owner, job, long_date()))
    return 0
