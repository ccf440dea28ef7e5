# check_filenet_admin.py - see README.md, "Running the wsadmin scripts by hand".  Run from the Dmgr's bin folder:
#   wsadmin.sh -lang jython -f <repo>/wsadmin/check_filenet_admin.py --help
# Must stay Jython 2.1 compatible (tools/check_jython21.py).
import os
import string
import sys

SCRIPT_FILE = 'check_filenet_admin.py'


def environment(name):
    if os.environ.has_key(name):
        return os.environ[name]
    return ''


# The lines up to the import below repeat in every entry script on purpose: they are what
# finds the shared cnxwas package, so they cannot live in it.
def findScriptDir():
    """This script's folder: __file__ is undefined under wsadmin, so read -f
    from IBM_JAVA_COMMAND_LINE, then CNXBACKUP_WSADMIN_DIR, then the cwd."""
    candidates = []
    commandLine = environment('IBM_JAVA_COMMAND_LINE')
    start = string.find(string.lower(commandLine), ' -f ')
    end = string.find(commandLine, SCRIPT_FILE, start + 1)
    if start >= 0 and end > start:
        path = string.strip(commandLine[start + 4:end])
        path = string.replace(string.replace(path, '"', ''), "'", '')
        candidates.append(os.path.dirname(os.path.abspath(path + SCRIPT_FILE)))
    candidates.append(environment('CNXBACKUP_WSADMIN_DIR'))
    candidates.append(os.getcwd())
    candidates.append(os.path.join(os.getcwd(), 'wsadmin'))
    for folder in candidates:
        if folder and os.path.isfile(os.path.join(folder, 'cnxwas', 'cli.py')):
            return folder
    return os.getcwd()


sys.path.insert(0, findScriptDir())
from cnxwas import cli

cli.main(SCRIPT_FILE, sys.argv, globals())
