"""AdminApp role-mapping views and the Tcl-style option parser of AdminApp.edit / AdminTask.

View layout follows reference section 4.1: a 13-line preamble (indices 0..12),
first `Role:` at index 13, `Key:  value` lines with two spaces, `|`-joined lists,
Yes/No booleans, a blank line between roles.
"""
from mock_exc import ScriptingException

ROLES_PREAMBLE = [
    'MapRolesToUsers: Map special subjects, users, or groups to roles',
    '',
    'Each role that is defined in an application or module must map to a user or group',
    'from the domain user registry, or to a special subject.',
    '',
    'The accessIds are not required. They are used when users or groups from trusted',
    'realms other than the current realm are mapped.',
    '',
    'Special subjects are mapped with the columns Everyone and All authenticated.',
    'Several users or groups are separated by the | character.',
    '',
    'Changes take effect after the configuration is saved and synchronized.',
    '',
]

RUNAS_PREAMBLE = [
    'MapRunAsRolesToUsers: Map RunAs roles to users',
    '',
    'The enterprise beans that you are installing contain predefined RunAs roles.',
    'Enterprise beans that need to run as a particular role for recognition while',
    'interacting with another enterprise bean use RunAs roles.',
    '',
    'Each RunAs role is mapped to a user name and password from the user registry.',
    '',
    'The password is never displayed.',
    '',
    'Changes take effect after the configuration is saved and synchronized.',
    '',
    '',
]


def yes_no(flag):
    if flag:
        return 'Yes'
    return 'No'


def format_roles_view(app):
    lines = list(ROLES_PREAMBLE)
    first = 1
    for role in app.get('roles', []):
        if not first:
            lines.append('')
        first = 0
        lines.append('Role:  ' + role['role'])
        lines.append('Everyone?:  ' + yes_no(role.get('everyone')))
        lines.append('All authenticated?:  ' + yes_no(role.get('allAuthenticated')))
        lines.append('Mapped users:  ' + '|'.join(role.get('users', [])))
        lines.append('Mapped groups:  ' + '|'.join(role.get('groups', [])))
        lines.append('All authenticated in trusted realms?:  '
                     + yes_no(role.get('allAuthenticatedInTrustedRealms')))
        lines.append('Mapped users access ids:  ' + '|'.join(role.get('userAccessIds', [])))
        lines.append('Mapped groups access ids:  ' + '|'.join(role.get('groupAccessIds', [])))
    return lines


def format_runas_view(app):
    lines = list(RUNAS_PREAMBLE)
    first = 1
    for role in app.get('runAsRoles', []):
        if not first:
            lines.append('')
        first = 0
        lines.append('Role:  ' + role['role'])
        lines.append('User name:  ' + (role.get('user') or ''))
        lines.append('Password:  ' + (role.get('password') and '*****' or ''))
    return lines


# -- option parsing -------------------------------------------------------

def tokenize(text):
    """Split a Tcl-like option string into '[' / ']' markers and ('s', word) tuples."""
    tokens = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == '[' or c == ']':
            tokens.append(c)
            i += 1
        elif c == '"' or c == '{':
            close = (c == '"') and '"' or '}'
            j = text.find(close, i + 1)
            if j < 0:
                raise ScriptingException('WASX7123E: Unbalanced quotes or brackets in option string: %s' % text)
            tokens.append(('s', text[i + 1:j]))
            i = j + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in '[]"':
                j += 1
            tokens.append(('s', text[i:j]))
            i = j
    return tokens


def parse_nested(text):
    """Parse into nested Python lists; tolerates surplus closing brackets (ibmcnx2 quirk)."""
    root = []
    stack = [root]
    for tok in tokenize(text):
        if tok == '[':
            new = []
            stack[-1].append(new)
            stack.append(new)
        elif tok == ']':
            if len(stack) > 1:
                stack.pop()
        else:
            stack[-1].append(tok[1])
    if len(root) == 1 and isinstance(root[0], list):
        return root[0]
    return root


def as_items(options):
    """Options given as a string or as a (nested) Jython list -> flat list of items."""
    if options is None:
        return []
    if isinstance(options, (list, tuple)):
        items = []
        for item in options:
            if isinstance(item, (list, tuple)):
                items.append(_plain(item))
            else:
                items.append(unicode(item))
        return items
    return parse_nested(unicode(options))


def _plain(value):
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return unicode(value)


def option_map(options):
    """'[-a b -c "d e" -flag]' / ['-a', 'b'] -> {'-a': 'b', '-c': 'd e', '-flag': None}."""
    items = as_items(options)
    result = {}
    i = 0
    while i < len(items):
        key = items[i]
        if isinstance(key, list) or not key.startswith('-'):
            raise ScriptingException('WASX7122E: Expected "-" not found. "%s"' % (key,))
        value = None
        if i + 1 < len(items) and (isinstance(items[i + 1], list) or not items[i + 1].startswith('-')):
            value = items[i + 1]
            i += 1
        result[key] = value
        i += 1
    return result


def parse_bool(text, context):
    low = text.strip().lower()
    if low in ('yes', 'appdeploymentoption.yes'):
        return True
    if low in ('no', 'appdeploymentoption.no', ''):      # "" seen in hcl-auto 8-column rows
        return False
    raise ScriptingException('WASX7111E: Cannot find a match for supplied option: "%s" for task "MapRolesToUsers"'
                             % context)


def rows_of(value):
    if value is None:
        return []
    if value and not isinstance(value[0], list):
        return [value]
    return value


def split_bar(text):
    return [part for part in text.split('|') if part.strip() != '']


def apply_roles_edit(app, rows):
    """Apply MapRolesToUsers rows (5 to 8 columns) to app['roles'] in place."""
    by_name = {}
    for role in app.get('roles', []):
        by_name[role['role']] = role
    for row in rows_of(rows):
        context = '[' + ', '.join(row) + ']'
        if len(row) < 5 or len(row) > 8:
            raise ScriptingException('WASX7111E: Cannot find a match for supplied option: "%s" for task "MapRolesToUsers"'
                                     % context)
        role = by_name.get(row[0])
        if role is None:
            raise ScriptingException('WASX7111E: Cannot find a match for supplied option: "%s" for task "MapRolesToUsers"'
                                     % context)
        everyone = parse_bool(row[1], context)
        all_auth = parse_bool(row[2], context)
        users = split_bar(row[3])
        groups = split_bar(row[4])
        if len(row) > 5:
            role['allAuthenticatedInTrustedRealms'] = parse_bool(row[5], context)
        if len(row) > 6:
            role['userAccessIds'] = split_bar(row[6])
        elif users != role.get('users', []):
            role['userAccessIds'] = []
        if len(row) > 7:
            role['groupAccessIds'] = split_bar(row[7])
        elif groups != role.get('groups', []):
            role['groupAccessIds'] = []
        role['everyone'] = everyone
        role['allAuthenticated'] = all_auth
        role['users'] = users
        role['groups'] = groups


def apply_runas_edit(app, rows):
    by_name = {}
    for role in app.get('runAsRoles', []):
        by_name[role['role']] = role
    for row in rows_of(rows):
        context = '[' + ', '.join(row[:2] + ['*****'] * len(row[2:3])) + ']'
        role = by_name.get(len(row) and row[0] or None)
        if len(row) != 3 or role is None:
            raise ScriptingException('WASX7111E: Cannot find a match for supplied option: "%s" for task "MapRunAsRolesToUsers"'
                                     % context)
        role['user'] = row[1]
        role['password'] = row[2]
