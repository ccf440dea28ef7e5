"""Entry point of the mock wsadmin (run by ../wsadmin.sh under Jython 2.7).

Emulates WebSphere's com.ibm.ws.scripting.WasxShell: option parsing, connection and
authentication against the cell fixture, banners, -f / -c / interactive modes,
WASX7017E/WASX7015E error reporting, exit codes, Jython 2.1 mode.
"""
import os
import sys
import time
import base64
import traceback

import java

MOCK_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, MOCK_DIR)


def _find_repo_root(start):
    """The checkout holding tools/check_jython21.py; inside the zipapp there is none (no check)."""
    path = start
    while 1:
        if os.path.isfile(os.path.join(path, 'tools', 'check_jython21.py')):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            return start
        path = parent


REPO_ROOT = _find_repo_root(MOCK_DIR)

import mock_state
import mock_admin
import mock_jython21
from mock_exc import JavaStyleException
import com.ibm.ws.scripting                           # noqa: makes the stand-in package importable
import com.ibm.websphere.management.exception         # noqa

VALUED_OPTIONS = ['-lang', '-conntype', '-host', '-port', '-user', '-username', '-password', '-javaoption',
                  '-p', '-profile', '-f', '-c', '-wsadmin_classpath', '-profilename', '-tracefile',
                  '-appendtrace', '-jobid', '-ipchost', '-usejython21']
HELP_OPTIONS = ['-h', '-help', '-?']
BSF_JYTHON = 'com.ibm.bsf.BSFException: exception from Jython:'


def out(line):
    sys.stdout.write(line + '\n')
    sys.stdout.flush()


def read_java_properties(path):
    props = {}
    f = open(path)
    try:
        for raw in f.read().splitlines():
            line = raw.strip()
            if not line or line[0] in '#!':
                continue
            sep = min([i for i in (line.find('='), line.find(':')) if i >= 0] or [len(line)])
            props[line[:sep].strip()] = line[sep + 1:].strip()
    finally:
        f.close()
    return props


def decode_password(value):
    """WebSphere {xor} encoding: base64 of the bytes XOR '_'."""
    if value and value.startswith('{xor}'):
        data = base64.b64decode(value[5:])
        return ''.join([chr(ord(c) ^ ord('_')) for c in data])
    return value


def parse_args(argv, was_version):
    opts = {'-javaoption': [], '-profile': [], '-c': [], '-p': []}
    params = []
    valued = list(VALUED_OPTIONS)
    if was_version.startswith('8.5'):
        valued.remove('-usejython21')          # WAS 8.5.5 does not know it: becomes a script parameter
    i = 0
    while i < len(argv):
        arg = argv[i]
        low = arg.lower()
        if '-f' in opts:
            params.append(arg)
        elif low in HELP_OPTIONS or arg == '':
            opts['help'] = 1
        elif low in valued and i + 1 < len(argv):
            key = low == '-username' and '-user' or low
            if key in ('-javaoption', '-profile', '-c', '-p'):
                opts[key].append(argv[i + 1])
            else:
                opts[key] = argv[i + 1]
            i += 1
        else:
            params.append(arg)
        i += 1
    return opts, params


class Launch:
    def __init__(self, argv):
        self.argv = argv
        cell_path = os.environ.get('CNXMOCK_CELL')
        if not cell_path or not os.path.isfile(cell_path):
            sys.stderr.write('mock wsadmin: set CNXMOCK_CELL to a cell fixture JSON file\n')
            sys.exit(2)
        self.store = mock_state.Store(cell_path, os.environ.get('CNXMOCK_STATE'), os.environ.get('CNXMOCK_LOG'))
        self.state = self.store.read()
        self.version = self.state.get('wasVersion', '9.0.5.0')
        self.opts, self.params = parse_args(argv, self.version)
        self.java_props = {}
        for option in self.opts['-javaoption']:
            for part in option.split():
                if part.startswith('-D') and '=' in part:
                    key, value = part[2:].split('=', 1)
                    self.java_props[key] = value
        self.props = {}
        for path in self.opts['-p']:
            self.props.update(read_java_properties(path))
        config_url = self.java_props.get('com.ibm.SOAP.ConfigURL')
        if config_url:
            path = config_url
            if path.startswith('file:'):
                path = path[5:]
                while path.startswith('//'):
                    path = path[1:]
            if os.path.isfile(path):
                self.props.update(read_java_properties(path))
        for entry in self.java_props.get('python.path', '').split(os.pathsep):
            if entry:
                sys.path.append(entry)
        flag = self.opts.get('-usejython21', self.props.get('com.ibm.ws.scripting.usejython21', 'false'))
        if self.version.startswith('8.5') or flag.lower() == 'true':
            self.mode = 'jython21'
        else:
            self.mode = 'jython27'
        self.lang = (self.opts.get('-lang') or self.props.get('com.ibm.ws.scripting.defaultLang') or 'jacl').lower()
        self.conntype = (self.opts.get('-conntype') or self.props.get('com.ibm.ws.scripting.connectionType')
                         or 'SOAP').upper()
        self.credential_source = self.find_credentials()
        self.store.log({'event': 'launch', 'argv': mock_state.mask_argv(argv), 'mode': self.mode,
                        'credentialSource': self.credential_source})

    # -- credentials -----------------------------------------------------------
    def find_credentials(self):
        """Sets self.user/self.password from -user/-password or the properties files and returns
        how they are supplied: 'argv', 'props', 'prompt' (console login at connect time) or None
        (nothing needed: security off, -conntype NONE, help, unsupported language)."""
        argv_user, argv_password = self.opts.get('-user'), self.opts.get('-password')
        self.user = argv_user or self.props.get('com.ibm.SOAP.loginUserid') \
            or self.props.get('com.ibm.CORBA.loginUserid')
        self.password = decode_password(argv_password or self.props.get('com.ibm.SOAP.loginPassword')
                                        or self.props.get('com.ibm.CORBA.loginPassword'))
        if self.opts.get('help') or self.lang not in ('jython', 'jacl') or self.conntype == 'NONE':
            return None
        if self.user and self.password:
            return (argv_user or argv_password) and 'argv' or 'props'
        if self.state.get('securityEnabled', 1):
            return 'prompt'
        return None

    def login_at_console(self):
        """The console login of com.ibm.SOAP.loginSource=prompt (headless) / stdin: realm, user and
        password read line by line from stdin. Returns 0 when the login cannot succeed (EOF, wrong realm)."""
        realm = ask_line('Realm/Cell Name: <default>')
        if realm is None:
            return 0
        user = ask_line('Username: ')
        if user is None:
            return 0
        password = ask_secret('Password: ')
        if password is None:
            return 0
        self.user, self.password = user, password
        realm = realm.strip()
        accepted = ['', self.state.get('realm', ''), self.state.get('cell', '')]     # which names count: [U], lenient
        return realm.lower() in [name.lower() for name in accepted]

    # -- connection --------------------------------------------------------
    def connect(self):
        conntype = self.conntype
        if conntype == 'NONE':
            out('WASX7357I: By request, this scripting client is not connected to any server process. '
                'Certain configuration and application operations will be available in local mode.')
            return None
        state = self.state
        logged_in = 1
        if self.credential_source == 'prompt':
            # The client gathers credentials before it tries the connection: [U], the prompt comes first.
            logged_in = self.login_at_console()
        host = self.opts.get('-host') or self.props.get('com.ibm.ws.scripting.host') or 'localhost'
        if conntype == 'RMI':
            expected_port = unicode(state.get('dmgrRmiPort', 9809))
        else:
            expected_port = unicode(state.get('dmgrPort', 8879))
        port = self.opts.get('-port') or self.props.get('com.ibm.ws.scripting.port') or expected_port
        known_hosts = ['localhost', '127.0.0.1', state.get('dmgrHost', 'localhost')]
        if not state.get('dmgrRunning', 1) or host not in known_hosts or port != expected_port \
                or conntype not in ('SOAP', 'RMI'):
            out('WASX7023E: Error creating "%s" connection to host "%s"; exception information: '
                'com.ibm.websphere.management.exception.ConnectorNotAvailableException: '
                'com.ibm.websphere.management.exception.ConnectorNotAvailableException: ADMC0016E: '
                'The system cannot create a %s connector to connect to host %s at port %s.'
                % (conntype, host, conntype, host, port))
            return self.not_connected()
        if state.get('securityEnabled', 1):
            if not logged_in or self.user != state.get('adminUser') or self.password != state.get('adminPassword'):
                out('WASX7246E: Cannot establish "%s" connection to host "%s" because of an authentication failure. '
                    'Ensure that user and password are correct on the command line or in a properties file.'
                    % (conntype, host))
                # the server's refusal follows on a line of its own (as public transcripts show it)
                out('Exception message (if any): "ADMN0022E: Access is denied for the getProcessType operation on '
                    'Server MBean because of insufficient or empty credentials."')
                return self.not_connected()
        dmgr = [s for s in state['servers'] if s.get('type') == 'DEPLOYMENT_MANAGER'][0]
        out('WASX7209I: Connected to process "%s" on node %s using %s connector;  The type of process is: '
            'DeploymentManager' % (dmgr['name'], dmgr['node'], conntype))
        return 1

    def not_connected(self):
        out('WASX7213I: This scripting client is not connected to a server process; please refer to the log file '
            '%s/logs/wsadmin.traceout for additional information.'
            % self.state.get('profileRoot', '/opt/IBM/WebSphere/AppServer/profiles/Dmgr01'))
        out('WASX8011W: AdminTask object is not available.')
        return 0

    # -- namespace -----------------------------------------------------------
    def build_namespace(self, session):
        ns = {'__name__': '__main__', '__doc__': None,
              'AdminConfig': mock_admin.AdminConfig(session), 'AdminTask': mock_admin.AdminTask(session),
              'AdminApp': mock_admin.AdminApp(session), 'AdminControl': mock_admin.AdminControl(session),
              'AdminNodeManagement': mock_admin.AdminNodeManagement(session), 'Help': mock_admin.Help(session),
              'sys': sys, 'java': java, 'lineSeparator': session.s(java.lang.System.getProperty('line.separator'))}
        return ns

    # -- error formatting ----------------------------------------------------
    def format_exception(self, etype, value, tb):
        """Lines after 'exception information: ' -- Java-style or BSF Jython traceback."""
        if isinstance(value, JavaStyleException):
            return [str(value)]
        frames = [f for f in traceback.extract_tb(tb) if not f[0].startswith(MOCK_DIR)]
        lines = [BSF_JYTHON]
        if self.mode == 'jython21':
            lines.append('Traceback (innermost last):')
        else:
            lines.append('Traceback (most recent call last):')
        for filename, lineno, func, text in frames:
            if self.mode == 'jython21' and func == '<module>':
                func = '?'
            lines.append('  File "%s", line %d, in %s' % (filename, lineno, func))
            if text:
                lines.append('    ' + text.strip())
        if issubclass(etype, SyntaxError) and not frames:
            tail = traceback.format_exception_only(etype, value)
            lines.extend(''.join(tail).rstrip('\n').split('\n'))
        else:
            message = self.exception_message(etype, value)
            lines.append(message)
        return lines

    def exception_message(self, etype, value):
        text = ''.join(traceback.format_exception_only(etype, value)).rstrip('\n')
        if self.mode == 'jython21' and etype is NameError:
            msg = str(value)
            for prefix in ("global name '", "name '"):
                if msg.startswith(prefix) and msg.endswith("' is not defined"):
                    return 'NameError: ' + msg[len(prefix):-len("' is not defined")]
        return text

    # -- modes --------------------------------------------------------------
    def run(self):
        if self.opts.get('help'):
            out('WASX7001I: wsadmin is the executable for WebSphere scripting (mock).')
            return 0
        if self.lang not in ('jython', 'jacl'):
            out('WASX7112E: Language "%s" is not supported.' % self.lang)
            return 105
        connected = self.connect()
        if self.params:
            shown = ', '.join([p.replace('\\', '\\\\') for p in self.params])
            out('WASX7303I: The following options are passed to the scripting environment and are available as '
                'arguments that are stored in the argv variable: "[%s]"' % shown)
        if self.lang == 'jacl':
            return self.run_jacl()
        if connected is not None:
            connected = bool(connected)      # True: connected, False: failed, None: -conntype NONE
        session = mock_admin.Session(self.store, self.mode, connected, self.conntype, out)
        self.session = session
        ns = self.build_namespace(session)
        sys.argv = list(self.params)
        checker = None
        if self.mode == 'jython21':
            module, path = mock_jython21.load_checker(REPO_ROOT)
            checker = mock_jython21.make_checker(module)
            privileged = [MOCK_DIR]
            if path:
                privileged.append(os.path.dirname(path))
            restriction = mock_jython21.Restriction(privileged, checker)
            restriction.enter()
        self.checker = checker
        for profile in self.opts['-profile']:
            code = self.run_file(profile, ns)
            if code is not None:
                return code
        if '-f' in self.opts:
            code = self.run_file(self.opts['-f'], ns)
            if session.changed:
                out('WASX7309W: No "save" was performed before the script "%s" exited; '
                    'configuration changes will not be saved.' % self.opts['-f'])
            return code or 0
        if self.opts['-c']:
            return self.run_commands(self.opts['-c'], ns)
        return self.run_interactive(ns)

    def run_file(self, path, ns):
        """Returns None when the script ended normally, else the exit code."""
        try:
            f = open(path)
            try:
                text = f.read()
            finally:
                f.close()
        except IOError, e:
            out('WASX7017E: Exception received while running file "%s"; exception information: '
                'java.io.FileNotFoundException: %s (No such file or directory)' % (path, path))
            return 105
        try:
            if self.checker is not None:
                self.checker(path, text, '<string>')
            code = compile(text, '<string>', 'exec', 0, 1)
            exec code in ns
        except SystemExit, e:
            return exit_status(e)
        except:
            etype, value, tb = sys.exc_info()
            lines = self.format_exception(etype, value, tb)
            out('WASX7017E: Exception received while running file "%s"; exception information: %s'
                % (path, '\n'.join(lines)))
            return 105
        return None

    def run_statement(self, command, ns):
        """One interactive / -c statement; returns 1 on error."""
        try:
            code = compile(command, '<input>', 'single', 0, 1)
            exec code in ns
        except SystemExit:
            raise
        except:
            etype, value, tb = sys.exc_info()
            lines = self.format_exception(etype, value, tb)
            out('WASX7015E: Exception running command: "%s"; exception information:\n%s' % (command, '\n'.join(lines)))
            return 1
        return 0

    def run_commands(self, commands, ns):
        failed = 0
        try:
            for command in commands:
                failed = self.run_statement(command.strip(), ns) or failed
        except SystemExit, e:
            return exit_status(e)
        if self.session.changed:
            self.store.log({'event': 'autosave'})
            ns['AdminConfig'].save()
        return failed and 105 or 0

    def run_interactive(self, ns):
        out('WASX7031I: For help, enter: "print Help.help()"')
        try:
            while 1:
                sys.stdout.write('wsadmin>')
                sys.stdout.flush()
                line = sys.stdin.readline()
                if not line:
                    break
                command = line.strip()
                if not command:
                    continue
                if command in ('quit', 'exit'):
                    break
                self.run_statement(command, ns)
        except SystemExit, e:
            return exit_status(e)
        if self.session.changed:
            out('WASX7309W: No "save" was performed before the interactive scripting session exited; '
                'configuration changes will not be saved.')
        return 0

    def run_jacl(self):
        """The mock does not interpret Jacl; Python text fails as it would in Jacl."""
        if '-f' in self.opts:
            path = self.opts['-f']
            word = first_word(path)
            out('WASX7017E: Exception received while running file "%s"; exception information: '
                'com.ibm.bsf.BSFException: error while evaluating Jacl expression: invalid command name "%s"'
                % (path, word))
            return 105
        for command in self.opts['-c']:
            out('WASX7015E: Exception running command: "%s"; exception information:\n'
                'com.ibm.bsf.BSFException: error while evaluating Jacl expression: invalid command name "%s"'
                % (command, (command.split() or [''])[0]))
        if self.opts['-c']:
            return 105
        out('WASX7029I: For help, enter: "$Help help"')
        while 1:
            sys.stdout.write('wsadmin>')
            sys.stdout.flush()
            line = sys.stdin.readline()
            if not line or line.strip() in ('quit', 'exit'):
                return 0
            if line.strip():
                out('WASX7015E: Exception running command: "%s"; exception information:\n'
                    'com.ibm.bsf.BSFException: error while evaluating Jacl expression: invalid command name "%s"'
                    % (line.strip(), line.split()[0]))


def ask_line(prompt):
    """Prompt (no newline) and read one answer line from stdin; None at EOF."""
    sys.stdout.write(prompt)
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        out('')                  # keep the following WASX message at the start of a line
        return None
    return line.rstrip('\r\n')


def ask_secret(prompt):
    """Like ask_line, without echo on a terminal (java.io.Console, which ends the line itself)."""
    sys.stdout.write(prompt)
    sys.stdout.flush()
    console = java.lang.System.console()
    if console is not None:
        chars = console.readPassword()           # prints the newline, also at EOF
        if chars is None:
            return None
        secret = unicode(java.lang.String(chars))
        java.util.Arrays.fill(chars, u' ')
        return secret
    line = sys.stdin.readline()
    out('')
    if not line:
        return None
    return line.rstrip('\r\n')


def first_word(path):
    try:
        f = open(path)
        try:
            for line in f.read().splitlines():
                if line.strip() and not line.strip().startswith('#'):
                    return line.split()[0]
        finally:
            f.close()
    except IOError:
        pass
    return ''


def exit_status(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, (int, long)):
        return int(code)
    out(str(code))
    return 1


def main():
    code = 1
    launch = None
    try:
        launch = Launch(sys.argv[1:])
        code = launch.run()
    finally:
        sys.stdout.flush()
        if launch is not None:
            launch.store.log({'event': 'exit', 'code': code})
    return code


if __name__ == '__main__':
    status = main()
    sys.stdout.flush()
    java.lang.System.exit(status)
