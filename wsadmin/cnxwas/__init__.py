# cnxwas: shared Jython package of the cnxbackup wsadmin scripts.
#
# Every module here must run unchanged on Jython 2.1 (WAS 8.5.5) and Jython 2.7
# (WAS 9): no True/False/bool/dict()/sorted/..., no generators, no nested scopes,
# has_key instead of `in` on dicts, find() instead of substring `in`.
# `jython tools/check_jython21.py wsadmin` enforces this.
#
# Modules (one job each):
#   admin    - the Admin objects, handed in once from the entry script's globals
#   errors   - UsageError (exit 2) and OperationError (exit 1)
#   text     - splitting wsadmin output into lines, error reasons
#   jsonenc  - JSON encoder/decoder (Jython 2.1 has no json module)
#   options  - GNU long options on top of getopt
#   configid - config-ID parsing
#   aliases  - J2C authentication data (never passwords)
#   wim      - WIM user lookup
#   roles    - MapRolesToUsers view parser and edit builder
#   servers  - stop/start application servers with polling
#   commands - one function per script
#   cli      - run(name, argv, adminGlobals) -> exit code; main() for scripts
#   (the driver calls cli.run inside one wsadmin session: templates/wsadmin/job_step.py.j2)
