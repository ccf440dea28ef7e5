"""One function per script: command(admin, values, say) -> (exitCode, result).

`values` are the parsed options, `say(line)` prints a summary line. A command
raises OperationError/UsageError for a one-line failure; `result` (or None) is
written as JSON to --out by cli.
"""

import string
import sys

from cnxwas import admin as adminModule
from cnxwas import aliases, jsonenc, roles, servers, text, wim
from cnxwas.errors import OperationError, UsageError
from cnxwas.options import Option, positiveNumber

OUT = Option('out', 'FILE', help='write the JSON result to FILE')
TIMEOUT_DEFAULT = '600'


def listAuthAliases(admin, values, say):
    cell = adminModule.cellName(admin)
    entries = aliases.listAliases(admin)
    say('cell %s: %d J2C authentication alias(es)' % (cell, len(entries)))
    for entry in entries:
        say('  %s  userId=%s' % (entry['alias'], entry['userId']))
    return 0, {'cell': cell, 'aliases': entries}


def checkFilenetAdmin(admin, values, say):
    cell = adminModule.cellName(admin)
    wanted = values['alias']
    result = {'cell': cell, 'alias': None, 'userId': None, 'uniqueName': None,
              'fileBased': jsonenc.FALSE, 'fileRegistry': None}
    entry = aliases.findAlias(aliases.listAliases(admin), wanted)
    if entry is None:
        say('no J2C alias %s or */%s in cell %s: CCM/FileNet is not configured' % (wanted, wanted, cell))
        return 0, result
    result['alias'] = entry['alias']
    result['userId'] = entry['userId']
    if text.isBlank(entry['userId']):
        raise OperationError('J2C alias %s has no user ID' % entry['alias'])
    uniqueName = wim.findUniqueName(admin, entry['userId'])
    result['uniqueName'] = uniqueName
    if wim.isFileBased(uniqueName):
        result['fileBased'] = jsonenc.TRUE
        result['fileRegistry'] = wim.fileRegistryPath(cell)
        where = 'the file-based realm (%s)' % result['fileRegistry']
    else:
        where = 'a non-file repository (LDAP)'
    say('alias %s: user %s is %s in %s' % (entry['alias'], entry['userId'], uniqueName, where))
    return 0, result


def _quoted(name):
    return "'" + name + "'"


def _installedApps(admin):
    return text.lines(admin.require('AdminApp').list())


def _selectApps(admin, named):
    installed = _installedApps(admin)
    if not named:
        return installed
    for name in named:
        if name not in installed:
            raise OperationError('unknown application %s' % _quoted(name))
    return named


def currentMappings(admin, app):
    appAdmin = admin.require('AdminApp')
    roleList = roles.parseRolesView(appAdmin.view(app, '-MapRolesToUsers'))
    try:
        runAs = roles.parseRunAsView(appAdmin.view(app, '-MapRunAsRolesToUsers'))
    except:
        runAs = []      # applications without RunAs roles may refuse the view
    return {'roles': roleList, 'runAs': runAs}


def exportRoleMappings(admin, values, say):
    cell = adminModule.cellName(admin)
    applications = {}
    apps = _selectApps(admin, values['app'])
    for app in apps:
        applications[app] = currentMappings(admin, app)
    say('cell %s: exported role mappings of %d application(s)' % (cell, len(apps)))
    return 0, {'cell': cell, 'applications': applications}


def _readJson(path):
    try:
        handle = open(path, 'r')
        try:
            content = handle.read()
        finally:
            handle.close()
    except IOError, problem:
        raise OperationError('cannot read %s: %s' % (path, problem))
    try:
        content = unicode(content, 'utf-8')
    except:
        pass
    try:
        return jsonenc.decode(content)
    except ValueError, problem:
        raise OperationError('%s is not valid JSON: %s' % (path, problem))


def _changedRoles(wantedRoles, currentRoles, app, say):
    """Roles of the file whose mapping differs from the cell's; roles the
    application does not define are skipped with a warning."""
    current = {}
    for role in currentRoles:
        current[role['role']] = roles.normalized(role)
    changed = []
    for role in wantedRoles:
        name = role.get('role')
        if not current.has_key(name):
            say('WARNING: %s has no role %s; skipped' % (app, name))
            continue
        if roles.normalized(role) != current[name]:
            changed.append(role)
    return changed


def importRoleMappings(admin, values, say):
    cell = adminModule.cellName(admin)
    data = _readJson(values['in'])
    if type(data) is not type({}) or type(data.get('applications')) is not type({}):
        raise OperationError('%s has no "applications" object' % values['in'])
    fileApps = data['applications']
    named = values['app']
    if named:
        for name in named:
            if not fileApps.has_key(name):
                raise OperationError('application %s is not in %s' % (_quoted(name), values['in']))
        apps = named
    else:
        apps = fileApps.keys()
        apps.sort()
    installed = _installedApps(admin)
    for app in apps:
        if app not in installed:
            raise OperationError('unknown application %s' % _quoted(app))
    dryRun = values['dry-run']
    appAdmin = admin.require('AdminApp')
    config = admin.require('AdminConfig')
    edits = []
    runAsSkipped = []
    try:
        for app in apps:
            wanted = fileApps[app]
            changed = _changedRoles(wanted.get('roles') or [], currentMappings(admin, app)['roles'], app, say)
            if wanted.get('runAs'):
                runAsSkipped.append(app)
            if not changed:
                continue
            options = roles.editOptions(changed)
            names = []
            for role in changed:
                names.append(role['role'])
            edits.append({'app': app, 'roles': names, 'options': options})
            if dryRun:
                say('would run: AdminApp.edit(%s, %s)' % (_quoted(app), _quoted(options)))
            else:
                say('AdminApp.edit(%s, %s)' % (_quoted(app), _quoted(options)))
                appAdmin.edit(app, options)
        saved = 0
        if edits and not dryRun:
            config.save()
            saved = 1
    except:
        problem = sys.exc_info()[1]
        reason = text.currentErrorReason()
        if not dryRun:
            try:
                config.reset()
            except:
                pass
        if isinstance(problem, OperationError):
            raise problem
        raise OperationError(reason)
    if runAsSkipped:
        say('note: RunAs roles need passwords and are not imported (%s)' % string.join(runAsSkipped, ', '))
    if dryRun:
        say('dry run: %d application(s) would change; nothing saved' % len(edits))
    else:
        say('%d application(s) changed; configuration %s' % (len(edits), _savedWord(saved)))
    return 0, {'cell': cell, 'dryRun': jsonenc.boolean(dryRun), 'saved': jsonenc.boolean(saved),
               'edits': edits, 'runAsNotImported': runAsSkipped}


def _savedWord(saved):
    if saved:
        return 'saved'
    return 'unchanged'


def _serverOptions(values):
    return positiveNumber(values, 'timeout'), values['cluster'], values['server']


def stopServers(admin, values, say):
    timeout, clusters, serverSpecs = _serverOptions(values)
    targets = servers.selectTargets(admin, clusters, serverSpecs)
    result = servers.stopServers(admin, targets, timeout, say)
    say('stopped %d, already stopped %d, failed %d' % (
        len(result['stopped']), len(result['alreadyStopped']), len(result['failed'])))
    if result['failed']:
        say('FAILED: ' + string.join(result['failed'], ', '))
        return 1, result
    return 0, result


def startServers(admin, values, say):
    timeout, clusters, serverSpecs = _serverOptions(values)
    targets = servers.selectTargets(admin, clusters, serverSpecs)
    result = servers.startServers(admin, targets, timeout, say)
    say('started %d, already running %d, failed %d' % (
        len(result['started']), len(result['alreadyStarted']), len(result['failed'])))
    if result['failed']:
        say('FAILED: ' + string.join(result['failed'], ', '))
        return 1, result
    return 0, result


_SERVER_SPEC = [
    Option('cluster', 'NAME', repeat=1, help='members of this cluster'),
    Option('server', 'NODE/NAME', repeat=1, help='this server'),
    Option('timeout', 'SECONDS', default=TIMEOUT_DEFAULT, help='how long to wait in total'),
    OUT,
]

# script name -> (function, option spec)
COMMANDS = {
    'list_auth_aliases': (listAuthAliases, [OUT]),
    'check_filenet_admin': (checkFilenetAdmin, [
        Option('alias', 'NAME', default='filenetAdmin', help='J2C alias to look for'), OUT]),
    'export_role_mappings': (exportRoleMappings, [
        Option('app', 'NAME', repeat=1, help='only this application'),
        Option('out', 'FILE', required=1, help='write the JSON result to FILE')]),
    'import_role_mappings': (importRoleMappings, [
        Option('in', 'FILE', required=1, help='file written by export_role_mappings'),
        Option('app', 'NAME', repeat=1, help='only this application'),
        Option('dry-run', help='print the edits, change nothing'), OUT]),
    'stop_servers': (stopServers, _SERVER_SPEC),
    'start_servers': (startServers, _SERVER_SPEC),
}
