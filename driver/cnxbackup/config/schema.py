"""The environment file's schema: the single source of truth for keys, types, defaults and docs.

``validate`` fills defaults and rejects unknown keys and wrong types, naming the file, the
line and the dotted key. ``reference_markdown`` renders the README's configuration reference.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ..errors import ConfigError
from .loader import LineMap

_MISSING = object()


@dataclass
class Field:
    """One key: its kind (str, int, float, bool, list, map, section, records), default and doc."""

    kind: str
    doc: str
    default: Any = None
    required: bool = False
    choices: Optional[Sequence[Any]] = None
    section: Dict[str, "Field"] = field(default_factory=dict)  # for kind 'section' and 'records'
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    options: bool = False  # a list whose entries may start with '-' (tar options, exclude patterns)


def _secret_fields(what: str) -> Dict[str, Field]:
    return {
        "password_env": Field("str", f"Environment variable that holds the {what} password."),
        "password_file": Field("str", f"File (mode 0600 or stricter) whose first line is the {what} password."),
        "password_prompt": Field("bool", f"Ask for the {what} password on the terminal.", False),
    }


HOST_FIELDS: Dict[str, Field] = {
    "name": Field("str", "Short name used by items (`host:`) and in reports.", required=True),
    "address": Field("str", "Address or DNS name; `local` runs on this machine.", required=True),
    "user": Field("str", "SSH user.", "root"),
    "port": Field("int", "SSH port.", 22, minimum=1, maximum=65535),
    "key": Field("str", "SSH private key file (keys only: the driver never types SSH passwords)."),
    "roles": Field("list", "Any of dmgr, node, db, nfs.", []),
    "parallel": Field("int", "How many items run at once on this host (default: `archive.parallel`).", minimum=1, maximum=16),
    "known_hosts": Field("str", "known_hosts file to use (default: the user's)."),
    "paths": Field("map", "Per-host path overrides (same keys as `paths`), e.g. its own `profiles`.", {}),
}

EXTRA_ITEM_FIELDS: Dict[str, Field] = {
    "name": Field("str", "Item name (letters, digits, -, _).", required=True),
    "path": Field("str", "File or directory to archive.", required=True),
    "host": Field("str", "Host the path lives on (default: the dmgr host)."),
}

SCHEMA: Dict[str, Field] = {
    "environment": Field("str", "Name of the environment (default: the file name without .yaml)."),
    "connections": Field("section", "What is installed.", section={
        "version": Field("str", "Connections version (e.g. `8.0.0.0_CR14`), or `auto` to read Installation Manager's installed.xml.", "auto"),
        "interim_fixes": Field("list", "Interim fix IDs, or leave empty to detect them from connections_root/version.", None),
        "ccm": Field("bool", "Connections Content Manager (FileNet) is installed: back up its storage area, Engine-ws.ear, FNGCD and FNOS.", False),
        "in_place_upgrade": Field("bool", "An in-place upgrade is planned: also back up the Installation Manager data, install and shared directories.", False),
    }),
    "paths": Field("section", "Where things are. Defaults follow HCL's Linux defaults.", section={
        "was_root": Field("str", "WebSphere app_server_root.", "/opt/IBM/WebSphere/AppServer"),
        "dmgr_profile": Field("str", "Deployment Manager profile directory.", "{was_root}/profiles/Dmgr01"),
        "profiles": Field("list", "Every other WAS profile directory (one archive each).", ["{was_root}/profiles/AppSrv01"]),
        "profile_registry": Field("str", "profileRegistry.xml.", "{was_root}/properties/profileRegistry.xml"),
        "connections_root": Field("str", "connections_root.", "/opt/IBM/Connections"),
        "shared_data": Field("str", "Shared data directory (often NFS). Its provision/ folder gets its own archive.", "{connections_root}/data/shared"),
        "local_data": Field("str", "Local data directory.", "{connections_root}/data/local"),
        "im_data": Field("str", "Installation Manager agent data (installed.xml lives here).", "/var/ibm/InstallationManager"),
        "im_install": Field("str", "Installation Manager install directory.", "/opt/IBM/InstallationManager"),
        "im_shared": Field("str", "Installation Manager shared resources (IMShared).", "/opt/IBM/IMShared"),
        "ccm_storage": Field("str", "FileNet storage area (CCM only).", "{shared_data}/ccm"),
        "engine_ws_ear": Field("str", "Directory holding Engine-ws.ear (CCM only); default depends on the version: 6.0 uses addons/ccm, 6.0 CR6 and later FileNet/.", "auto"),
        "customizations": Field("list", "Extra customization paths (the customization dir itself is inside shared data).", []),
        "extra": Field("records", "Further items to archive: what upgrades touch beyond HCL's list, e.g. IBM HTTP Server's conf/, the plug-in's config/ with its keystores, the TDI solution directory (README has an example).", [], section=EXTRA_ITEM_FIELDS),
    }),
    "wsadmin": Field("section", "The one wsadmin session (role export, filenetAdmin check, stopping servers).", section={
        "command": Field("str", "wsadmin.sh of the Dmgr profile.", "{dmgr_profile}/bin/wsadmin.sh"),
        "conntype": Field("str", "Connector type.", "SOAP", choices=["SOAP", "RMI"]),
        "host": Field("str", "Dmgr host for the connector.", "localhost"),
        "port": Field("int", "Dmgr SOAP/RMI port.", 8879, minimum=1, maximum=65535),
        "user": Field("str", "WAS administrative user."),
        **_secret_fields("WAS administrative"),
        "credentials": Field("str", "`driver`: type the user and password at wsadmin's own console login prompt (never on a command line or in a file); `profile`: rely on the profile's own soap.client.props.", "driver", choices=["driver", "profile"]),
        "usejython21": Field("bool", "Pass `-usejython21 true` (WAS 9 only)."),
        "filenet_alias": Field("str", "J2C alias that Connections uses to reach FileNet.", "filenetAdmin"),
        "stop_servers": Field("bool", "Stop the application servers after the role export (HCL step 1).", True),
        "clusters": Field("list", "Only stop these clusters (default: every application server).", []),
        "servers": Field("list", "Only stop these NODE/SERVER (default: every application server).", []),
        "stop_timeout": Field("int", "Seconds to wait for servers to stop (also each node agent and the Dmgr).", 600, minimum=1, maximum=86400),
        "start_timeout": Field("int", "Seconds to wait for the Dmgr or one node agent to start (startManager.sh / startNode.sh, until ADMU3000I).", 900, minimum=1, maximum=86400),
        "startup_timeout": Field("int", "Seconds to wait for wsadmin to connect.", 180, minimum=1, maximum=3600),
        "step_timeout": Field("int", "Seconds one wsadmin step may take before wsadmin is declared hung.", 900, minimum=1, maximum=86400),
        "env": Field("map", "Extra environment for wsadmin.", {}),
    }),
    "database": Field("section", "Native database backups (HCL step 4).", section={
        "vendor": Field("str", "Database vendor.", "db2", choices=["db2", "mssql", "oracle", "none"]),
        "host": Field("str", "Host (from `hosts`) where the DB tools run (default: local, or the host with role db)."),
        "databases": Field("list", "Databases (DB2/SQL Server) to back up; default: the list for the vendor and version, plus FNGCD and FNOS with CCM.", None),
        "backup_dir": Field("str", "Directory on the DB host for the images (required unless vendor is none)."),
        "copy_back": Field("bool", "Copy images from a remote DB host into the backup set (otherwise they stay on the DB host and the manifest says where).", True),
        "concurrency": Field("int", "Databases backed up at once.", 2, minimum=1, maximum=64),
        "online": Field("bool", "DB2 online backup (needs archive logging).", False),
        "force_applications": Field("bool", "DB2: allow the instance-wide `force applications all` (never by default).", False),
        "command": Field("section", "The native tools: a path, or a command line (text), for each; by default each is found on the PATH of the user that runs it.", section={
            "db2": Field("str", "DB2 command line processor, e.g. `/home/db2inst1/sqllib/bin/db2`.", "db2"),
            "db2ckbkp": Field("str", "DB2 backup image checker.", "db2ckbkp"),
            "sqlcmd": Field("str", "SQL Server command line tool, e.g. `/opt/mssql-tools18/bin/sqlcmd`.", "sqlcmd"),
            "rman": Field("str", "Oracle Recovery Manager.", "rman"),
            "expdp": Field("str", "Oracle Data Pump export.", "expdp"),
            "impdp": Field("str", "Oracle Data Pump import.", "impdp"),
        }),
        "server": Field("str", "SQL Server instance (`host\\\\inst`).", "localhost"),
        "auth": Field("str", "`os` (DB2 instance owner, sqlcmd -E, Oracle `/ as sysdba`) or `password`.", "os", choices=["os", "password"]),
        "user": Field("str", "Database user when auth is password."),
        **_secret_fields("database"),
        "script_password_env": Field("str", "With auth `password`: the environment variable that the generated database scripts and RESTORE.md's restore commands read the password from when `password_env` is not set (they never hold the password itself).", "CNX_DB_PASSWORD"),
        "oracle": Field("section", "Oracle only.", section={
            "method": Field("str", "`rman`: one whole-database backup of the SID (every schema, and anything else in that database); `datapump`: expdp exports of the Connections schemas.", "datapump", choices=["rman", "datapump"]),
            "sid": Field("str", "ORACLE_SID of the Connections database.", "LSCONN"),
            "directory": Field("str", "Data Pump DIRECTORY object the dump files are written to.", "DATA_PUMP_DIR"),
            "directory_path": Field("str", "The folder that DIRECTORY object points to on the DB server (recorded so the dump files can be found; default: not known)."),
            "schemas": Field("list", "Schemas to export (default: the Connections schemas of the version).", None),
            "per_schema": Field("bool", "One Data Pump job per schema (false: one job for all schemas).", True),
        }),
        "timeout": Field("int", "Seconds one database backup may take.", 14400, minimum=1, maximum=604800),
        "verify_after_backup": Field("bool", "Run the vendor's verifier (db2ckbkp, RESTORE VERIFYONLY) right after each backup.", True),
        "env": Field("map", "Extra environment for the DB tools (e.g. DB2INSTANCE).", {}),
        "os_user": Field("str", "The operating-system user the DB tools run as, with its environment (README, Who runs the database tools); default: DB2 `env.DB2INSTANCE` (the instance owner), else the owner of `instance_home`'s `sqllib`; Oracle the owner of `env.ORACLE_HOME`; SQL Server and an unknown owner: the user running cnxbackup. As root the tools run through `runuser -u` this user."),
        "instance_home": Field("str", "DB2: the instance owner's home, which holds `sqllib/db2profile` (default: `os_user`'s home)."),
    }),
    "component_pack": Field("section", "The Kubernetes half of a Connections 8 deployment (absent: none): the inventory, a MongoDB dump, an OpenSearch snapshot and the persistent-volume folders.", section={
        "host": Field("str", "Host (from `hosts`) where `kubectl` and `helm` run (default: this machine).", "local"),
        "kubeconfig": Field("str", "kubeconfig file on that host (default: the tools' own, `~/.kube/config`)."),
        "namespace": Field("str", "Namespace of the Component Pack.", "connections"),
        "namespaces": Field("list", "The Component Pack's other namespaces: HCL's dedicated `apisix` (the API gateway, CR13+) and `collabora` (Collabora Online, CR15). Their Helm release records are kept and the API gateway's etcd is looked for there too; one that does not exist is skipped.", ["apisix", "collabora"]),
        "nfs_host": Field("str", "Host (from `hosts`) of the NFS master that holds the persistent volumes (default: this machine).", "local"),
        "pv_root": Field("str", "The persistent volumes' folder on the NFS master.", "/pv-connections"),
        "folders": Field("list", "PV folders to archive (each skipped with a note when it does not exist); never the live database folders (`mongo*-node-*`, `opensearch{master,data,client}-*`, `es{data,master}-7-*`, `*-apisix-etcd-*`), which the dump and the snapshots cover. `huddo-boards-s3`: Huddo Boards' object store from its chart 2.1.0 (SeaweedFS; `kudos-boards-minio` before).", ["customizations", "kudos-boards-minio", "huddo-boards-s3", "opensearchbackup", "esbackup-7"]),
        "mongodb": Field("bool", "Dump MongoDB (from a secondary, fsync-locked for the dump).", True),
        "opensearch": Field("bool", "Take an OpenSearch snapshot into the `opensearchbackup` repository folder.", True),
        "opensearch_repository": Field("str", "The fs snapshot repository (registered when missing, location `/backup`).", "os_snaps_repo"),
        "etcd": Field("str", "The API gateway's etcd (APISIX, CR12+): `etcdctl snapshot save` in one member, streamed into the set. `auto`: when an etcd StatefulSet (label `app.kubernetes.io/name=etcd`, or a name ending `-etcd`) is in `namespace` or `namespaces`; `on`: its absence is a failure; `off`: none.", "auto", choices=["auto", "on", "off"]),
        "quiesce": Field("list", "Deployments scaled to 0 for the MongoDB dump and always scaled back (e.g. `kudos-boards-cp-core`, `mw-proxy`): Boards and Customizer keep writing after the WebSphere stop otherwise.", []),
        "timeout": Field("int", "Seconds the MongoDB dump or the snapshot may take.", 14400, minimum=1, maximum=604800),
        "command": Field("section", "The tools on that host: a path or a command line each.", section={
            "kubectl": Field("str", "kubectl.", "kubectl"),
            "helm": Field("str", "helm (Helm 3).", "helm"),
        }),
        "env": Field("map", "Extra environment for kubectl and helm.", {}),
    }),
    "signing": Field("section", "Signed sets: backup signs each manifest; verify and restore accept only sets signed by a trusted key.", section={
        "key": Field("str", "The private signing key (ECDSA P-256, PEM, 0600), created by the first backup; never inside `target.dir`, and only on the backup host.", "/etc/cnxbackup/signing-key.pem"),
        "trusted_keys": Field("str", "The public keys (PEM, one or more) that verify and restore trust; keep the old ones after a key rotation.", "/etc/cnxbackup/trusted-keys"),
    }),
    "target": Field("section", "Where backup sets go.", section={
        "dir": Field("str", "Directory that receives one folder per run.", required=True),
        "free_space_margin": Field("float", "Extra room required on top of the estimated size (0.10 = 10 %).", 0.10, minimum=0.0, maximum=10.0),
        "restore_state": Field("str", "Where `restore` keeps its journal, log and private files, one folder per set and restore (`<set>/restore-<stamp>`), never inside a set: a folder only the restoring user can change (made 0700 when missing). Default: `/var/lib/cnxbackup/restores` for root, `~/.local/state/cnxbackup/restores` for others, `<demo.root>/restore-state` for the demo.", ""),
    }),
    "archive": Field("section", "Archive settings.", section={
        "level": Field("int", "zstd level.", 3, minimum=1, maximum=19),
        "threads": Field("int", "zstd threads (0 = one per core).", 0, minimum=0, maximum=256),
        "excludes": Field("list", "tar --exclude patterns.", [], options=True),
        "tar_options": Field("list", "Extra GNU tar options, e.g. [--one-file-system].", [], options=True),
        "attributes": Field("str", "Extended attributes (every namespace), POSIX ACLs and SELinux contexts, kept when archiving and restoring (`--xattrs --xattrs-include=* --acls --selinux`): `auto` when the run (or the host's ssh user) is root, `on`, `off`. A filesystem without them (NFS) is not a warning.", "auto", choices=["auto", "on", "off"]),
        "parallel": Field("int", "Archives written at once on one host.", 1, minimum=1, maximum=16),
        "mode": Field("str", "`two-phase`: every folder is archived once while the servers still run (a level-0 GNU tar incremental archive), then, after the stop, only what changed since (level 1), beside the database backups: the outage is the databases and the changes, not the whole tree. `full`: one archive per folder, after the stop.", "two-phase", choices=["two-phase", "full"]),
        "low_priority": Field("bool", "Run the archives taken while the servers still serve users (two-phase, phase 1) at low priority: `nice -n 19 ionice -c3` (ionice where the host has it).", True),
        "encrypt": Field("section", "Encryption at rest (README, Encryption at rest): every archive, copied file, Component Pack file and database image copied into the set is encrypted with GnuPG to these recipients after compression, in the stream; `verify` needs no key, `verify --deep` and `restore` need an identity (`--identity FILE` or `CNXBACKUP_IDENTITY`).", section={
            "recipients": Field("list", "The recipients' OpenPGP primary key fingerprints (40 hex digits, `gpg --fingerprint`); empty: the set is not encrypted.", []),
            "public_keys": Field("str", "The recipients' public keys (one file, armored or binary); only public keys ever sit on the backup host.", "/etc/cnxbackup/encryption-public-keys.asc"),
            "gpg": Field("str", "The GnuPG 2 command (`gpg`; `gpg2` on SLES 12).", "gpg"),
        }),
    }),
    "monitoring": Field("section", "Pings to a monitor (healthchecks.io style) and a Prometheus textfile, for `backup`; neither ever fails the backup.", section={
        "ping_url": Field("str", "The check's ping URL: the start pings `URL/start`, a success `URL`, a failure `URL/fail` (with the log's last lines, secrets masked); each with `?rid=` the run's id."),
        "start_url": Field("str", "The start ping's URL instead of `ping_url/start`."),
        "success_url": Field("str", "The success ping's URL instead of `ping_url`."),
        "fail_url": Field("str", "The failure ping's URL instead of `ping_url/fail`."),
        "timeout": Field("float", "Seconds one ping may take.", 10.0, minimum=0.1, maximum=300.0),
        "retries": Field("int", "Further attempts after a ping that failed (1 s, 2 s ... apart).", 2, minimum=0, maximum=10),
        "log_lines": Field("int", "Lines of the log the failure ping carries.", 100, minimum=1, maximum=10000),
        "body_limit": Field("int", "Bytes of a ping's body at most (healthchecks.io keeps 100 kB).", 100000, minimum=100, maximum=10000000),
        "textfile_dir": Field("str", "node-exporter's textfile collector folder: `cnxbackup_ENV.prom` is written there atomically after each backup (README, Monitoring)."),
    }),
    "hooks": Field("section", "Shell commands run on this machine around `backup`, with `CNXBACKUP_ENV`, `CNXBACKUP_SET`, `CNXBACKUP_STATUS`, `CNXBACKUP_EXIT_CODE`, `CNXBACKUP_ERROR`, `CNXBACKUP_RUN_ID` and `CNXBACKUP_CONFIG` set.", section={
        "before_backup": Field("list", "Run first, in order; one that fails aborts the backup before anything is checked or stopped.", []),
        "after_backup": Field("list", "Run after a backup that succeeded (exit 0 or 3); a failure is a warning.", []),
        "on_error": Field("list", "Run after a backup that failed, was partial or was refused; a failure is a warning.", []),
        "timeout": Field("int", "Seconds one hook command may take.", 600, minimum=1, maximum=86400),
    }),
    "hosts": Field("records", "The machines of the deployment (omit for a single host).", [], section=HOST_FIELDS),
    "demo": Field("section", "Demo only: build a sample deployment under root before backing up.", section={
        "root": Field("str", "Where the sample deployment lives.", required=True),
        "scale": Field("float", "Size factor (1.0 = a few hundred MB).", 1.0, minimum=0.001, maximum=100.0),
        "wsadmin_cell": Field("str", "Mock cell fixture for the mocked wsadmin.", "was905"),
        "ssh_hosts": Field("bool", "Start one local sshd per host whose address is `demo` (multi-host demo).", False),
    }),
}


def _where(filename: str, lines: LineMap, path: str) -> str:
    probe = path
    while probe and probe not in lines:
        probe = probe.rsplit(".", 1)[0] if "." in probe else ""
    line = lines.get(probe)
    return f"{filename}:{line}" if line else filename


def _check_scalar(value: Any, spec: Field, where: str, path: str) -> Any:
    kind = spec.kind
    if kind == "str":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise ConfigError(f"{where}: key '{path}': expected text, got {type(value).__name__}")
        if value.startswith("-"):
            raise ConfigError(f"{where}: key '{path}': {value[:40]!r} starts with '-' (it would be read as an option)")
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: key '{path}': expected a whole number, got {value!r}")
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: key '{path}': expected a number, got {value!r}")
        value = float(value)
    elif kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: key '{path}': expected true or false, got {value!r}")
    elif kind == "list":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
            raise ConfigError(f"{where}: key '{path}': expected a list of text values")
        value = [str(v) for v in value]
        if not spec.options and any(v.startswith("-") for v in value):
            raise ConfigError(f"{where}: key '{path}': an entry starts with '-' (it would be read as an option)")
    elif kind == "map":
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: key '{path}': expected a mapping")
    if spec.choices is not None and value not in spec.choices:
        raise ConfigError(f"{where}: key '{path}': must be one of {', '.join(map(str, spec.choices))}, got {value!r}")
    if spec.minimum is not None and value < spec.minimum:
        raise ConfigError(f"{where}: key '{path}': must be at least {spec.minimum}, got {value!r}")
    if spec.maximum is not None and value > spec.maximum:
        raise ConfigError(f"{where}: key '{path}': must be at most {spec.maximum}, got {value!r}")
    return value


def _validate_section(data: Any, fields: Dict[str, Field], filename: str, lines: LineMap, path: str) -> Dict[str, Any]:
    where = _where(filename, lines, path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: key '{path}': expected a mapping of keys")
    unknown = [key for key in data if key not in fields]
    if unknown:
        key = unknown[0]
        child = f"{path}.{key}" if path else key
        known = ", ".join(sorted(fields))
        raise ConfigError(f"{_where(filename, lines, child)}: unknown key '{child}' (known keys here: {known})")
    result: Dict[str, Any] = {}
    for key, spec in fields.items():
        child = f"{path}.{key}" if path else key
        value = data.get(key, _MISSING)
        if value is _MISSING or value is None:
            if spec.required and not (spec.kind == "section"):
                raise ConfigError(f"{where}: missing required key '{child}'")
            if spec.kind == "section":
                if value is _MISSING and any(f.required for f in spec.section.values()):
                    result[key] = None
                    continue
                result[key] = _validate_section({}, spec.section, filename, lines, child)
            else:
                result[key] = list(spec.default) if isinstance(spec.default, list) else (
                    dict(spec.default) if isinstance(spec.default, dict) else spec.default)
            continue
        if spec.kind == "section":
            result[key] = _validate_section(value, spec.section, filename, lines, child)
        elif spec.kind == "records":
            if not isinstance(value, list):
                raise ConfigError(f"{_where(filename, lines, child)}: key '{child}': expected a list")
            result[key] = [
                _validate_section(item, spec.section, filename, lines, f"{child}[{index}]")
                for index, item in enumerate(value)
            ]
        else:
            result[key] = _check_scalar(value, spec, _where(filename, lines, child), child)
    return result


def validate(data: Any, filename: str, lines: LineMap) -> Dict[str, Any]:
    """Validate a loaded environment file against SCHEMA and fill in defaults."""
    return _validate_section(data, SCHEMA, filename, lines, "")


def with_defaults(section: str, values: Mapping[str, Any]) -> Dict[str, Any]:
    """One section's ``values`` checked as in a file and laid over the schema's defaults
    (for code that builds settings without a file: the DB hooks' adapter, tests)."""
    return _validate_section(dict(values), SCHEMA[section].section, f"<{section} settings>", {}, section)


def _bound(value: Optional[float]) -> str:
    if value is None:
        return ""
    return f"{value:g}"


def reference_markdown() -> str:
    """The configuration reference as Markdown tables, one per section."""
    out: List[str] = []

    def table(fields: Dict[str, Field], prefix: str) -> None:
        out.append("| key | type | default | meaning |")
        out.append("|---|---|---|---|")
        nested = []
        for key, spec in fields.items():
            name = f"{prefix}{key}"
            if spec.kind in ("section", "records"):
                nested.append((name, spec))
                default = "(section)" if spec.kind == "section" else "(list of records)"
            else:
                default = "**required**" if spec.required else ("" if spec.default is None else f"`{spec.default}`")
            kind = spec.kind if not spec.choices else " \\| ".join(map(str, spec.choices))
            if spec.minimum is not None or spec.maximum is not None:
                kind += f" ({_bound(spec.minimum)}–{_bound(spec.maximum)})"
            out.append(f"| `{name}` | {kind} | {default} | {spec.doc} |")
        for name, spec in nested:
            out.append("")
            out.append(f"#### `{name}`{'[]' if spec.kind == 'records' else ''}")
            out.append("")
            out.append(spec.doc)
            out.append("")
            table(spec.section, f"{name}{'[].' if spec.kind == 'records' else '.'}")

    table(SCHEMA, "")
    return "\n".join(out) + "\n"
