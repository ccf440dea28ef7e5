"""Passwords: only from an environment variable, a private file or a prompt; masked in logs."""
import os

import pytest

from cnxbackup.errors import ConfigError
from cnxbackup.secrets import Redactor, read_password


def test_password_from_env(monkeypatch):
    monkeypatch.setenv("CNX_T_PW", "s3cret")
    assert read_password({"password_env": "CNX_T_PW"}, "WAS", "f.yaml:3") == "s3cret"


def test_unset_env_names_the_variable(monkeypatch):
    monkeypatch.delenv("CNX_T_MISSING", raising=False)
    with pytest.raises(ConfigError, match="CNX_T_MISSING"):
        read_password({"password_env": "CNX_T_MISSING"}, "WAS", "f.yaml:3")


def test_password_file_must_be_private(tmp_path):
    path = tmp_path / "pw"
    path.write_text("s3cret\n")
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        read_password({"password_file": str(path)}, "database", "f.yaml:9")
    os.chmod(path, 0o600)
    assert read_password({"password_file": str(path)}, "database", "f.yaml:9") == "s3cret"


def test_no_source_is_an_error_only_when_required():
    with pytest.raises(ConfigError, match="password_env, password_file or password_prompt"):
        read_password({}, "WAS", "f.yaml")
    assert read_password({}, "WAS", "f.yaml", required=False) is None


def test_redactor_masks_longest_first():
    redact = Redactor()
    redact.add("pw")
    redact.add("pw-long")
    assert redact("a pw-long b pw c") == "a ***** b ***** c"
