"""Load YAML while remembering where every key came from.

PyYAML's composer gives each node a start mark; we keep a map from the dotted key path
(``wsadmin.port``, ``hosts[1].address``) to its line, so every validation error can name
the file, the line and the key.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Tuple

import yaml

from ..errors import ConfigError

LineMap = Dict[str, int]


def _node_to_python(node: yaml.Node, path: str, lines: LineMap, filename: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: Dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(f"{filename}:{key_node.start_mark.line + 1}: keys must be plain names")
            key = key_node.value
            child = f"{path}.{key}" if path else key
            if key in result:
                raise ConfigError(f"{filename}:{key_node.start_mark.line + 1}: key '{child}' is given twice")
            lines[child] = key_node.start_mark.line + 1
            result[key] = _node_to_python(value_node, child, lines, filename)
            lines[child] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _node_to_python(item, f"{path}[{index}]", lines, filename)
            for index, item in enumerate(node.value)
        ]
    assert isinstance(node, yaml.ScalarNode)
    return _scalar(node)


def _scalar(node: yaml.ScalarNode) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def load_yaml_with_lines(path: str) -> Tuple[Any, LineMap]:
    """Return (data, line map) for a YAML file; syntax errors become ConfigError with the line."""
    if not os.path.exists(path):
        raise ConfigError(f"{path}: no such environment file")
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{where}: YAML syntax error: {problem}") from None
    if node is None:
        raise ConfigError(f"{path}: the file is empty")
    lines: LineMap = {}
    data = _node_to_python(node, "", lines, path)
    return data, lines
