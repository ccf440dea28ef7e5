"""Parsing of configuration IDs: 'name(cells/C/nodes/N/servers/S|server.xml#Server_1)'."""

import string

from cnxwas import text


def splitList(output):
    """Config IDs from AdminConfig.list() (one per line) or from a list-valued
    showAttribute ('[id1 id2]'); IDs with spaces come double-quoted."""
    output = string.strip(output or '')
    if output[:1] != '[' or output[-1:] != ']':
        ids = []
        for line in text.lines(output):
            ids.append(unquote(line))
        return ids
    output = output[1:-1]
    ids = []
    current = []
    quoted = 0
    depth = 0
    for char in output:
        if char == '"':
            quoted = not quoted
            continue
        if not quoted:
            if char == '(':
                depth = depth + 1
            elif char == ')':
                depth = depth - 1
            elif depth == 0 and string.find(' \t\r\n', char) >= 0:
                if current:
                    ids.append(string.join(current, ''))
                current = []
                continue
        current.append(char)
    if current:
        ids.append(string.join(current, ''))
    return ids


def displayName(configId):
    """'dmgr' for 'dmgr(cells/...|server.xml#Server_1)'."""
    configId = unquote(configId)
    cut = string.find(configId, '(')
    if cut < 0:
        return configId
    return configId[:cut]


def documentPath(configId):
    """'cells/C/nodes/N/servers/S' for the ID above ('' if not an ID)."""
    configId = unquote(configId)
    start = string.find(configId, '(')
    bar = string.find(configId, '|', start + 1)
    if start < 0 or bar < 0:
        return ''
    return configId[start + 1:bar]


def pathParts(configId):
    """{'cells': C, 'nodes': N, 'servers': S, ...} from the document path."""
    parts = string.split(documentPath(configId), '/')
    result = {}
    index = 0
    while index + 1 < len(parts):
        result[parts[index]] = parts[index + 1]
        index = index + 2
    return result


def unquote(value):
    value = string.strip(value or '')
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1]
    return value


def firstId(output):
    ids = splitList(output)
    if ids:
        return ids[0]
    return ''


def attribute(adminConfig, configId, name):
    """showAttribute with None for an unset value; unicode kept as is."""
    value = adminConfig.showAttribute(configId, name)
    if value is None or text.isBlank(value) or value == '[]':
        return None
    return value
