"""Default Connections database names per vendor and release (connections.md §2.1 / §2.2).

These are only the installer defaults; real deployments rename or omit databases
(XCC, ESSAPPS, FNGCD, FNOS, PNS most often), so configuration or the WAS data sources win.
"""
from __future__ import annotations

import re

# DB2 / SQL Server: one database per application (installer defaults, [AUTO] __cnx_db_info).
BASE_DATABASES = ["OPNACT", "BLOGS", "DOGEAR", "SNCOMM", "FILES", "FORUM", "HOMEPAGE", "METRICS",
                  "MOBILE", "PEOPLEDB", "PNS", "WIKIS"]
XCC_FROM = (6, 0, 3)  # Community Highlights / ICEC arrived with 6.0 CR3
ESSAPPS_FROM = (7, 0, 0)  # Feature Foundation / IC360 arrived with 7.0
CCM_DATABASES = ["FNGCD", "FNOS"]

# Oracle: one database (SID, default LSCONN) holding one user/schema per application.
# ICEC's user is "ICEC" in the HCL docs but "XCC" in HCL's automation (UNCONFIRMED which is real):
# we default to XCC like the automation; configure `oracle.schemas` to override.
ORACLE_BASE_SCHEMAS = ["OAUSER", "BLOGSUSER", "DOGEARUSER", "SNCOMMUSER", "FILESUSER", "DFUSER",
                       "HOMEPAGEUSER", "METRICSUSER", "MOBILEUSER", "PROFUSER", "PNSUSER", "WIKISUSER"]
ORACLE_XCC_SCHEMA = "XCC"
ORACLE_ESSAPPS_SCHEMA = "ESSUSER"
ORACLE_CCM_SCHEMAS = ["FNGCDUSER", "FNOSUSER"]


def parse_version(text: str) -> tuple[int, int, int]:
    """'6.0 CR3', '6.0.0.0_CR3', '6.5' (= 6.0 CR6 line), '8.0.0.0_CR14' -> (major, minor, cr).

    6.5 is treated as at least 6.0 CR6 (HCL: "CR releases for Connections 6 CR6 are considered
    part of the Connections 6.5 release").
    """
    numbers = re.findall(r"\d+", text.split("_")[0].split()[0]) if text.strip() else []
    if len(numbers) < 2:
        raise ValueError("cannot parse Connections version %r (expected e.g. '6.5', '7.0', '8.0 CR3')" % text)
    major, minor = int(numbers[0]), int(numbers[1])
    cr_match = re.search(r"(?i)CR\s*(\d+)", text)
    cr = int(cr_match.group(1)) if cr_match else 0
    if (major, minor) == (6, 5):
        return 6, 0, max(cr, 6)
    return major, minor, cr


def default_databases(vendor: str, connections_version: str, ccm: bool) -> list[str]:
    """Default database names (DB2, SQL Server) or Oracle schema users for a release.

    Raises ValueError for an unknown vendor or an unparsable version.
    """
    version = parse_version(connections_version)
    if vendor in ("db2", "mssql"):
        names = list(BASE_DATABASES)
        if version >= XCC_FROM:
            names.append("XCC")
        if version >= ESSAPPS_FROM:
            names.append("ESSAPPS")
        if ccm:
            names.extend(CCM_DATABASES)
        return names
    if vendor == "oracle":
        names = list(ORACLE_BASE_SCHEMAS)
        if version >= XCC_FROM:
            names.append(ORACLE_XCC_SCHEMA)
        if version >= ESSAPPS_FROM:
            names.append(ORACLE_ESSAPPS_SCHEMA)
        if ccm:
            names.extend(ORACLE_CCM_SCHEMAS)
        return names
    raise ValueError("unknown database vendor %r (expected db2, mssql or oracle)" % vendor)
