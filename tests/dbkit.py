"""What the database-tool tests share: the fake tools' settings laid over the schema's defaults."""
from __future__ import annotations

from cnxbackup.databases.settings import hook_settings
from cnxbackup.demo import fakedb

PASSWORD = "Sup3r$ecret-pw"


def commands() -> dict[str, str]:
    return {tool: fakedb.tool_path(tool) for tool in ("db2", "db2ckbkp", "sqlcmd", "rman", "expdp", "impdp")}


def make(tmp_path, vendor, databases, settings=None, **fake_options):
    env = fakedb.prepare(str(tmp_path / "fake"), vendor, databases, **fake_options)
    backup_dir = tmp_path / "backup"
    backup_dir.mkdir()
    base = {"vendor": vendor, "command": commands(), "env": env, "timeout": 60, "concurrency": 1}
    base.update(settings or {})
    return env, hook_settings(base), str(backup_dir)


def logged(env, tool=None):
    return [entry for entry in fakedb.read_log(env) if tool is None or entry["tool"] == tool]
