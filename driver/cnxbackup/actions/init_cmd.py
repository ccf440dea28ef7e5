"""``cnxbackup init``: a first environment file, written from what this host shows.

Detected: the WAS root and its profiles (``properties/profileRegistry.xml``; the Dmgr profile
is the one made from the ``management`` template), the cell (the Dmgr profile's one
``config/cells/<cell>`` folder), connections_root and the version (Installation Manager's
``installed.xml``), and the database vendor, host and port (the JDBC data sources in the
cell's ``resources.xml``). What cannot be detected is written as a commented question.
An existing file is never overwritten.
"""
from __future__ import annotations

import argparse
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ..config import ENV_NAME
from ..config.schema import SCHEMA
from ..databases import data_source_settings, jdbc_vendor
from ..errors import EXIT_OK, ConfigError
from ..invocation import command_line, env_argument
from ..progress import Progress
from ..versions import CONNECTIONS_OFFERING, parse_regular_xml
from .sets.identity import single_cell


@dataclass
class Found:
    """What the host shows; ``questions`` are what it does not."""

    was_root: str
    dmgr_profile: Optional[str] = None
    profiles: List[str] = field(default_factory=list)
    cell: Optional[str] = None
    connections_root: Optional[str] = None
    version: Optional[str] = None
    vendor: Optional[str] = None
    db_host: Optional[str] = None
    db_port: Optional[int] = None
    databases: List[str] = field(default_factory=list)
    ccm: bool = False
    im_install: Optional[str] = None
    im_shared: Optional[str] = None
    notes: List[str] = field(default_factory=list)
    questions: List[str] = field(default_factory=list)


def _profiles(was_root: str) -> Tuple[Optional[str], List[str]]:
    """(Dmgr profile, the other profiles) from profileRegistry.xml."""
    registry = os.path.join(was_root, "properties", "profileRegistry.xml")
    try:
        root = parse_regular_xml(registry).getroot()
    except (OSError, ET.ParseError):
        return None, []
    dmgr, others = None, []
    for profile in root.iter("profile"):
        path, template = profile.get("path") or "", profile.get("template") or ""
        if not path:
            continue
        if os.path.basename(template.rstrip("/")) in ("management", "dmgr") and dmgr is None:
            dmgr = path
        else:
            others.append(path)
    return dmgr, others


def _connections(im_data: str) -> Tuple[Optional[str], Optional[str]]:
    """(connections_root, version) from the Connections package in installed.xml."""
    try:
        root = parse_regular_xml(os.path.join(im_data, "installed.xml")).getroot()
    except (OSError, ET.ParseError):
        return None, None
    for location in root.iter("location"):
        for package in location.iter("package"):
            if package.get("id") == CONNECTIONS_OFFERING:
                return location.get("path"), package.get("version")
    return None, None


def _data_sources(cell_dir: str) -> Tuple[Optional[str], Optional[str], Optional[int], List[str]]:
    """(vendor, host, port, database names) of the JDBC data sources defined at cell scope."""
    try:
        root = parse_regular_xml(os.path.join(cell_dir, "resources.xml")).getroot()
    except (OSError, ET.ParseError):
        return None, None, None, []
    vendor = host = None
    port: Optional[int] = None
    names: List[str] = []
    for provider in root.iter():
        if not provider.tag.endswith("JDBCProvider"):
            continue
        implementation = provider.get("implementationClassName") or ""
        found = jdbc_vendor(implementation)  # by the JDBC driver of WebSphere's own provider templates
        if found is None:
            continue
        vendor = vendor or found
        for prop in provider.iter("resourceProperties"):
            name, value = prop.get("name"), prop.get("value") or ""
            if name == "serverName" and value and host is None:
                host = value
            elif name == "portNumber" and value.isdigit() and port is None:
                port = int(value)
            elif name == "databaseName" and value and value.upper() not in names:
                names.append(value.upper())
    return vendor, host, port, names


def detect(was_root: str, im_data: str) -> Found:
    found = Found(was_root=was_root)
    found.dmgr_profile, found.profiles = _profiles(was_root)
    if found.dmgr_profile is None:
        found.questions.append(f"no Dmgr profile in {was_root}/properties/profileRegistry.xml: where is it "
                               "(paths.dmgr_profile)? Is this the Dmgr host?")
    else:
        try:
            names = os.listdir(os.path.join(found.dmgr_profile, "config", "cells"))
        except OSError:
            names = []
        found.cell = single_cell([n for n in names if os.path.isdir(os.path.join(found.dmgr_profile, "config", "cells", n))])
        if found.cell is None:
            found.questions.append(f"no single cell under {found.dmgr_profile}/config/cells")
    found.connections_root, found.version = _connections(im_data)
    if found.version is None:
        found.questions.append(f"Connections not found in {im_data}/installed.xml: set connections.version and "
                               "paths.connections_root")
    if found.cell is not None and found.dmgr_profile is not None:
        cell_dir = os.path.join(found.dmgr_profile, "config", "cells", found.cell)
        found.vendor, found.db_host, found.db_port, found.databases = _data_sources(cell_dir)
    if found.connections_root:  # CCM installs FileNet under connections_root (addons/ccm before 6.0 CR6)
        found.ccm = any(os.path.isdir(os.path.join(found.connections_root, *part)) for part in
                        (("FileNet", "ContentEngine"), ("addons", "ccm")))
    ibm_root = os.path.dirname(os.path.dirname(was_root.rstrip("/")))  # /opt/IBM of /opt/IBM/WebSphere/AppServer
    for attr, name in (("im_install", "InstallationManager"), ("im_shared", "IMShared")):
        where = next((p for p in (os.path.join(ibm_root, name), os.path.join("/opt/IBM", name)) if os.path.isdir(p)), None)
        setattr(found, attr, where)
        if where is None:
            found.questions.append(f"Installation Manager's {name} folder not found (paths.{attr})")
    if found.vendor is None:
        found.questions.append("no JDBC data source of DB2, SQL Server or Oracle in the cell's resources.xml: "
                               "which database vendor (database.vendor)?")
    return found


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(found: Found, target: str, im_data: str) -> str:
    """The environment file: detected values, sensible defaults marked CHECK, questions as comments."""
    lines = ["# Written by `cnxbackup init` from what this host shows. Every key: README.md,",
             "# \"Configuration reference\". Lines marked CHECK are defaults to confirm; QUESTION lines",
             "# are what could not be detected. Run `cnxbackup plan --env <this file>` until it passes.", ""]
    for question in found.questions:
        lines.append(f"# QUESTION: {question}")
    if found.questions:
        lines.append("")
    lines += ["connections:",
              "  version: auto            # read from installed.xml at every run"
              + (f" (now {found.version})" if found.version else ""),
              f"  ccm: {'true' if found.ccm else 'false'}" + " " * (19 - len(str(found.ccm)))
              + "# CHECK: Connections Content Manager (FileNet)" + (" found" if found.ccm else " not found"),
              "  in_place_upgrade: true   # CHECK: an in-place upgrade also backs up the Installation Manager folders",
              "", "paths:",
              f"  was_root: {_quote(found.was_root)}"]
    if found.dmgr_profile:
        lines.append(f"  dmgr_profile: {_quote(found.dmgr_profile)}" + (f"   # cell {found.cell}" if found.cell else ""))
    else:
        lines.append("  # dmgr_profile: QUESTION (see above)")
    lines.append("  profiles:" + ("" if found.profiles else " []   # QUESTION: no other profile found"))
    lines += [f"    - {_quote(path)}" for path in found.profiles]
    lines.append(f"  im_data: {_quote(im_data)}")
    for attr in ("im_install", "im_shared"):
        value = getattr(found, attr)
        lines.append(f"  {attr}: {_quote(value)}" if value else f"  # {attr}: QUESTION (see above)")
    if found.connections_root:
        lines.append(f"  connections_root: {_quote(found.connections_root)}")
        lines.append(f"  shared_data: {_quote(os.path.join(found.connections_root, 'data', 'shared'))}   "
                     "# CHECK: often an NFS mount elsewhere")
    lines += ["  extra: []                # e.g. IBM HTTP Server's conf/ and plugin keystores, the TDI solution folder",
              "", "wsadmin:"]
    if found.dmgr_profile:
        lines.append(f"  command: {_quote(os.path.join(found.dmgr_profile, 'bin', 'wsadmin.sh'))}")
    lines += ["  user: wasadmin           # CHECK: the WAS administrative user",
              "  password_env: CNX_WAS_PASSWORD   # or password_file: /etc/cnxbackup/was-password (mode 0600)",
              "", "database:"]
    vendor = found.vendor or SCHEMA["database"].section["vendor"].default
    lines.append(f"  vendor: {vendor}" + ("" if found.vendor else "   # QUESTION: db2, mssql or oracle"))
    detected: Dict[str, str] = {}
    if found.db_host:
        port, detected = data_source_settings(vendor, found.db_host, found.db_port)
        lines.append(f"  # the data sources point at {found.db_host}:{port}; list that machine under hosts: (role db)")
        lines.append("  # when it is not this one, and set database.host to its name")
    if found.databases:
        lines.append(f"  # data sources found for: {', '.join(found.databases)} (the defaults of the version are used)")
    lines.append(f"  backup_dir: {_quote(os.path.join(os.path.dirname(target.rstrip('/')) or '/', vendor))}   "
                 "# CHECK: written by the database server's own user, with room for every image")
    lines += [f"  {key}: {_quote(value)}" for key, value in detected.items()]
    lines += ["", "target:", f"  dir: {_quote(target)}   # CHECK: where backup sets go (not inside the trees above)", ""]
    return "\n".join(lines)


def run_init(args: argparse.Namespace, progress: Progress) -> int:
    """Write environments/NAME.yaml (or ``--output``); never over an existing file."""
    if not ENV_NAME.fullmatch(args.env):
        raise ConfigError(f"--env {args.env!r}: a name of letters, digits, '-', '_' and '.' (not first)")
    path = os.path.abspath(args.output or os.path.join("environments", f"{args.env}.yaml"))
    if os.path.lexists(path):
        raise ConfigError(f"{path} exists; init never overwrites a file (remove it, or choose --output)")
    # the file's paths are absolute: a relative one would mean another place from another folder
    was_root, im_data, target = (os.path.abspath(p) for p in (args.was_root, args.im_data, args.target))
    found = detect(was_root, im_data)
    if found.dmgr_profile is None and not found.profiles and found.version is None:
        raise ConfigError(f"init found neither WebSphere nor Connections, so wrote nothing: no profile in "
                          f"{os.path.join(was_root, 'properties', 'profileRegistry.xml')} (--was-root) and no "
                          f"Connections package in {os.path.join(im_data, 'installed.xml')} (--im-data); run init "
                          "on the Dmgr host, or give --was-root and --im-data")
    text = render(found, target, im_data)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    summary: Dict[str, Optional[str]] = {"cell": found.cell, "Connections": found.version, "database": found.vendor,
                                         "Dmgr profile": found.dmgr_profile}
    progress.message(f"wrote {path}: " + ", ".join(f"{k} {v or 'not found'}" for k, v in summary.items()))
    for question in found.questions:
        progress.message(f"QUESTION: {question}")
    progress.outcome.details.update({"file": path, "found": summary, "questions": list(found.questions)})
    # said after what the file holds: defaults to confirm (CHECK), and what could not be detected (QUESTION)
    todo = (f"answer the QUESTION lines of {path} and review its CHECK lines" if "QUESTION" in text
            else f"review the CHECK lines of {path}")
    progress.message(f"next: {todo}, then run: {command_line('plan', '--env', env_argument(path))}")
    return EXIT_OK
