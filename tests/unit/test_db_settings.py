"""The database settings adapter: the schema is the one source of defaults and sub-keys."""
from __future__ import annotations

import pytest

from cnxbackup.config.schema import SCHEMA, Field
from cnxbackup.databases import oracle
from cnxbackup.databases.settings import TOOL_KEYS, db_settings, hook_settings, settings_for
from cnxbackup.errors import ConfigError
from envfiles import load

MINIMAL = "target: {dir: /backup}\ndatabase:\n  vendor: oracle\n  backup_dir: /backup/ora\n"


def schema_defaults(fields):
    out = {}
    for key, spec in fields.items():
        out[key] = schema_defaults(spec.section) if spec.kind == "section" else spec.default
    return out


def test_every_database_setting_not_in_the_file_has_the_schema_default(tmp_path) -> None:
    settings = db_settings(load(tmp_path, MINIMAL))
    expected = schema_defaults(SCHEMA["database"].section)
    expected.update(vendor="oracle", backup_dir="/backup/ora")
    expected["switch"] = None  # the one run-time key, not the schema's: how a tool reaches its owner
    assert settings == expected
    assert settings["oracle"] == {"method": "datapump", "sid": "LSCONN", "directory": "DATA_PUMP_DIR",
                                  "directory_path": None, "schemas": None, "per_schema": True}
    assert settings["command"] == {tool: tool for tool in TOOL_KEYS} and settings["concurrency"] == 2


@pytest.mark.parametrize("lines, key", [
    ("  oracle:\n    per_shema: false\n", "database.oracle.per_shema"),
    ("  oracle:\n    directory_pth: /u01/dp\n", "database.oracle.directory_pth"),
    ("  command:\n    db3: /opt/db2/bin/db2\n", "database.command.db3"),
])
def test_a_mistyped_sub_key_is_refused_naming_the_file_line_and_key(tmp_path, lines, key) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, MINIMAL + lines)
    message = str(info.value)
    assert "unit.yaml:6" in message and f"unknown key '{key}'" in message and "known keys here" in message


def test_an_oracle_method_that_does_not_exist_is_refused(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"unit.yaml:6: key 'database.oracle.method': must be one of rman, datapump"):
        load(tmp_path, MINIMAL + "  oracle:\n    method: exp\n")


def test_the_file_s_sub_keys_reach_the_hooks(tmp_path) -> None:
    env = load(tmp_path, MINIMAL + "  oracle:\n    per_schema: false\n    sid: CNX\n    schemas: [oauser, blogsuser]\n"
                                   "  command:\n    expdp: /u01/app/oracle/bin/expdp\n  env: {ORACLE_HOME: /u01/app/oracle, N: 5}\n")
    settings = db_settings(env)
    [target] = oracle.targets(["IGNORED"], settings)
    assert (target.name, target.schemas) == ("CNX", ["OAUSER", "BLOGSUSER"])
    assert settings["command"]["expdp"] == "/u01/app/oracle/bin/expdp" and settings["command"]["impdp"] == "impdp"
    assert settings["env"] == {"ORACLE_HOME": "/u01/app/oracle", "N": "5"}  # the tools' environment is text


def test_without_an_environment_of_the_vendor_the_defaults_come_from_the_schema(tmp_path) -> None:
    bare = settings_for("oracle", None)
    assert bare["oracle"]["method"] == "datapump" and bare["auth"] == "os" and bare["vendor"] == "oracle"
    db2_env = load(tmp_path, "target: {dir: /b}\ndatabase: {vendor: db2, backup_dir: /b/db2, concurrency: 5}\n")
    assert settings_for("oracle", db2_env)["concurrency"] == 2 and settings_for("db2", db2_env)["concurrency"] == 5
    assert [t.name for t in oracle.targets(["OAUSER", "WIKISUSER"])] == ["OAUSER", "WIKISUSER"]


def test_settings_built_in_code_are_checked_like_a_file() -> None:
    with pytest.raises(ConfigError, match="unknown key 'database.concurency'"):
        hook_settings({"vendor": "db2", "concurency": 3})
    with pytest.raises(ConfigError, match="'database.timeout': must be at least 1"):
        hook_settings({"vendor": "db2", "timeout": 0})
    assert isinstance(SCHEMA["database"].section["oracle"], Field)
