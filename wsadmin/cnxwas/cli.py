"""Entry point shared by the scripts and the driver's in-session jobs.

run(name, argv, adminGlobals) never calls sys.exit: it prints a short summary,
writes --out FILE (FILE.tmp, then rename) and returns 0 ok, 1 failed, 2 usage.
Any exception becomes one 'ERROR: reason' line. main() is run() + sys.exit().
"""

import os
import string
import sys

from cnxwas import jsonenc, options, text
from cnxwas.admin import Admin
from cnxwas.commands import COMMANDS
from cnxwas.errors import CnxError, UsageError


def _say(line):
    """Print a summary line; non-ASCII that stdout cannot take becomes \\uXXXX."""
    try:
        print line
    except UnicodeError:
        print jsonenc.encodeString(line)[1:-1]


def commandName(name):
    """'stop_servers' for 'stop_servers', 'stop_servers.py' or a path to it."""
    name = os.path.basename(str(name))
    if name[-3:] == '.py':
        name = name[:-3]
    return name


def writeJson(path, value):
    """Write value as JSON to path.tmp, then rename it to path."""
    temporary = path + '.tmp'
    handle = open(temporary, 'w')
    try:
        handle.write(jsonenc.encode(value))
        handle.write('\n')
    finally:
        handle.close()
    try:
        os.rename(temporary, path)
    except OSError:
        os.remove(path)
        os.rename(temporary, path)


def run(name, argv, adminGlobals):
    name = commandName(name)
    if not COMMANDS.has_key(name):
        print 'ERROR: unknown command %s' % name
        return 2
    function, spec = COMMANDS[name]
    usage = options.usageLine(name + '.py', spec)
    try:
        values = options.parse(list(argv), spec)
        if values.has_key('help'):
            print usage
            return 0
        exitCode, result = function(Admin(adminGlobals), values, _say)
        outPath = values.get('out')
        if outPath and result is not None:
            writeJson(outPath, result)
            print 'wrote %s' % outPath
        return exitCode
    except UsageError, problem:
        print 'ERROR: %s (%s)' % (problem.message, usage)
        return problem.exitCode
    except CnxError, problem:
        print 'ERROR: %s' % text.oneLine(problem.message)
        return problem.exitCode
    except:
        print 'ERROR: %s' % text.currentErrorReason()
        return 1


def main(name, argv, adminGlobals):
    """For entry scripts: run() and exit with its code."""
    exitCode = run(name, argv, adminGlobals)
    sys.exit(exitCode)
