"""Security-role mappings: parse AdminApp.view(app, '-MapRolesToUsers') and
build the matching AdminApp.edit option string.

A view is a preamble (task name, description) followed by blocks of
'Key:  value' lines (two spaces after the colon). Lines are split on the
first ':  ' so access IDs with ':' survive; lists are '|'-separated.
"""

import string

from cnxwas import text
from cnxwas.errors import OperationError
from cnxwas.jsonenc import boolean

# view key -> (result field, kind)
ROLE_KEYS = {
    'Role': ('role', 'text'),
    'Everyone?': ('everyone', 'bool'),
    'All authenticated?': ('allAuthenticated', 'bool'),
    'Mapped users': ('users', 'list'),
    'Mapped groups': ('groups', 'list'),
    'All authenticated in trusted realms?': ('allAuthenticatedInTrustedRealms', 'bool'),
    'Mapped users access ids': ('userAccessIds', 'list'),
    'Mapped groups access ids': ('groupAccessIds', 'list'),
}

# Order of the 8 MapRolesToUsers columns after the role name.
EDIT_COLUMNS = ['everyone', 'allAuthenticated', 'users', 'groups',
                'allAuthenticatedInTrustedRealms', 'userAccessIds', 'groupAccessIds']
BOOL_FIELDS = ['everyone', 'allAuthenticated', 'allAuthenticatedInTrustedRealms']
LIST_FIELDS = ['users', 'groups', 'userAccessIds', 'groupAccessIds']


def splitKeyValue(line):
    """('Key', 'value') of 'Key:  value', or None for other lines."""
    cut = string.find(line, ':  ')
    if cut > 0:
        return line[:cut], line[cut + 3:]
    stripped = string.rstrip(line)
    if stripped[-1:] == ':' and len(stripped) > 1:
        return stripped[:-1], ''
    return None


def splitValues(value):
    if text.isBlank(value):
        return []
    return string.split(value, '|')


def isYes(value):
    lowered = string.lower(string.strip(value or ''))
    return lowered == 'yes' or lowered == 'true' or lowered == 'appdeploymentoption.yes'


def newRole(name):
    role = {'role': name, 'users': [], 'groups': [], 'userAccessIds': [], 'groupAccessIds': []}
    for field in BOOL_FIELDS:
        role[field] = boolean(0)
    return role


def parseRolesView(viewText):
    """[{role, everyone, allAuthenticated, users, groups, ...}] in view order.
    Lines before the first 'Role:' line are preamble and ignored."""
    roles = []
    current = None
    for line in text.rawLines(viewText):
        pair = splitKeyValue(line)
        if pair is None:
            continue
        key, value = pair
        key = string.strip(key)
        if key == 'Role':
            current = newRole(value)
            roles.append(current)
            continue
        if current is None or not ROLE_KEYS.has_key(key):
            continue
        field, kind = ROLE_KEYS[key]
        if kind == 'bool':
            current[field] = boolean(isYes(value))
        elif kind == 'list':
            current[field] = splitValues(value)
        else:
            current[field] = value
    return roles


def parseRunAsView(viewText):
    """[{role, user}] from a -MapRunAsRolesToUsers view (user-name key wording
    unconfirmed: any key starting with 'user' counts; passwords are skipped)."""
    result = []
    current = None
    for line in text.rawLines(viewText):
        pair = splitKeyValue(line)
        if pair is None:
            continue
        key, value = pair
        key = string.lower(string.replace(string.strip(key), ' ', ''))
        if key == 'role':
            current = {'role': value, 'user': ''}
            result.append(current)
        elif current is not None and key[:4] == 'user':
            current['user'] = value
    return result


def quote(value):
    """A double-quoted wsadmin option value."""
    if string.find(value, '"') >= 0:
        raise OperationError('cannot pass a value containing a double quote to AdminApp.edit: %s' % value)
    return '"' + value + '"'


def yesNo(value):
    if value:
        return 'Yes'
    return 'No'


def editRow(role):
    """One 8-column row: [role everyone allAuth users groups trusted userIds groupIds]."""
    cells = [quote(role['role'])]
    for field in EDIT_COLUMNS:
        value = role.get(field)
        if field in BOOL_FIELDS:
            cells.append(yesNo(value))
        else:
            cells.append(quote(string.join(value or [], '|')))
    return '[' + string.join(cells, ' ') + ']'


def editOptions(roles):
    """The AdminApp.edit option string mapping every role in `roles`."""
    rows = []
    for role in roles:
        rows.append(editRow(role))
    return '[-MapRolesToUsers [' + string.join(rows, ' ') + ']]'


def normalized(role):
    """A comparable form of a role mapping (booleans as 1/0)."""
    result = {'role': role['role']}
    for field in BOOL_FIELDS:
        if role.get(field):
            result[field] = 1
        else:
            result[field] = 0
    for field in LIST_FIELDS:
        result[field] = list(role.get(field) or [])
    return result
