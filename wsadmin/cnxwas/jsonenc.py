"""Small JSON encoder and decoder: Jython 2.1 has no json module.

Encodes str/unicode, int/long, float, None, list/tuple, dict (keys sorted, so the
output is deterministic) and the booleans TRUE/FALSE below (Jython 2.1 has no
bool: 1 and 0 are plain numbers). Non-ASCII characters become \\uXXXX, so the
output is pure ASCII. decode() returns 1/0 for true/false.
"""

import string
import types


class JsonBool:
    """A JSON boolean; use the TRUE and FALSE instances."""

    def __init__(self, value):
        self.value = value

    def __nonzero__(self):
        return self.value

    def __repr__(self):
        if self.value:
            return 'TRUE'
        return 'FALSE'


TRUE = JsonBool(1)
FALSE = JsonBool(0)


def boolean(value):
    """TRUE or FALSE for any truth value."""
    if value:
        return TRUE
    return FALSE


_STRING_TYPES = [types.StringType]
if hasattr(types, 'UnicodeType') and types.UnicodeType is not types.StringType:
    _STRING_TYPES.append(types.UnicodeType)
_INT_TYPES = [types.IntType, types.LongType]

_ESCAPES = {'"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t',
            '\b': '\\b', '\f': '\\f'}


def isString(value):
    return type(value) in _STRING_TYPES


def encodeString(value):
    parts = ['"']
    for char in value:
        code = ord(char)
        if _ESCAPES.has_key(char):
            parts.append(_ESCAPES[char])
        elif code < 0x20 or code >= 0x7f:
            if code > 0xffff:
                code = code - 0x10000
                parts.append('\\u%04x\\u%04x' % (0xd800 + (code >> 10), 0xdc00 + (code & 0x3ff)))
            else:
                parts.append('\\u%04x' % code)
        else:
            parts.append(str(char))
    parts.append('"')
    return string.join(parts, '')


def encode(value):
    """The JSON text (str, ASCII only) of value."""
    valueType = type(value)
    if value is None:
        return 'null'
    if isinstance(value, JsonBool):
        if value.value:
            return 'true'
        return 'false'
    if valueType in _STRING_TYPES:
        return encodeString(value)
    if valueType in _INT_TYPES:
        text = str(value)
        if text[-1:] == 'L':
            text = text[:-1]
        return text
    if valueType is types.FloatType:
        return repr(value)
    if valueType is types.ListType or valueType is types.TupleType:
        return '[' + string.join(map(encode, value), ', ') + ']'
    if valueType is types.DictType:
        keys = value.keys()
        for key in keys:
            if type(key) not in _STRING_TYPES:
                raise TypeError('JSON object keys must be strings, not %s' % repr(key))
        keys.sort()
        parts = []
        for key in keys:
            parts.append(encodeString(key) + ': ' + encode(value[key]))
        return '{' + string.join(parts, ', ') + '}'
    raise TypeError('cannot encode %s as JSON' % repr(value))


class JsonDecodeError(ValueError):
    pass


_WHITESPACE = ' \t\r\n'
_UNESCAPES = {'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n',
              'r': '\r', 't': '\t'}


class _Decoder:
    def __init__(self, text):
        self.text = text
        self.pos = 0

    def fail(self, message):
        raise JsonDecodeError('%s at offset %d' % (message, self.pos))

    def skipSpace(self):
        while self.pos < len(self.text) and string.find(_WHITESPACE, self.text[self.pos]) >= 0:
            self.pos = self.pos + 1

    def peek(self):
        self.skipSpace()
        if self.pos >= len(self.text):
            self.fail('unexpected end of JSON')
        return self.text[self.pos]

    def expect(self, literal):
        if self.text[self.pos:self.pos + len(literal)] != literal:
            self.fail('expected %s' % literal)
        self.pos = self.pos + len(literal)

    def value(self):
        char = self.peek()
        if char == '{':
            return self.object()
        if char == '[':
            return self.array()
        if char == '"':
            return self.string()
        if char == 't':
            self.expect('true')
            return 1
        if char == 'f':
            self.expect('false')
            return 0
        if char == 'n':
            self.expect('null')
            return None
        return self.number()

    def object(self):
        result = {}
        self.pos = self.pos + 1
        if self.peek() == '}':
            self.pos = self.pos + 1
            return result
        while 1:
            if self.peek() != '"':
                self.fail('expected a string key')
            key = self.string()
            if self.peek() != ':':
                self.fail('expected ":"')
            self.pos = self.pos + 1
            result[key] = self.value()
            char = self.peek()
            self.pos = self.pos + 1
            if char == '}':
                return result
            if char != ',':
                self.fail('expected "," or "}"')

    def array(self):
        result = []
        self.pos = self.pos + 1
        if self.peek() == ']':
            self.pos = self.pos + 1
            return result
        while 1:
            result.append(self.value())
            char = self.peek()
            self.pos = self.pos + 1
            if char == ']':
                return result
            if char != ',':
                self.fail('expected "," or "]"')

    def string(self):
        self.pos = self.pos + 1
        parts = []
        text = self.text
        while 1:
            end = self.pos
            while end < len(text) and text[end] != '"' and text[end] != '\\':
                end = end + 1
            if end >= len(text):
                self.fail('unterminated string')
            parts.append(text[self.pos:end])
            self.pos = end + 1
            if text[end] == '"':
                return string.join(parts, '')
            escape = text[self.pos:self.pos + 1]
            if escape == 'u':
                code = self.hex4(self.pos + 1)
                self.pos = self.pos + 5
                if 0xd800 <= code < 0xdc00 and text[self.pos:self.pos + 2] == '\\u':
                    low = self.hex4(self.pos + 2)
                    if 0xdc00 <= low < 0xe000:
                        self.pos = self.pos + 6
                        parts.append(_character(code, low))
                        continue
                parts.append(_character(code, None))
            elif _UNESCAPES.has_key(escape):
                parts.append(_UNESCAPES[escape])
                self.pos = self.pos + 1
            else:
                self.fail('bad escape')

    def hex4(self, start):
        digits = self.text[start:start + 4]
        try:
            return string.atoi(digits, 16)
        except ValueError:
            self.fail('bad \\u escape')

    def number(self):
        start = self.pos
        while self.pos < len(self.text) and string.find('+-0123456789.eE', self.text[self.pos]) >= 0:
            self.pos = self.pos + 1
        token = self.text[start:self.pos]
        if not token:
            self.fail('unexpected character %s' % repr(self.text[start]))
        try:
            if string.find(token, '.') >= 0 or string.find(string.lower(token), 'e') >= 0:
                return float(token)
            return int(token)
        except (ValueError, OverflowError):
            try:
                return long(token)
            except ValueError:
                self.fail('bad number %s' % token)


def _character(code, low):
    if low is not None:
        full = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00)
        try:
            return unichr(full)
        except ValueError:
            return unichr(code) + unichr(low)
    if code < 0x80:
        return chr(code)
    return unichr(code)


def decode(text):
    """Parse JSON text; objects become dicts, true/false become 1/0."""
    decoder = _Decoder(text)
    result = decoder.value()
    decoder.skipSpace()
    if decoder.pos != len(text):
        decoder.fail('extra data after JSON value')
    return result
