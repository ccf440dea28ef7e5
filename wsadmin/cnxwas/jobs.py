"""How the driver runs these commands inside one long wsadmin session.

The driver (driver/cnxbackup/wsadmin_session.py) starts one interactive
`wsadmin.sh -lang jython` and, instead of launching a JVM per script, sends
one-line statements at the `wsadmin>` prompt (multi-line input is not
supported interactively, reference 1.4):

    wsadmin>import sys; sys.path.insert(0, '/path/to/repo/wsadmin')
    wsadmin>from cnxwas import jobs
    wsadmin>jobs.runJob('stop_servers', ['--cluster', 'Apps', '--out', '/tmp/stop.json'], globals())
    CNXJOB-END stop_servers rc=0

runJob() is cli.run() followed by a marker line 'CNXJOB-END <name> rc=<code>'
the driver waits for; the JSON result is read from the --out file. cli.run
never calls sys.exit, so the session survives failures; it prints one
'ERROR: reason' line instead. Passwords are never passed: the session is
opened with the credentials, and no command takes one.
"""

from cnxwas import cli

END_MARKER = 'CNXJOB-END'


def runJob(name, argv, adminGlobals):
    """cli.run + an end marker line; returns the exit code too."""
    exitCode = cli.run(name, argv, adminGlobals)
    print '%s %s rc=%d' % (END_MARKER, cli.commandName(name), exitCode)
    return exitCode
