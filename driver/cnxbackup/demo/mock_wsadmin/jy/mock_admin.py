"""AdminConfig / AdminTask / AdminApp / AdminControl stand-ins backed by the cell state.

Every public method logs itself first (event "call"), then checks that the service is
available for the connection mode, then works on:
- the session workspace (applications, authData) for configuration: edits stay
  in memory until AdminConfig.save() writes them to the state file;
- the state file's runtime section for servers/clusters (timestamps, so that
  STOPPING/STARTING persist across launches).
"""
import re
import time
import copy
import fnmatch

import mock_rolemap
from mock_exc import (ScriptingException, InvalidConfigDataTypeException,
                     InstanceNotFoundException)

KNOWN_UNMODELLED_TYPES = ['DataSource', 'JDBCProvider', 'VirtualHost', 'ApplicationDeployment',
                          'Security', 'JavaProcessDef', 'JavaVirtualMachine', 'Property',
                          'J2CResourceAdapter', 'ConnectionFactory', 'WebServer', 'ServerEntry',
                          'NamedEndPoint', 'EndPoint', 'Library', 'Variable', 'VariableSubstitutionEntry',
                          'SecurityDomain', 'WIMUserRegistry', 'LDAPUserRegistry', 'CustomProperty',
                          'WebContainer', 'SessionManager', 'ThreadPool', 'TraceService', 'Cookie',
                          'HostAlias', 'ObjectCacheInstance', 'MailSession', 'URLProvider', 'Application']

CLUSTER_STATES = {'running': 'websphere.cluster.running', 'stopped': 'websphere.cluster.stopped',
                  'partial.start': 'websphere.cluster.partial.start',
                  'partial.stop': 'websphere.cluster.partial.stop'}


def server_key(node, name):
    return '%s/%s' % (node, name)


def server_runtime_state(server, runtime, now):
    """STARTED / STARTING / STOPPING / STOPPED from the fixture plus the last request."""
    if server.get('type') == 'DEPLOYMENT_MANAGER':
        return 'STARTED'
    action = runtime.get('servers', {}).get(server_key(server['node'], server['name']))
    if not action:
        if server.get('running', 1):
            return 'STARTED'
        return 'STOPPED'
    elapsed = now - action['at']
    if action['action'] == 'stop':
        if action.get('terminate'):
            return 'STOPPED'
        if server.get('neverStops'):
            return 'STOPPING'
        if elapsed < server.get('stopDelay', 0):
            return 'STOPPING'
        return 'STOPPED'
    if elapsed < server.get('startDelay', 0):
        return 'STARTING'
    return 'STARTED'


class Session:
    """Everything one wsadmin process knows: connection, mode, workspace, output."""

    def __init__(self, store, mode, connected, conntype, out):
        self.store = store
        self.mode = mode
        self.connected = connected      # True: SOAP/RMI ok; False: failed; None: -conntype NONE
        self.conntype = conntype
        self.out = out
        self.state = store.read()
        self.workspace = None
        self.reset_workspace()

    def reset_workspace(self):
        self.workspace = {'applications': copy.deepcopy(self.state.get('applications', [])),
                          'authData': copy.deepcopy(self.state.get('authData', []))}
        self.changed = 0

    def s(self, value):
        """Admin results are str under Jython 2.1 and unicode under 2.7."""
        if value is None:
            return None
        if self.mode == 'jython21':
            return str(value)
        return unicode(value)

    def runtime(self):
        self.state = self.store.read()
        return self.state

    @property
    def cell(self):
        return self.state['cell']

    @property
    def dmgr_node(self):
        return self.dmgr()['node']

    def dmgr(self):
        for server in self.state['servers']:
            if server.get('type') == 'DEPLOYMENT_MANAGER':
                return server
        raise ScriptingException('mock fixture has no DEPLOYMENT_MANAGER server')

    def version(self):
        return self.state.get('wasVersion', '9.0.5.0')


class AdminBase:
    object_name = 'Admin'

    def __init__(self, session):
        self._session = session

    def _enter(self, method, *args):
        self._session.store.log({'event': 'call', 'object': self.object_name, 'method': method,
                                 'args': self._log_args(method, args)})
        self._check_available()

    def _log_args(self, method, args):
        import mock_state
        masked = []
        for arg in args:
            masked.append(mock_state.to_jsonable(mask_value(arg)))
        return masked

    def _check_available(self):
        if self._session.connected is False:
            raise ScriptingException('WASX7070E: The configuration service is not available.')

    def _s(self, value):
        return self._session.s(value)

    def __repr__(self):
        return '<%s mock object>' % self.object_name


def mask_value(arg):
    import mock_state
    if isinstance(arg, (list, tuple)):
        out = []
        hide = 0
        for item in arg:
            if hide:
                out.append(mock_state.MASK)
                hide = 0
                continue
            if isinstance(item, basestring) and item.lower() == '-password':
                hide = 1
            out.append(mask_value(item))
        return out
    if isinstance(arg, basestring):
        text = mock_state.mask_text(arg)
        # MapRunAsRolesToUsers rows are [role user password]
        if 'MapRunAsRolesToUsers' in text:
            text = re.sub(r'\[\s*("[^"]*"|[^\s\[\]]+)\s+("[^"]*"|[^\s\[\]]+)\s+("[^"]*"|[^\s\[\]]+)\s*\]',
                          lambda m: '[%s %s %s]' % (m.group(1), m.group(2), mock_state.MASK), text)
        return text
    return arg


# ---------------------------------------------------------------------------
# configuration objects
# ---------------------------------------------------------------------------

class ConfigObject:
    def __init__(self, type_name, display, path, file_name, seq, attrs, parents):
        self.type = type_name
        self.display = display
        self.key = '%s|%s#%s_%s' % (path, file_name, type_name, seq)
        self.id = '%s(%s)' % (display, self.key)
        self.attrs = attrs
        self.parents = parents   # {'Cell': c, 'Node': n, 'ServerCluster': x, ...}


VALID_ATTRS = {
    'Cell': ['name', 'cellType', 'shortName', 'cellDiscoveryProtocol', 'discoveryAddressEndpointName',
             'foreignCellPrefix', 'multicastDiscoveryAddressEndpointName', 'properties'],
    'Node': ['name', 'hostName', 'shortName', 'discoveryProtocol', 'maxFilePermissionForApps', 'properties'],
    'Server': ['name', 'clusterName', 'serverType', 'uniqueId', 'shortName', 'developmentMode',
               'parallelStartEnabled', 'provisionComponents', 'components', 'services',
               'processDefinitions', 'customServices', 'errorStreamRedirect', 'outputStreamRedirect',
               'properties', 'serverInstance', 'stateManagement', 'statisticsProvider', 'modelId'],
    'ServerCluster': ['name', 'members', 'uniqueId', 'description', 'preferLocal', 'nodeGroupName',
                      'serverType', 'enableHA', 'statisticsProvider'],
    'ClusterMember': ['memberName', 'nodeName', 'weight', 'uniqueId'],
    'JAASAuthData': ['alias', 'userId', 'password', 'description'],
    'Deployment': ['deployedObject', 'deploymentTargets'],
}


def build_config_objects(state, workspace):
    cell = state['cell']
    objs = [ConfigObject('Cell', cell, 'cells/' + cell, 'cell.xml', 1,
                         {'name': cell, 'cellType': 'DISTRIBUTED', 'shortName': None}, {'Cell': cell})]
    for node in state['nodes']:
        objs.append(ConfigObject('Node', node['name'], 'cells/%s/nodes/%s' % (cell, node['name']), 'node.xml', 1,
                                 {'name': node['name'], 'hostName': node.get('hostName')},
                                 {'Cell': cell, 'Node': node['name']}))
    for srv in state['servers']:
        objs.append(ConfigObject('Server', srv['name'],
                                 'cells/%s/nodes/%s/servers/%s' % (cell, srv['node'], srv['name']),
                                 'server.xml', srv['configSeq'],
                                 {'name': srv['name'], 'clusterName': srv.get('cluster'),
                                  'serverType': srv.get('type', 'APPLICATION_SERVER'),
                                  'uniqueId': srv.get('uniqueId')},
                                 {'Cell': cell, 'Node': srv['node'], 'Server': srv['name']}))
    for cluster in state.get('clusters', []):
        path = 'cells/%s/clusters/%s' % (cell, cluster['name'])
        members = []
        for member in cluster.get('members', []):
            obj = ConfigObject('ClusterMember', member['server'], path, 'cluster.xml', member['configSeq'],
                               {'memberName': member['server'], 'nodeName': member['node'],
                                'weight': unicode(member.get('weight', 2)), 'uniqueId': unicode(member['configSeq'])},
                               {'Cell': cell, 'ServerCluster': cluster['name'], 'Node': member['node']})
            members.append(obj)
        objs.append(ConfigObject('ServerCluster', cluster['name'], path, 'cluster.xml', cluster['configSeq'],
                                 {'name': cluster['name'], 'members': [m.id for m in members],
                                  'serverType': 'APPLICATION_SERVER', 'description': None},
                                 {'Cell': cell, 'ServerCluster': cluster['name']}))
        objs.extend(members)
    for auth in workspace['authData']:
        objs.append(ConfigObject('JAASAuthData', '', 'cells/' + cell, 'security.xml', auth['configSeq'],
                                 {'alias': auth['alias'], 'userId': auth.get('userId'),
                                  'password': auth.get('password'), 'description': auth.get('description', '')},
                                 {'Cell': cell}))
    for app in workspace['applications']:
        objs.append(ConfigObject('Deployment', app['name'],
                                 'cells/%s/applications/%s.ear/deployments/%s' % (cell, app['name'], app['name']),
                                 'deployment.xml', app['configSeq'],
                                 {'deployedObject': None, 'deploymentTargets': None},
                                 {'Cell': cell, 'Deployment': app['name']}))
    return objs


def config_key(config_id):
    match = re.search(r'\(([^()]*)\)\s*$', config_id or '')
    if not match or '|' not in match.group(1):
        raise ScriptingException('WASX7077E: Incomplete config id: need closing parenthesis in "%s"' % config_id)
    return match.group(1)


def format_show_value(name, value):
    if name == 'password' and value:
        return '*****'
    if value is None or value == '':
        return '[]'
    if isinstance(value, list):
        return '[' + ' '.join(value) + ']'
    value = unicode(value)
    if ' ' in value:
        return '"%s"' % value
    return value


class AdminConfig(AdminBase):
    object_name = 'AdminConfig'

    def _objects(self):
        return build_config_objects(self._session.state, self._session.workspace)

    def _find(self, config_id):
        key = config_key(config_id)
        for obj in self._objects():
            if obj.key == key:
                return obj
        raise ScriptingException('WASX7104E: Unable to locate object "%s"' % config_id)

    def list(self, type_name, scope=None):
        self._enter('list', *([type_name] + (scope is not None and [scope] or [])))
        type_name = unicode(type_name)
        if type_name not in VALID_ATTRS:
            if type_name in KNOWN_UNMODELLED_TYPES:
                return self._s('')
            raise InvalidConfigDataTypeException('ADMG0007E: The configuration data type %s is not valid.' % type_name)
        objs = [o for o in self._objects() if o.type == type_name]
        if scope:
            scope = unicode(scope)
            if '(' in scope:
                parent = self._find(scope)
                objs = [o for o in objs if _within(o, parent)]
            else:
                objs = [o for o in objs if fnmatch.fnmatchcase(o.display, scope)]
        ids = [o.id for o in objs]
        ids.sort()
        return self._s('\n'.join(ids))

    def getid(self, containment):
        self._enter('getid', containment)
        text = unicode(containment).strip()
        if not text.startswith('/') or not text.endswith('/'):
            raise ScriptingException('WASX7014E: Invalid containment path: "%s"' % text)
        segments = []
        for part in text.strip('/').split('/'):
            if ':' not in part:
                raise ScriptingException('WASX7014E: Invalid containment path: "%s"' % text)
            typ, name = part.split(':', 1)
            segments.append((typ, name))
        last_type, last_name = segments[-1]
        matches = []
        for obj in self._objects():
            if obj.type != last_type:
                continue
            if last_name and not fnmatch.fnmatchcase(_name_of(obj), last_name):
                continue
            ok = 1
            for typ, name in segments[:-1]:
                if typ not in obj.parents or (name and obj.parents[typ] != name):
                    ok = 0
            if ok:
                matches.append(obj.id)
        matches.sort()
        return self._s('\n'.join(matches))

    def show(self, config_id, attrs=None):
        self._enter('show', *([config_id] + (attrs is not None and [attrs] or [])))
        obj = self._find(config_id)
        wanted = None
        if attrs is not None:
            wanted = [a for a in mock_rolemap.as_items(attrs) if not isinstance(a, list)]
        names = obj.attrs.keys()
        names.sort()
        lines = []
        for name in names:
            if wanted is not None and name not in wanted:
                continue
            lines.append('[%s %s]' % (name, format_show_value(name, obj.attrs[name])))
        return self._s('\n'.join(lines))

    def showAttribute(self, config_id, attr):
        self._enter('showAttribute', config_id, attr)
        obj = self._find(config_id)
        attr = unicode(attr)
        if attr not in VALID_ATTRS[obj.type]:
            raise ScriptingException('WASX7080E: Invalid attributes for type "%s" -- "%s".' % (obj.type, attr))
        value = obj.attrs.get(attr)
        if value is None:
            return None
        if attr == 'password':
            return self._s('*****')
        if isinstance(value, list):
            return self._s('[' + ' '.join(value) + ']')
        return self._s(value)

    def save(self):
        self._enter('save')
        workspace = self._session.workspace

        def write(state):
            state['applications'] = copy.deepcopy(workspace['applications'])
            state['authData'] = copy.deepcopy(workspace['authData'])
        self._session.store.update(write)
        self._session.runtime()
        self._session.changed = 0
        return self._s('')

    def hasChanges(self):
        self._enter('hasChanges')
        return self._session.changed and 1 or 0

    def queryChanges(self):
        self._enter('queryChanges')
        if self._session.changed:
            return self._s('WASX7146I: The following configuration files contain unsaved changes:\n'
                           'cells/%s/applications' % self._session.cell)
        return self._s('WASX7241I: There are no unsaved changes in this workspace.')

    def reset(self):
        self._enter('reset')
        self._session.runtime()
        self._session.reset_workspace()
        return self._s('')

    def getObjectName(self, config_id):
        self._enter('getObjectName', config_id)
        obj = self._find(config_id)
        if obj.type != 'Server':
            return self._s('')
        session = self._session
        if session.connected is not True:
            return self._s('')
        state = session.runtime()
        for server in state['servers']:
            if server['name'] == obj.parents['Server'] and server['node'] == obj.parents['Node']:
                if server_runtime_state(server, state['runtime'], time.time()) != 'STOPPED':
                    return self._s(server_mbean(session, server))
        return self._s('')


def _name_of(obj):
    if obj.type == 'JAASAuthData':
        return obj.attrs['alias']
    return obj.display


def _within(obj, parent):
    if parent.type == 'Cell':
        return 1
    name = parent.parents.get(parent.type)
    return obj.parents.get(parent.type) == name and name is not None


# ---------------------------------------------------------------------------
# AdminTask
# ---------------------------------------------------------------------------

SEARCH_KEYS = ['-cn', '-sn', '-principalName', '-uid', '-mail']
SEARCH_EXTRA = ['-timeLimit', '-countLimit', '-clearCache', '-securityDomainName']


class AdminTask(AdminBase):
    object_name = 'AdminTask'

    def _check_available(self):
        if self._session.connected is False:
            raise ScriptingException('WASX8011W: AdminTask object is not available.')

    def listAuthDataEntries(self, options=None):
        self._enter('listAuthDataEntries', *(options is not None and [options] or []))
        cell = self._session.cell
        lines = []
        for auth in self._session.workspace['authData']:
            lines.append('[[alias %s] [userId %s] [description %s] [_Websphere_Config_Data_Id cells/%s|security.xml#JAASAuthData_%s] '
                         '[_Websphere_Config_Data_Type JAASAuthData] [password *******] ]'
                         % (auth['alias'], auth.get('userId', ''), auth.get('description', ''), cell, auth['configSeq']))
        return self._s('\n'.join(lines))

    def searchUsers(self, options=None):
        self._enter('searchUsers', *(options is not None and [options] or []))
        opts = mock_rolemap.option_map(options)
        lower = {}
        for key, value in opts.items():
            lower[key.lower()] = (key, value)
        given = [k for k in SEARCH_KEYS if k.lower() in lower]
        for key in opts.keys():
            if key.lower() not in [k.lower() for k in SEARCH_KEYS + SEARCH_EXTRA]:
                raise ScriptingException('WASX8010E: The parameter %s is not valid for command searchUsers.' % key)
        if len(given) != 1:
            raise ScriptingException('com.ibm.websphere.wim.exception.WIMApplicationException: CWWIM1013E: '
                                     'Exactly one of the parameters cn, sn, principalName, uid, mail must be specified.')
        field = given[0][1:]
        pattern = lower[given[0].lower()][1] or ''
        attr = field
        if field == 'principalName':
            attr = 'uid'
        found = []
        for user in self._session.state.get('users', []):
            value = user.get(attr)
            if value is not None and fnmatch.fnmatch(value.lower(), pattern.lower()):
                found.append(user['uniqueName'])
        return self._s('\n'.join(found))

    def getUser(self, options=None):
        self._enter('getUser', *(options is not None and [options] or []))
        opts = mock_rolemap.option_map(options)
        unique = opts.get('-uniqueName')
        if not unique:
            raise ScriptingException('WASX8013E: Required parameter uniqueName is not specified for command getUser.')
        for user in self._session.state.get('users', []):
            if user['uniqueName'].lower() == unique.lower():
                parts = ['uniqueName=' + user['uniqueName']]
                for key in ['uid', 'cn', 'sn', 'mail']:
                    if user.get(key) is not None:
                        parts.append('%s=%s' % (key, user[key]))
                parts.append('principalName=' + user['uid'])
                return self._s('{' + ', '.join(parts) + '}')
        raise ScriptingException("com.ibm.websphere.wim.exception.EntityNotFoundException: CWWIM4001E The '%s' entity was not found."
                                 % unique)

    def getIdMgrDefaultRealm(self, options=None):
        self._enter('getIdMgrDefaultRealm', *(options is not None and [options] or []))
        return self._s(self._session.state.get('realm', 'defaultWIMFileBasedRealm'))

    def listIdMgrRealms(self, options=None):
        self._enter('listIdMgrRealms', *(options is not None and [options] or []))
        return self._s(self._session.state.get('realm', 'defaultWIMFileBasedRealm'))

    def listIdMgrRepositories(self, options=None):
        self._enter('listIdMgrRepositories', *(options is not None and [options] or []))
        parts = []
        for repo in self._session.state.get('repositories', []):
            inner = 'repositoryType=%s, specificRepositoryType=%s, host=%s' % (
                repo.get('type', 'File'), repo.get('specificType', 'null'), repo.get('host', 'LocalHost'))
            parts.append('%s={%s}' % (repo['id'], inner))
        return self._s('{' + ', '.join(parts) + '}')

    def listServers(self, options=None):
        self._enter('listServers', *(options is not None and [options] or []))
        opts = mock_rolemap.option_map(options)
        cell = self._session.cell
        ids = []
        for srv in self._session.state['servers']:
            if opts.get('-serverType') and srv.get('type') != opts['-serverType']:
                continue
            if opts.get('-nodeName') and srv['node'] != opts['-nodeName']:
                continue
            ids.append('%s(cells/%s/nodes/%s/servers/%s|server.xml)' % (srv['name'], cell, srv['node'], srv['name']))
        return self._s('\n'.join(ids))

    def listNodes(self, options=None):
        self._enter('listNodes', *(options is not None and [options] or []))
        return self._s('\n'.join([n['name'] for n in self._session.state['nodes']]))


# ---------------------------------------------------------------------------
# AdminApp
# ---------------------------------------------------------------------------

class AdminApp(AdminBase):
    object_name = 'AdminApp'

    def _app(self, name):
        for app in self._session.workspace['applications']:
            if app['name'] == name:
                return app
        raise ScriptingException('WASX7280E: An application with name "%s" does not exist.' % name)

    def list(self, target=None):
        self._enter('list', *(target is not None and [target] or []))
        apps = self._session.workspace['applications']
        if target:
            wanted = dict([kv.split('=', 1) for kv in unicode(target).split(':', 1)[-1].split(',') if '=' in kv])
            if 'cluster' in wanted:
                apps = [a for a in apps if a.get('target') == wanted['cluster']]
        return self._s('\n'.join([a['name'] for a in apps]))

    def view(self, name, options=None):
        self._enter('view', *([name] + (options is not None and [options] or [])))
        app = self._app(unicode(name))
        items = mock_rolemap.as_items(options)
        tasks = [i for i in items if not isinstance(i, list)]
        if not tasks:
            lines = mock_rolemap.format_roles_view(app) + [''] + mock_rolemap.format_runas_view(app)
        elif tasks[0] == '-MapRolesToUsers':
            lines = mock_rolemap.format_roles_view(app)
        elif tasks[0] == '-MapRunAsRolesToUsers':
            lines = mock_rolemap.format_runas_view(app)
        else:
            raise ScriptingException('WASX7109E: Insufficient data for install task "%s".' % tasks[0].lstrip('-'))
        return self._s('\n'.join(lines))

    def edit(self, name, options):
        self._enter('edit', name, options)
        app = self._app(unicode(name))
        items = mock_rolemap.as_items(options)
        i = 0
        work = copy.deepcopy(app)
        while i < len(items):
            opt = items[i]
            value = None
            if i + 1 < len(items) and isinstance(items[i + 1], list):
                value = items[i + 1]
                i += 1
            if opt == '-MapRolesToUsers':
                mock_rolemap.apply_roles_edit(work, value)
            elif opt == '-MapRunAsRolesToUsers':
                mock_rolemap.apply_runas_edit(work, value)
            else:
                raise ScriptingException('WASX7109E: Insufficient data for install task "%s".' % opt)
            i += 1
        app.clear()
        app.update(work)
        self._session.changed = 1
        return self._s('')


# ---------------------------------------------------------------------------
# AdminControl
# ---------------------------------------------------------------------------

def server_mbean(session, server):
    cell = session.cell
    version = session.version()
    process_type = {'DEPLOYMENT_MANAGER': 'DeploymentManager', 'NODE_AGENT': 'NodeAgent'}.get(
        server.get('type'), 'ManagedProcess')
    return ('WebSphere:name=%s,process=%s,platform=proxy,node=%s,j2eeType=J2EEServer,version=%s,type=Server,'
            'mbeanIdentifier=cells/%s/nodes/%s/servers/%s/server.xml#Server_%s,cell=%s,spec=1.0,processType=%s'
            % (server['name'], server['name'], server['node'], version, cell, server['node'], server['name'],
               server['configSeq'], cell, process_type))


def parse_object_name(text):
    text = unicode(text).strip()
    if ':' in text.split(',')[0]:
        domain, rest = text.split(':', 1)
    else:
        domain, rest = '*', text
    props = {}
    wildcard = 0
    for part in rest.split(','):
        part = part.strip()
        if part == '*':
            wildcard = 1
        elif '=' in part:
            k, v = part.split('=', 1)
            props[k] = v
        elif part:
            raise ScriptingException('javax.management.MalformedObjectNameException: Invalid ObjectName: %s' % text)
    return domain, props, wildcard


class AdminControl(AdminBase):
    object_name = 'AdminControl'

    def _check_available(self):
        if self._session.connected is not True:
            raise ScriptingException('WASX7206W: The control service is not running. '
                                     'Control commands will not be available.')

    # -- MBean catalogue --------------------------------------------------
    def _mbeans(self):
        """(object name, kind, subject) for every MBean registered right now."""
        session = self._session
        state = session.runtime()
        now = time.time()
        cell = session.cell
        version = session.version()
        dmgr_node = session.dmgr_node
        beans = []
        running = {}
        # a node whose node agent is stopped: its servers cannot be reached from the Dmgr
        unreachable = {}
        for srv in state['servers']:
            if srv.get('type') == 'NODE_AGENT' and server_runtime_state(srv, state['runtime'], now) == 'STOPPED':
                unreachable[srv['node']] = 1
        for srv in state['servers']:
            st = server_runtime_state(srv, state['runtime'], now)
            if srv.get('type') == 'APPLICATION_SERVER' and srv['node'] in unreachable:
                continue
            if st != 'STOPPED':
                running[server_key(srv['node'], srv['name'])] = srv
                beans.append((server_mbean(session, srv), 'server', srv))
                if srv.get('type') == 'NODE_AGENT':
                    common = 'process=nodeagent,platform=common,node=%s,version=%s' % (srv['node'], version)
                    beans.append(('WebSphere:name=NodeAgent,%s,type=NodeAgent,mbeanIdentifier=NodeAgent,cell=%s,spec=1.0'
                                  % (common, cell), 'nodeagent', srv))
                    beans.append(('WebSphere:name=nodeSync,%s,type=NodeSync,mbeanIdentifier=nodeSync,cell=%s,spec=1.0'
                                  % (common, cell), 'nodesync', srv))
                    beans.append(('WebSphere:name=repository,%s,type=ConfigRepository,mbeanIdentifier=repository,cell=%s,spec=1.0'
                                  % (common, cell), 'repository', srv))
        common = 'process=dmgr,platform=common,node=%s,version=%s' % (dmgr_node, version)
        beans.append(('WebSphere:name=ClusterMgr,%s,type=ClusterMgr,mbeanIdentifier=ClusterMgr,cell=%s,spec=1.0'
                      % (common, cell), 'clustermgr', None))
        beans.append(('WebSphere:name=repository,%s,type=ConfigRepository,mbeanIdentifier=repository,cell=%s,spec=1.0'
                      % (common, cell), 'repository', None))
        for cluster in state.get('clusters', []):
            beans.append(('WebSphere:name=%s,%s,type=Cluster,mbeanIdentifier=%s,cell=%s,spec=1.0'
                          % (cluster['name'], common, cluster['name'], cell), 'cluster', cluster))
        for app in state.get('applications', []):
            for srv in running.values():
                if srv.get('cluster') and srv.get('cluster') == app.get('target') \
                        and server_runtime_state(srv, state['runtime'], now) == 'STARTED':
                    beans.append(('WebSphere:name=%s,process=%s,platform=dynamicproxy,node=%s,J2EEName=%s,Server=%s,'
                                  'version=%s,type=Application,mbeanIdentifier=cells/%s/applications/%s.ear/deployments/%s,'
                                  'cell=%s,spec=1.0' % (app['name'], srv['name'], srv['node'], app['name'], srv['name'],
                                                        version, cell, app['name'], app['name'], cell),
                                  'application', app))
        return beans

    def _query(self, pattern):
        domain, props, wildcard = parse_object_name(pattern)
        found = []
        for name, kind, subject in self._mbeans():
            bdomain, bprops, _ = parse_object_name(name)
            if domain not in ('*', bdomain):
                continue
            ok = 1
            for k, v in props.items():
                if k not in bprops or not fnmatch.fnmatchcase(bprops[k], v):
                    ok = 0
            if ok and not wildcard and len(props) != len(bprops):
                ok = 0
            if ok:
                found.append((name, kind, subject))
        return found

    def _resolve(self, mbean):
        domain, props, _ = parse_object_name(mbean)
        for name, kind, subject in self._mbeans():
            bprops = parse_object_name(name)[1]
            if all_match(props, bprops) and len(props) == len(bprops):
                return name, kind, subject
        raise InstanceNotFoundException(unicode(mbean))

    def completeObjectName(self, pattern, template=None):
        self._enter('completeObjectName', pattern)
        found = self._query(pattern)
        if not found:
            return self._s('')
        return self._s(found[0][0])

    def queryNames(self, pattern):
        self._enter('queryNames', pattern)
        return self._s('\n'.join([f[0] for f in self._query(pattern)]))

    def getCell(self):
        self._enter('getCell')
        return self._s(self._session.cell)

    def getNode(self):
        self._enter('getNode')
        return self._s(self._session.dmgr_node)

    def getHost(self):
        self._enter('getHost')
        return self._s(self._session.state.get('dmgrHost', 'localhost'))

    def getPort(self):
        self._enter('getPort')
        return self._s(unicode(self._session.state.get('dmgrPort', 8879)))

    def getType(self):
        self._enter('getType')
        return self._s(self._session.conntype)

    def getAttribute(self, mbean, attr):
        self._enter('getAttribute', mbean, attr)
        name, kind, subject = self._resolve(mbean)
        state = self._session.state
        if kind == 'server' and attr == 'state':
            return self._s(server_runtime_state(subject, state['runtime'], time.time()))
        if kind == 'server' and attr == 'processType':
            return self._s(parse_object_name(name)[1]['processType'])
        if kind == 'server' and attr == 'name':
            return self._s(subject['name'])
        if kind == 'cluster' and attr == 'state':
            return self._s(self._cluster_state(subject))
        if kind == 'application' and attr == 'name':
            return self._s(subject['name'])
        raise ScriptingException('javax.management.AttributeNotFoundException: No such attribute: %s' % attr)

    def _members(self, cluster):
        state = self._session.state
        out = []
        for member in cluster.get('members', []):
            for srv in state['servers']:
                if srv['name'] == member['server'] and srv['node'] == member['node']:
                    out.append(srv)
        return out

    def _cluster_state(self, cluster):
        state = self._session.state
        now = time.time()
        states = [server_runtime_state(s, state['runtime'], now) for s in self._members(cluster)]
        if states and len([s for s in states if s == 'STARTED']) == len(states):
            return CLUSTER_STATES['running']
        if len([s for s in states if s == 'STOPPED']) == len(states):
            return CLUSTER_STATES['stopped']
        if 'STOPPING' in states:
            return CLUSTER_STATES['partial.stop']
        if 'STARTING' in states:
            return CLUSTER_STATES['partial.start']
        last = state['runtime'].get('clusters', {}).get(cluster['name'], {}).get('action')
        if last == 'stop':
            return CLUSTER_STATES['partial.stop']
        return CLUSTER_STATES['partial.start']

    def _request(self, servers, action, terminate=0, cluster=None):
        now = time.time()

        def mutate(state):
            rt = state['runtime'].setdefault('servers', {})
            for srv in servers:
                entry = {'action': action, 'at': now}
                if terminate:
                    entry['terminate'] = 1
                rt[server_key(srv['node'], srv['name'])] = entry
            if cluster is not None:
                state['runtime'].setdefault('clusters', {})[cluster] = {'action': action, 'at': now}
        self._session.store.update(mutate)
        self._session.runtime()

    def invoke(self, mbean, operation, params=None, signature=None):
        self._enter('invoke', *([mbean, operation] + (params is not None and [params] or [])))
        name, kind, subject = self._resolve(mbean)
        state = self._session.state
        now = time.time()
        if kind == 'server' and operation == 'stop':
            if subject.get('type') == 'DEPLOYMENT_MANAGER':
                raise ScriptingException('mock wsadmin: stopping the dmgr is not supported')
            self._request([subject], 'stop')
            return self._s('')
        if kind == 'server' and operation == 'restart':
            self._request([subject], 'start')
            return self._s('')
        if kind == 'cluster' and operation in ('stop', 'stopImmediate'):
            targets = [s for s in self._members(subject)
                       if server_runtime_state(s, state['runtime'], now) in ('STARTED', 'STARTING')]
            self._request(targets, 'stop', cluster=subject['name'])
            return self._s('')
        if kind == 'cluster' and operation in ('start', 'rippleStart'):
            targets = [s for s in self._members(subject)
                       if server_runtime_state(s, state['runtime'], now) in ('STOPPED',)]
            self._request(targets, 'start', cluster=subject['name'])
            return self._s('')
        if kind == 'clustermgr' and operation == 'retrieveClusters':
            return self._s('')
        if kind == 'nodesync' and operation == 'sync':
            return self._s('true')
        if kind == 'repository' and operation == 'refreshRepositoryEpoch':
            return self._s(unicode(int(now)))
        if kind == 'nodeagent' and operation == 'launchProcess':
            target = mock_rolemap.as_items(params)
            target = target and target[0] or ''
            for srv in state['servers']:
                if srv['name'] == target and srv['node'] == subject['node']:
                    if server_runtime_state(srv, state['runtime'], now) == 'STOPPED':
                        self._request([srv], 'start')
                    return self._s('true')
            return self._s('false')
        raise ScriptingException('javax.management.ReflectionException: Operation %s not found on %s' % (operation, name))

    def _find_server(self, name, node):
        matches = [s for s in self._session.runtime()['servers']
                   if s['name'] == name and (node is None or s['node'] == node)]
        return matches

    def stopServer(self, name, node=None, mode=None):
        args = [name] + (node is not None and [node] or []) + (mode is not None and [mode] or [])
        self._enter('stopServer', *args)
        name = unicode(name)
        if node is not None and unicode(node) in ('immediate', 'terminate') and mode is None:
            mode, node = node, None
        node = node is not None and unicode(node) or None
        matches = self._find_server(name, node)
        state = self._session.state
        running = [s for s in matches if server_runtime_state(s, state['runtime'], time.time()) != 'STOPPED']
        if not running:
            where = node and (' on node "%s"' % node) or ''
            raise ScriptingException('WASX7252E: Unable to locate running server "%s"%s.' % (name, where))
        server = running[0]
        self._session.out('WASX7337I: Invoked stop for server "%s" Waiting for stop completion.' % name)
        if server_runtime_state(server, state['runtime'], time.time()) == 'STARTED' or mode == 'terminate':
            self._request([server], 'stop', terminate=(mode == 'terminate'))
        deadline = time.time() + float(self._session.state.get('stopServerTimeout', 30))
        while server_runtime_state(server, self._session.runtime()['runtime'], time.time()) != 'STOPPED':
            if time.time() > deadline:
                raise ScriptingException('WASX7253E: Timed out waiting for server "%s" on node "%s" to stop.'
                                         % (name, server['node']))
            time.sleep(0.2)
        return self._s('WASX7264I: Stop completed for server "%s" on node "%s"' % (name, server['node']))

    def startServer(self, name, node=None, wait=None):
        args = [name] + (node is not None and [node] or []) + (wait is not None and [wait] or [])
        self._enter('startServer', *args)
        name = unicode(name)
        node = node is not None and unicode(node) or None
        matches = self._find_server(name, node)
        if not matches:
            raise ScriptingException('WASX7251E: Unable to locate server "%s" on node "%s".' % (name, node))
        server = matches[0]
        state = self._session.state
        if server_runtime_state(server, state['runtime'], time.time()) != 'STOPPED':
            raise ScriptingException('WASX7308E: Server "%s" on node "%s" is already running.' % (name, server['node']))
        self._request([server], 'start')
        timeout = float(wait or self._session.state.get('startServerTimeout', 1200))
        deadline = time.time() + timeout
        while server_runtime_state(server, self._session.runtime()['runtime'], time.time()) != 'STARTED':
            if time.time() > deadline:
                raise ScriptingException('WASX7263W: Start of server "%s" on node "%s" did not complete in %d seconds.'
                                         % (name, server['node'], int(timeout)))
            time.sleep(0.2)
        return self._s('WASX7262I: Start completed for server "%s" on node "%s"' % (name, server['node']))


def all_match(pattern_props, bean_props):
    for k, v in pattern_props.items():
        if bean_props.get(k) != v:
            return 0
    return 1


class AdminNodeManagement(AdminBase):
    """Script-library stub (preloaded by real wsadmin)."""
    object_name = 'AdminNodeManagement'

    def _check_available(self):
        if self._session.connected is not True:
            raise ScriptingException('WASX7206W: The control service is not running. '
                                     'Control commands will not be available.')

    def syncActiveNodes(self, failonerror='false'):
        self._enter('syncActiveNodes')
        return 1


class Help(AdminBase):
    object_name = 'Help'

    def _check_available(self):
        pass

    def help(self, *args):
        self._enter('help', *args)
        return self._s('WASX7028I: The Help object has two purposes (mock wsadmin).')
