"""J2C authentication data entries (JAASAuthData). Passwords are never read."""

import string

from cnxwas import configid


def listAliases(admin):
    """[{'alias', 'userId', 'description'}] in the order wsadmin lists them."""
    config = admin.require('AdminConfig')
    result = []
    for entryId in configid.splitList(config.list('JAASAuthData')):
        result.append({
            'alias': _text(configid.attribute(config, entryId, 'alias')),
            'userId': _text(configid.attribute(config, entryId, 'userId')),
            'description': _text(configid.attribute(config, entryId, 'description')),
        })
    return result


def findAlias(aliases, name):
    """The entry named exactly `name`, else one named 'PREFIX/name' (node- or
    cell-prefixed), else None. Exact matches win; prefixed ones in list order."""
    for entry in aliases:
        if entry['alias'] == name:
            return entry
    suffix = '/' + name
    for entry in aliases:
        alias = entry['alias']
        if len(alias) > len(suffix) and alias[-len(suffix):] == suffix:
            return entry
    return None


def _text(value):
    if value is None:
        return ''
    return value
