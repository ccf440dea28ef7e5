"""Looking a user up in the federated repository (WIM / VMM) via AdminTask."""

import string

from cnxwas import text
from cnxwas.errors import OperationError

FILE_REALM_SUFFIX = 'o=defaultwimfilebasedrealm'


def findUniqueName(admin, userId):
    """The WIM unique name of `userId` (searchUsers by uid, then by
    principalName), confirmed with getUser. OperationError if not found."""
    task = admin.require('AdminTask')
    candidates = []
    for attribute in ['-uid', '-principalName']:
        candidates = text.lines(task.searchUsers([attribute, userId]))
        if candidates:
            break
    if not candidates:
        raise OperationError('user %s not found in WIM (searchUsers -uid/-principalName)' % userId)
    if len(candidates) > 1:
        raise OperationError('user %s is ambiguous in WIM: %s' % (userId, string.join(candidates, '; ')))
    uniqueName = candidates[0]
    try:
        task.getUser(['-uniqueName', uniqueName])
    except:
        raise OperationError('getUser failed for %s: %s' % (uniqueName, text.currentErrorReason()))
    return uniqueName


def isFileBased(uniqueName):
    """True when the unique name ends with o=defaultWIMFileBasedRealm (any case)."""
    lowered = string.lower(uniqueName or '')
    return lowered[-len(FILE_REALM_SUFFIX):] == FILE_REALM_SUFFIX


def fileRegistryPath(cell):
    return 'config/cells/%s/fileRegistry.xml' % cell
