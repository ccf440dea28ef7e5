"""Holds the wsadmin Admin objects, passed in once from a namespace.

Entry scripts pass their globals(); the driver's in-session job passes the
interactive namespace. Nothing else in cnxwas looks at globals.
"""

import string

from cnxwas.errors import OperationError

ADMIN_NAMES = ['AdminConfig', 'AdminControl', 'AdminApp', 'AdminTask']


class Admin:
    def __init__(self, adminGlobals):
        for name in ADMIN_NAMES:
            if adminGlobals.has_key(name):
                setattr(self, name, adminGlobals[name])
            else:
                setattr(self, name, None)

    def require(self, name):
        value = getattr(self, name)
        if value is None:
            raise OperationError('%s is not available (is wsadmin connected to the dmgr?)' % name)
        return value


def cellName(admin):
    """Name of the cell wsadmin is connected to."""
    config = admin.require('AdminConfig')
    for line in string.split(config.list('Cell') or '', '\n'):
        line = string.strip(line)
        if line:
            cut = string.find(line, '(')
            if cut > 0:
                return str(string.replace(line[:cut], '"', ''))
    control = admin.require('AdminControl')
    return str(control.getCell())
