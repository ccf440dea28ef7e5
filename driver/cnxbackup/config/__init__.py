"""Environment files: ``environments/<ENV>.yaml`` -> a validated, placeholder-resolved Environment."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from ..errors import ConfigError
from ..invocation import command_line, env_argument
from ..paths import assets_root, demo_dir, project_root
from .loader import LineMap, load_yaml_with_lines
from .schema import validate

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
# Order matters: later keys may refer to earlier ones.
_PATH_ORDER = [
    "was_root", "dmgr_profile", "profile_registry", "connections_root", "shared_data", "local_data",
    "im_data", "im_install", "im_shared", "ccm_storage", "engine_ws_ear",
]


@dataclass
class Environment:
    """A validated environment: ``data`` is the filled-in config tree."""

    name: str
    file: str
    data: Dict[str, Any]
    lines: LineMap
    given: str = ""  # ``--env`` as it was given (a name or a path): what hints repeat

    @property
    def argument(self) -> str:
        """``--env`` for a hint printed here: as it was given (a path made absolute), else the name."""
        return env_argument(self.given) if self.given else self.name

    def where(self, key: str) -> str:
        """``file:line`` of a dotted key, for error messages."""
        probe = key
        while probe and probe not in self.lines:
            probe = probe.rsplit(".", 1)[0] if "." in probe else ""
        line = self.lines.get(probe)
        return f"{self.file}:{line}" if line else self.file

    def section(self, name: str) -> Dict[str, Any]:
        return self.data.get(name) or {}

    @property
    def paths(self) -> Dict[str, Any]:
        return self.data["paths"]


def find_environment_file(env: str, directory: Optional[str] = None) -> str:
    """``prod`` -> environments/prod.yaml (cwd first, then the project's own folder)."""
    if env.endswith((".yaml", ".yml")) or os.sep in env:
        return env
    candidates = []
    if directory:
        candidates.append(os.path.join(directory, f"{env}.yaml"))
    candidates.append(os.path.join(os.getcwd(), "environments", f"{env}.yaml"))
    candidates.append(os.path.join(assets_root(), "environments", f"{env}.yaml"))
    for candidate in candidates:
        if os.path.exists(candidate):
            return candidate
    unique = list(dict.fromkeys(os.path.normpath(c) for c in candidates))
    existing = sorted({os.path.splitext(name)[0] for folder in {os.path.dirname(c) for c in unique}
                       if os.path.isdir(folder) for name in os.listdir(folder) if name.endswith(".yaml")})
    raise ConfigError(f"environment '{env}': there is no {' and no '.join(unique)}; write it with: {command_line('init', '--env', env)}"
                      f" (environments that exist: {', '.join(existing) or 'none'})")


def _substitute(value: str, names: Dict[str, str], where: str, key: str) -> str:
    def replace(match: "re.Match[str]") -> str:
        name = match.group(1)
        if name not in names:
            raise ConfigError(f"{where}: key '{key}': unknown placeholder {{{name}}} (known: {', '.join(sorted(names))})")
        return names[name]

    for _ in range(5):  # placeholders may nest a few levels
        new = _PLACEHOLDER.sub(replace, value)
        if new == value:
            break
        value = new
    return os.path.expanduser(value)


def _resolve_placeholders(env: Environment) -> None:
    here = os.path.dirname(os.path.abspath(env.file))
    names: Dict[str, str] = {"here": here, "project": project_root(env.file), "demo_kit": demo_dir()}
    demo = env.data.get("demo")
    if demo:
        demo["root"] = os.path.abspath(_substitute(demo["root"], names, env.where("demo.root"), "demo.root"))
        names["demo_root"] = demo["root"]
    paths = env.data["paths"]
    for key in _PATH_ORDER:
        if isinstance(paths.get(key), str):
            paths[key] = _substitute(paths[key], names, env.where(f"paths.{key}"), f"paths.{key}")
            names[key] = paths[key]

    def walk(node: Any, dotted: str) -> Any:
        if isinstance(node, str):
            return _substitute(node, names, env.where(dotted), dotted)
        if isinstance(node, list):
            return [walk(item, f"{dotted}[{i}]") for i, item in enumerate(node)]
        if isinstance(node, dict):
            return {k: walk(v, f"{dotted}.{k}" if dotted else k) for k, v in node.items()}
        return node

    for section in ("paths", "wsadmin", "database", "target", "archive", "hosts", "component_pack", "signing"):
        if env.data.get(section) is not None:
            env.data[section] = walk(env.data[section], section)


def _cross_checks(env: Environment) -> None:
    data = env.data
    if data["target"] is None:
        raise ConfigError(f"{env.file}: missing required section 'target' (with key 'target.dir')")
    host_names: List[str] = [h["name"] for h in data["hosts"]]
    seen = set()
    for index, name in enumerate(host_names):
        if name in seen:
            raise ConfigError(f"{env.where(f'hosts[{index}].name')}: host name '{name}' is used twice")
        seen.add(name)
    for index, item in enumerate(data["paths"]["extra"]):
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", item["name"]):
            raise ConfigError(f"{env.where(f'paths.extra[{index}].name')}: item name '{item['name']}' "
                              "may only use letters, digits, '.', '-' and '_'")
        if item.get("host") and item["host"] not in seen:
            raise ConfigError(f"{env.where(f'paths.extra[{index}].host')}: unknown host '{item['host']}' "
                              f"(hosts: {', '.join(host_names) or 'none'})")
    target = os.path.realpath(data["target"]["dir"])
    for key in ("key", "trusted_keys"):
        path = os.path.realpath(data["signing"][key])
        if path == target or path.startswith(target.rstrip("/") + "/"):
            raise ConfigError(f"{env.where('signing.' + key)}: key 'signing.{key}' ({data['signing'][key]}) lies inside "
                              f"target.dir ({data['target']['dir']}), where anyone who can write the sets could replace it")
    for section in ("wsadmin", "database"):
        _password_sources(env, section)
    db = data["database"]
    if db and db.get("host") and db["host"] not in seen:
        raise ConfigError(f"{env.where('database.host')}: unknown host '{db['host']}' (hosts: {', '.join(host_names) or 'none'})")
    if db and db["vendor"] != "none" and not db.get("backup_dir"):
        raise ConfigError(f"{env.where('database')}: missing required key 'database.backup_dir'")
    if db and db.get("auth") == "password" and not db.get("user"):
        raise ConfigError(f"{env.where('database.auth')}: key 'database.user' is required when database.auth is password")


ENV_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")


def check_file_trust(path: str) -> None:
    """An environment file names programs that run as root (``wsadmin.command``, ``database.command``):
    it and its folder must be writable by nobody but root or the user running cnxbackup."""
    me = os.geteuid()
    real = os.path.realpath(path)
    for target, what in ((real, "file"), (os.path.dirname(real), "folder")):
        try:
            info = os.stat(target)
        except OSError as error:
            raise ConfigError(f"{target}: cannot check the environment {what}: {error.strerror}") from None
        if info.st_uid not in (0, me):
            raise ConfigError(f"{target}: the environment {what} belongs to uid {info.st_uid}, not to root or to "
                              "the user running cnxbackup; it names programs that run as this user")
        if info.st_mode & 0o022:
            raise ConfigError(f"{target}: the environment {what} is writable by group or others (mode "
                              f"{info.st_mode & 0o7777:04o}); it names programs that run as this user: chmod go-w it")


def _password_sources(env: Environment, section: str) -> None:
    data = env.data.get(section) or {}
    given = [key for key in ("password_env", "password_file", "password_prompt") if data.get(key)]
    if len(given) > 1:
        raise ConfigError(f"{env.where(section + '.' + given[1])}: {section} has {' and '.join(given)}; give exactly "
                          "one password source")


def apply_overlay(raw: Dict[str, Any], overlay: Dict[str, Any]) -> Dict[str, Any]:
    """A copy of ``raw`` with ``overlay`` laid over it: per section, keys replace keys; ``hosts``
    is keyed by host name. Used for values only the running program knows (the demo's stand-ins)."""
    data = dict(raw)
    for section, values in overlay.items():
        if section == "hosts":
            data["hosts"] = [{**host, **values.get(host.get("name"), {})} if isinstance(host, dict) else host
                             for host in raw.get("hosts") or []]
        else:
            current = raw.get(section)
            data[section] = {**(current if isinstance(current, dict) else {}), **values}
    return data


def load_environment(env: str, directory: Optional[str] = None,
                     overlay: Optional[Dict[str, Any]] = None) -> Environment:
    """Load, validate and resolve an environment by name or path (with ``overlay`` laid over the file)."""
    path = find_environment_file(env, directory)
    if os.path.exists(path):
        check_file_trust(path)
    raw, lines = load_yaml_with_lines(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}:1: the environment file must be a mapping of sections")
    if raw.get("database") is None:
        raw = {**raw, "database": {"vendor": "none"}}  # no database section: nothing to back up there
    if overlay:
        raw = apply_overlay(raw, overlay)
    data = validate(raw, path, lines)
    name = data.get("environment") or os.path.splitext(os.path.basename(path))[0]
    if not ENV_NAME.fullmatch(name):
        where = f"{path}:{lines['environment']}" if "environment" in lines else path
        raise ConfigError(f"{where}: environment name {name[:70]!r} may use only letters, digits, '-', '_' and '.' "
                          "(not first), at most 64 characters")
    environment = Environment(name=name, file=path, data=data, lines=lines, given=env)
    _resolve_placeholders(environment)
    _cross_checks(environment)
    return environment
