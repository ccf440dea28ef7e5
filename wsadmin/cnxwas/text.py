"""Helpers for wsadmin output (strings are unicode on Jython 2.7, str on 2.1)."""

import string
import sys

from cnxwas.errors import CnxError


def lines(output):
    """Non-empty, stripped lines of a wsadmin result ('' or None gives [])."""
    if output is None:
        return []
    result = []
    for line in string.split(output, '\n'):
        line = string.strip(line)
        if line:
            result.append(line)
    return result


def rawLines(output):
    """Lines with only the line terminator removed (keeps trailing blanks)."""
    if output is None:
        return []
    result = []
    for line in string.split(output, '\n'):
        if line[-1:] == '\r':
            line = line[:-1]
        result.append(line)
    return result


def isBlank(value):
    return value is None or string.strip(value) == ''


def oneLine(message):
    """Collapse a (possibly multi-line Java) message into one line."""
    parts = lines(message)
    return string.join(parts, ' ')


def currentErrorReason():
    """One-line reason for the exception being handled (Python or Java)."""
    excType, excValue = sys.exc_info()[:2]
    if isinstance(excValue, CnxError):
        return oneLine(excValue.message)
    try:
        valueText = str(excValue)
    except:
        valueText = repr(excValue)
    typeName = getattr(excType, '__name__', None)
    if typeName is None:
        typeName = str(excType)
    if valueText.find(typeName) >= 0 or typeName == 'instance':
        return oneLine(valueText)
    if valueText:
        return oneLine('%s: %s' % (typeName, valueText))
    return typeName


def containsText(haystack, needle):
    """Substring test that works on Jython 2.1 (no substring `in`)."""
    if haystack is None:
        return 0
    return string.find(haystack, needle) >= 0
