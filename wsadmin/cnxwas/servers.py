"""Stopping and starting application servers (never the dmgr or node agents).

Targets are (node, server) pairs. Stop: AdminControl.invoke(serverMBean, 'stop')
for every running target, then poll completeObjectName('type=Server,node=N,
process=S,*') until it is '' or --timeout passes. A server without an MBean, or
one whose stop says 'Unable to locate running server', was already stopped.
Start: AdminControl.startServer(S, N), then poll for the MBean.
"""

import string
import time

from cnxwas import configid, text
from cnxwas.errors import OperationError

PROTECTED_TYPES = ['DEPLOYMENT_MANAGER', 'NODE_AGENT']
APPLICATION_SERVER = 'APPLICATION_SERVER'
POLL_SECONDS = 1.0


def label(target):
    return '%s/%s' % (target[0], target[1])


def _serverType(config, serverId):
    value = configid.attribute(config, serverId, 'serverType')
    if value is None:
        return ''
    return str(value)


def _isProtected(config, serverId, serverName):
    if _serverType(config, serverId) in PROTECTED_TYPES:
        return 1
    return serverName == 'dmgr' or serverName == 'nodeagent'


def allApplicationServers(admin):
    """Every APPLICATION_SERVER in the cell (cluster members included)."""
    config = admin.require('AdminConfig')
    targets = []
    for serverId in configid.splitList(config.list('Server')):
        parts = configid.pathParts(serverId)
        if not parts.has_key('nodes') or not parts.has_key('servers'):
            continue
        name = parts['servers']
        if _isProtected(config, serverId, name):
            continue
        if _serverType(config, serverId) != APPLICATION_SERVER:
            continue
        targets.append((parts['nodes'], name))
    return targets


def clusterMembers(admin, clusterName):
    config = admin.require('AdminConfig')
    clusterId = configid.firstId(config.getid('/ServerCluster:%s/' % clusterName))
    if not clusterId:
        raise OperationError('unknown cluster %s' % clusterName)
    targets = []
    for memberId in configid.splitList(config.list('ClusterMember', clusterId)):
        node = configid.attribute(config, memberId, 'nodeName')
        name = configid.attribute(config, memberId, 'memberName')
        if node and name:
            targets.append((node, name))
    return targets


def namedServer(admin, spec):
    """(node, server) for 'NODE/SERVER'; refuses the dmgr and node agents."""
    cut = string.find(spec, '/')
    if cut <= 0 or cut == len(spec) - 1 or string.find(spec, '/', cut + 1) >= 0:
        raise OperationError('--server wants NODE/SERVER, not %s' % spec)
    node = spec[:cut]
    name = spec[cut + 1:]
    config = admin.require('AdminConfig')
    serverId = configid.firstId(config.getid('/Node:%s/Server:%s/' % (node, name)))
    if not serverId:
        raise OperationError('unknown server %s' % spec)
    if _isProtected(config, serverId, name):
        raise OperationError('refusing to touch %s: it is a dmgr or node agent' % spec)
    return (node, name)


def selectTargets(admin, clusters, servers):
    """Targets named by --cluster/--server, or every application server."""
    if not clusters and not servers:
        return allApplicationServers(admin)
    targets = []
    seen = {}
    for clusterName in clusters:
        for target in clusterMembers(admin, clusterName):
            if not seen.has_key(target):
                seen[target] = 1
                targets.append(target)
    for spec in servers:
        target = namedServer(admin, spec)
        if not seen.has_key(target):
            seen[target] = 1
            targets.append(target)
    return targets


def serverMBean(control, target):
    return control.completeObjectName('type=Server,node=%s,process=%s,*' % (target[0], target[1]))


def _waitFor(control, pending, deadline, wantRunning):
    """Poll until every target in `pending` reaches the wanted state or the
    deadline passes; returns the targets that did not."""
    while pending:
        remaining = []
        for target in pending:
            running = not text.isBlank(serverMBean(control, target))
            if running != wantRunning:
                remaining.append(target)
        pending = remaining
        if not pending or time.time() >= deadline:
            break
        time.sleep(POLL_SECONDS)
    return pending


def stopServers(admin, targets, timeoutSeconds, report):
    """{'stopped', 'alreadyStopped', 'failed'} as lists of 'NODE/SERVER'.
    `report(line)` is called with progress lines."""
    control = admin.require('AdminControl')
    deadline = time.time() + timeoutSeconds
    result = {'stopped': [], 'alreadyStopped': [], 'failed': []}
    pending = []
    for target in targets:
        mbean = serverMBean(control, target)
        if text.isBlank(mbean):
            result['alreadyStopped'].append(label(target))
            continue
        try:
            control.invoke(mbean, 'stop')
        except:
            reason = text.currentErrorReason()
            if text.containsText(reason, 'Unable to locate running server'):
                result['alreadyStopped'].append(label(target))
            else:
                report('stop of %s failed: %s' % (label(target), reason))
                result['failed'].append(label(target))
            continue
        report('stopping %s' % label(target))
        pending.append(target)
    stuck = _waitFor(control, pending, deadline, 0)
    for target in pending:
        if target in stuck:
            report('%s did not stop within %s seconds' % (label(target), _seconds(timeoutSeconds)))
            result['failed'].append(label(target))
        else:
            result['stopped'].append(label(target))
    return result


def startServers(admin, targets, timeoutSeconds, report):
    """{'started', 'alreadyStarted', 'failed'} as lists of 'NODE/SERVER'."""
    control = admin.require('AdminControl')
    deadline = time.time() + timeoutSeconds
    result = {'started': [], 'alreadyStarted': [], 'failed': []}
    pending = []
    for target in targets:
        if not text.isBlank(serverMBean(control, target)):
            result['alreadyStarted'].append(label(target))
            continue
        waitSeconds = int(deadline - time.time())
        if waitSeconds < 1:
            waitSeconds = 1
        try:
            control.startServer(target[1], target[0], waitSeconds)
        except:
            reason = text.currentErrorReason()
            if text.containsText(reason, 'already running'):
                result['alreadyStarted'].append(label(target))
            else:
                report('start of %s failed: %s' % (label(target), reason))
                result['failed'].append(label(target))
            continue
        report('starting %s' % label(target))
        pending.append(target)
    late = _waitFor(control, pending, deadline, 1)
    for target in pending:
        if target in late:
            report('%s did not start within %s seconds' % (label(target), _seconds(timeoutSeconds)))
            result['failed'].append(label(target))
        else:
            result['started'].append(label(target))
    return result


def _seconds(value):
    if value == int(value):
        return str(int(value))
    return str(value)
