"""Who runs the database tools, and the switch to that user (docs/database-users.md).

The tools run as their owner (DB2: the instance owner; Oracle: the software owner) with that
owner's environment: ``/bin/sh -c SCRIPT sh ARGS... TOOL ARGV...``, where SCRIPT sources the
vendor's profile and then ``exec "$@"``, so the tool's argv reaches it word for word (nothing is
quoted into a string) and its exit code is the tool's own. As root, and when the owner is another
user, ``runuser -u OWNER --`` goes in front: not a login shell (``su -`` prints into parsed output
and drops the environment, SQLCMDPASSWORD and the fakes' variables included), the caller's
environment kept, the owner's groups set by ``initgroups``.
"""
from __future__ import annotations

import dataclasses
import grp
import os
import pwd
from typing import List, Optional, Sequence

RUNUSER = "runuser"


@dataclasses.dataclass(frozen=True)
class ToolUser:
    """The user the tools run as: ``name`` (None: the user running cnxbackup, nothing switched),
    ``source`` (what chose it, for the plan), ``script``/``args`` (the shell that sets its environment)."""

    name: Optional[str]
    source: str
    script: str = 'exec "$@"'
    args: Sequence[str] = ()


def current_user() -> str:
    """The name of the user running this process (its uid when it has no name)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def owner_of(path: str) -> Optional[str]:
    """The user that owns ``path`` here (None: no such path, or a uid without a name)."""
    try:
        return pwd.getpwuid(os.stat(path).st_uid).pw_name
    except (OSError, KeyError):
        return None


def home_of(user: str) -> Optional[str]:
    """``user``'s home folder here (None: no such user)."""
    try:
        return pwd.getpwnam(user).pw_dir
    except KeyError:
        return None


def groups_of(user: str) -> List[str]:
    """The names of ``user``'s groups here, primary first (empty: no such user)."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return []
    names = []
    for gid in [entry.pw_gid] + [g for g in os.getgrouplist(user, entry.pw_gid) if g != entry.pw_gid]:
        try:
            names.append(grp.getgrgid(gid).gr_name)
        except KeyError:
            names.append(str(gid))
    return names


def primary_group_of(user: str) -> Optional[str]:
    """``user``'s primary group name here (None: no such user)."""
    found = groups_of(user)
    return found[0] if found else None


def needs_switch(user: ToolUser, as_user: Optional[str] = None) -> bool:
    """Whether the tools must change user: the owner is known and is not who runs them (``as_user``,
    by default this process's user)."""
    return user.name is not None and user.name != (as_user or current_user())


def switch_prefix(user: ToolUser, as_user: Optional[str] = None) -> List[str]:
    """The words before a tool's argv: ``[runuser -u OWNER --] /bin/sh -c SCRIPT sh ARGS...``; none
    when there is neither a user to switch to nor an environment to set."""
    shell = ["/bin/sh", "-c", user.script, "sh", *user.args]
    if needs_switch(user, as_user):
        return [RUNUSER, "-u", str(user.name), "--", *shell]
    return shell if user.args else []


def switch_problem(user: ToolUser) -> Optional[str]:
    """Why this process cannot run the tools as ``user`` here (None: it can)."""
    if user.name is None:
        return None
    if home_of(user.name) is None:
        return f"the database tools' user {user.name} ({user.source}) does not exist on this host"
    if needs_switch(user) and os.geteuid() != 0:
        return (f"the database tools run as {user.name} ({user.source}), but cnxbackup runs as {current_user()}: "
                f"run it as root or as {user.name}")
    return None
