"""Environment files: every mistake names the file, the line and the key; defaults fill in."""

import os

import pytest

import e2e
from cnxbackup.config import load_environment
from cnxbackup.config.schema import SCHEMA, reference_markdown
from cnxbackup.errors import ConfigError

ROOT = e2e.ROOT


def error_of(path):
    with pytest.raises(ConfigError) as info:
        load_environment(path)
    return str(info.value)


def test_minimal_file_gets_hcl_defaults(tmp_path):
    env = load_environment(e2e.environment_file(tmp_path, """
        target:
          dir: /backup
        database:
          vendor: none
    """))
    assert env.name == "prod"
    assert env.paths["dmgr_profile"] == "/opt/IBM/WebSphere/AppServer/profiles/Dmgr01"
    assert env.paths["shared_data"] == "/opt/IBM/Connections/data/shared"
    assert env.section("wsadmin")["command"] == "/opt/IBM/WebSphere/AppServer/profiles/Dmgr01/bin/wsadmin.sh"
    assert env.section("wsadmin")["port"] == 8879


def test_placeholders_follow_overrides(tmp_path):
    env = load_environment(e2e.environment_file(tmp_path, """
        paths:
          was_root: /srv/was
          connections_root: /srv/cnx
        target: {dir: "{here}/out"}
        database: {vendor: none}
    """))
    assert env.paths["dmgr_profile"] == "/srv/was/profiles/Dmgr01"
    assert env.paths["local_data"] == "/srv/cnx/data/local"
    assert env.section("target")["dir"] == os.path.join(str(tmp_path), "out")


@pytest.mark.parametrize("body, line, key", [
    ("target:\n  dir: /b\n  colour: red\n", 3, "target.colour"),
    ("target:\n  dir: /b\nwsadmin:\n  port: eighty\n", 4, "wsadmin.port"),
    ("target:\n  dir: /b\nwsadmin:\n  port: 70000\n", 4, "wsadmin.port"),
    ("target:\n  dir: /b\nconnections:\n  ccm: maybe\n", 4, "connections.ccm"),
    ("target:\n  dir: /b\ndatabase:\n  vendor: sybase\n", 4, "database.vendor"),
    ("target:\n  dir: /b\ndatabase:\n  vendor: db2\n", 3, "database.backup_dir"),
    ("paths:\n  was_root: /x\n", 1, "target"),
    ("target:\n  dir: /b\npaths:\n  dmgr_profile: '{nowhere}/x'\n", 4, "paths.dmgr_profile"),
    ("target:\n  dir: /b\ntarget:\n  dir: /c\n", 3, "target"),
])
def test_errors_name_file_line_and_key(tmp_path, body, line, key):
    path = e2e.environment_file(tmp_path, body)
    message = error_of(path)
    assert path in message
    assert key in message
    if key != "target" or "twice" in message:
        assert f"{path}:{line}:" in message


def test_yaml_syntax_error_names_line(tmp_path):
    path = e2e.environment_file(tmp_path, "target:\n  dir: /b\n wsadmin: [\n")
    message = error_of(path)
    assert message.startswith(f"{path}:") and "YAML syntax error" in message


def test_hosts_and_items_cross_checked(tmp_path):
    path = e2e.environment_file(tmp_path, """
        target: {dir: /b}
        database: {vendor: none}
        hosts:
          - {name: dmgr, address: 10.0.0.1, roles: [dmgr]}
        paths:
          extra:
            - {name: ihs, path: /opt/IBM/HTTPServer/conf, host: web1}
    """)
    message = error_of(path)
    assert "unknown host 'web1'" in message and ":8:" in message


def test_missing_file_is_clear(tmp_path):
    assert "no such environment file" in error_of(str(tmp_path / "nope.yaml"))


def test_reference_documents_every_key():
    text = reference_markdown()
    for section, spec in SCHEMA.items():
        assert f"`{section}`" in text
        for key in (spec.section or {}):
            assert f"`{section}.{key}`" in text or f"`{section}[].{key}`" in text


def test_shipped_environments_load():
    for name in sorted(os.listdir(os.path.join(ROOT, "environments"))):
        env = load_environment(os.path.join(ROOT, "environments", name))
        assert env.section("target")["dir"]
        # every path is resolved: a placeholder left in one would be a folder named "{demo_root}" in the cwd
        for section in ("signing", "target", "component_pack"):
            for value in env.section(section).values():
                assert not (isinstance(value, str) and "{" in value), (name, section, value)


def test_readme_carries_the_current_reference():
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    start = readme.index("<!-- config-reference:start -->\n") + len("<!-- config-reference:start -->\n")
    end = readme.index("<!-- config-reference:end -->")
    assert readme[start:end] == reference_markdown(), (
        "README's configuration reference is stale: regenerate it with `cnxbackup config-reference`")


def test_no_database_section_means_vendor_none(tmp_path):
    env = load_environment(e2e.environment_file(tmp_path, """
        target:
          dir: /backup
    """))
    assert env.section("database")["vendor"] == "none"
    assert env.section("database")["concurrency"] == 2  # the schema's defaults still apply
