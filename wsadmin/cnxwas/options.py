"""GNU-style long options (--name value, --name=value) on top of getopt.

getopt.gnu_getopt is Python 2.3+, so plain getopt.getopt is used and any
argument left over is a usage error. A spec is a list of Option objects.
"""

import getopt
import string

from cnxwas.errors import UsageError


class Option:
    def __init__(self, name, metavar=None, repeat=0, required=0, default=None, help=''):
        self.name = name            # without the leading --
        self.metavar = metavar      # None: a flag without a value
        self.repeat = repeat        # may be given several times: value is a list
        self.required = required
        self.default = default
        self.help = help

    def takesValue(self):
        return self.metavar is not None

    def usage(self):
        text = '--' + self.name
        if self.takesValue():
            text = text + ' ' + self.metavar
        if self.repeat:
            text = text + ' ...'
        if not self.required:
            text = '[' + text + ']'
        return text


def usageLine(scriptName, spec):
    parts = [scriptName]
    for option in spec:
        parts.append(option.usage())
    return 'usage: ' + string.join(parts, ' ')


def parse(argv, spec):
    """A dict option name -> value (list for repeatable ones, 1/0 for flags).

    Raises UsageError with a one-line reason. '--help' gives {'help': 1}.
    """
    longopts = ['help']
    byName = {}
    for option in spec:
        byName[option.name] = option
        if option.takesValue():
            longopts.append(option.name + '=')
        else:
            longopts.append(option.name)
    args = []
    for arg in argv:
        args.append(str(arg))
    try:
        pairs, rest = getopt.getopt(args, '', longopts)
    except getopt.error, problem:
        raise UsageError(str(problem))
    if rest:
        raise UsageError('unexpected argument %s' % repr(rest[0]))
    values = {}
    for option in spec:
        if option.repeat:
            values[option.name] = []
        elif option.takesValue():
            values[option.name] = option.default
        else:
            values[option.name] = 0
    seen = {}
    for flag, value in pairs:
        name = flag[2:]
        if name == 'help':
            values['help'] = 1
            continue
        option = byName[name]
        if option.repeat:
            values[name].append(value)
        elif seen.has_key(name):
            raise UsageError('option --%s given more than once' % name)
        elif option.takesValue():
            if value == '':
                raise UsageError('option --%s needs a non-empty value' % name)
            values[name] = value
        else:
            values[name] = 1
        seen[name] = 1
    if values.has_key('help'):
        return values
    for option in spec:
        if option.required and not seen.has_key(option.name):
            raise UsageError('option --%s is required' % option.name)
    return values


def positiveNumber(values, name):
    """values[name] as a float > 0, or a UsageError."""
    text = values[name]
    try:
        number = float(text)
    except ValueError:
        raise UsageError('option --%s needs a number, not %s' % (name, repr(text)))
    if number <= 0:
        raise UsageError('option --%s must be greater than 0' % name)
    return number
