"""Load YAML while remembering where every key came from, refusing anything but plain YAML.

PyYAML's composer gives each node a start mark; we keep a map from the dotted key path
(``wsadmin.port``, ``hosts[1].address``) to its line, so every validation error can name
the file, the line and the key. Nothing is constructed from tags: only the plain YAML types
(mappings, sequences, strings, integers, floats, booleans, null) are accepted, and the file's
size, its nesting and the values its aliases expand to are bounded, so that no file can
crash, hang or fool the loader -- every problem is a ConfigError naming the file and line.
"""
from __future__ import annotations

import math
import os
import re
from typing import Any, Dict, List, Tuple

import yaml

from ..errors import ConfigError

LineMap = Dict[str, int]

MAX_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_VALUES = 20_000  # values after alias expansion: an environment file has a few hundred
PLAIN = "tag:yaml.org,2002:"
SCALAR_TAGS = {PLAIN + name for name in ("str", "int", "float", "bool", "null", "timestamp")}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class _Budget:
    def __init__(self) -> None:
        self.values = 0


def _where(filename: str, node: yaml.Node) -> str:
    return f"{filename}:{node.start_mark.line + 1}"


def _node_to_python(node: yaml.Node, path: str, lines: LineMap, filename: str, depth: int, budget: _Budget) -> Any:
    budget.values += 1
    if budget.values > MAX_VALUES:
        raise ConfigError(f"{_where(filename, node)}: the file expands to more than {MAX_VALUES:,} values "
                          "(aliases of aliases?); an environment file has a few hundred")
    if depth > MAX_DEPTH:
        raise ConfigError(f"{_where(filename, node)}: nested more than {MAX_DEPTH} levels deep")
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        if node.tag != PLAIN + "map":
            raise ConfigError(f"{_where(filename, node)}: tag {node.tag} is not plain YAML (only mappings, lists "
                              "and plain values are accepted)")
        result: Dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in (PLAIN + "str",):
                where = _where(filename, key_node)
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag == PLAIN + "merge":
                    raise ConfigError(f"{where}: merge keys (<<) are not accepted; write the keys out")
                raise ConfigError(f"{where}: keys must be plain names")
            key = key_node.value
            child = f"{path}.{key}" if path else key
            if _CONTROL.search(key):
                raise ConfigError(f"{_where(filename, key_node)}: a key holds a control character")
            if key in result:
                raise ConfigError(f"{_where(filename, key_node)}: key '{child}' is given twice")
            lines[child] = key_node.start_mark.line + 1
            result[key] = _node_to_python(value_node, child, lines, filename, depth + 1, budget)
            lines[child] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        if node.tag != PLAIN + "seq":
            raise ConfigError(f"{_where(filename, node)}: tag {node.tag} is not plain YAML")
        return [_node_to_python(item, f"{path}[{index}]", lines, filename, depth + 1, budget)
                for index, item in enumerate(node.value)]
    assert isinstance(node, yaml.ScalarNode)
    return _scalar(node, filename)


def _scalar(node: yaml.ScalarNode, filename: str) -> Any:
    if node.tag not in SCALAR_TAGS:
        raise ConfigError(f"{_where(filename, node)}: tag {node.tag} is not plain YAML (a value must be text, a "
                          "number, true/false or null)")
    if node.tag == PLAIN + "timestamp":
        return node.value  # a date is only text here
    loader = yaml.SafeLoader("")
    try:
        value = loader.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, OverflowError) as error:
        raise ConfigError(f"{_where(filename, node)}: cannot read the value {node.value[:40]!r}: "
                          f"{str(error).splitlines()[0]}") from None
    finally:
        loader.dispose()
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{_where(filename, node)}: {node.value!r} is not a finite number")
    if isinstance(value, str) and _CONTROL.search(value):
        raise ConfigError(f"{_where(filename, node)}: the value holds a control character")
    return value


def _decode(raw: bytes, path: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[error.start]:02x})") from None


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def load_yaml_with_lines(path: str) -> Tuple[Any, LineMap]:
    """Return (data, line map) for a YAML file; every problem becomes a one-line ConfigError."""
    if not os.path.exists(path):
        raise ConfigError(f"{path}: no such environment file")
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_BYTES:,} bytes; not an environment file")
    text = _decode(raw, path)
    if "\0" in text:
        raise ConfigError(f"{path}:{text[:text.index(chr(0))].count(chr(10)) + 1}: a NUL byte")
    try:
        nodes: List[yaml.Node] = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{where}: YAML syntax error: {_one_line(problem)}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be an environment file") from None
    if not nodes or nodes[0] is None:
        raise ConfigError(f"{path}: the file is empty")
    if len(nodes) > 1:
        raise ConfigError(f"{_where(path, nodes[1])}: a second YAML document; an environment file has one")
    lines: LineMap = {}
    try:
        data = _node_to_python(nodes[0], "", lines, path, 0, _Budget())
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be an environment file") from None
    return data, lines
