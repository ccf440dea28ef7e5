"""The database front door: one hook contract for every vendor, and the settings adapter."""
from __future__ import annotations

import inspect

import pytest

from cnxbackup.databases import HOOKS, VendorHooks, vendor_module
from cnxbackup.databases.base import DbError

OPERATIONS = [name for name, member in vars(VendorHooks).items()
              if inspect.isfunction(member) and not name.startswith("_")]


def _parameters(function: object, drop_self: bool) -> list:
    params = list(inspect.signature(function).parameters.values())  # type: ignore[arg-type]
    return [(p.name, p.kind) for p in (params[1:] if drop_self else params)]


ATTRIBUTES = {"VENDOR": str, "RESTORE_USER": str, "IMAGES_WRITTEN_BY_TOOL_USER": bool, "HEADER_CHECK": bool,
              "JDBC_DRIVER_PREFIX": str, "DEFAULT_PORT": int}


def test_the_contract_names_every_operation() -> None:
    assert sorted(OPERATIONS) == sorted(["targets", "backup", "verify", "restore", "restore_commands",
                                         "render_backup_script", "render_restore_script", "backup_tools",
                                         "prepare_settings", "header_problem", "forget_backup", "image_pattern",
                                         "data_source_settings", "tool_user", "authority_problems"])


def test_the_contract_names_every_vendor_fact() -> None:
    assert sorted(VendorHooks.__annotations__) == sorted(ATTRIBUTES)


@pytest.mark.parametrize("vendor", sorted(HOOKS))
def test_every_vendor_module_states_every_fact(vendor: str) -> None:
    module = vendor_module(vendor)
    for name, kind in ATTRIBUTES.items():
        value = getattr(module, name)
        assert type(value) is kind and value != "", f"{vendor}.{name}"
    prefixes = [hooks.JDBC_DRIVER_PREFIX for hooks in HOOKS.values()]
    assert not any(a != b and a.startswith(b) for a in prefixes for b in prefixes)  # one vendor per JDBC driver


@pytest.mark.parametrize("vendor", sorted(HOOKS))
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_every_vendor_module_has_the_contract_signatures(vendor: str, operation: str) -> None:
    module = vendor_module(vendor)
    assert module.VENDOR == vendor
    expected = _parameters(getattr(VendorHooks, operation), drop_self=True)
    actual = _parameters(getattr(module, operation), drop_self=False)
    keyword = inspect.Parameter.KEYWORD_ONLY
    # positional parameters in the same order; the contract's keywords all there (more may follow)
    assert [p for p in actual if p[1] != keyword] == [p for p in expected if p[1] != keyword], f"{vendor}.{operation}"
    assert {p for p in expected if p[1] == keyword} <= {p for p in actual if p[1] == keyword}, f"{vendor}.{operation}"


@pytest.mark.parametrize("vendor", sorted(HOOKS))
def test_operations_that_run_a_tool_take_dry_run(vendor: str) -> None:
    for operation in ("backup", "verify", "restore", "forget_backup"):
        parameter = inspect.signature(getattr(vendor_module(vendor), operation)).parameters["dry_run"]
        assert parameter.kind == inspect.Parameter.KEYWORD_ONLY and parameter.default is False


def test_unknown_vendor_is_a_clear_error() -> None:
    with pytest.raises(DbError, match="unknown database vendor 'informix'.*db2, mssql, oracle"):
        vendor_module("informix")


def test_db_scripts_keep_their_lines_under_the_one_jinja_environment() -> None:
    """The DB templates mark every tag with + so trim_blocks/lstrip_blocks leave their lines as written."""
    from cnxbackup.databases import DbBackupResult, mssql
    from cnxbackup.databases.settings import hook_settings

    image = DbBackupResult("mssql", "FILES", ["/b/FILES_20240101000000.bak"], "20240101000000", "/b", "", "", "ok",
                           None, 1.0)
    script = mssql.render_restore_script([image], hook_settings({"vendor": "mssql", "auth": "os"}))
    assert "# Stop every Connections server first.\nset -u\n\n# --- FILES" in script
    assert script.endswith("\n\necho \"all SQL Server restores completed\"\n")
