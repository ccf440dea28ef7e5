"""``cnxbackup init`` (issue 28): the paths it writes are absolute whatever the options gave; when
it finds neither WebSphere nor Connections it writes nothing and says what it looked for and
where (exit 2); its closing hint is worded after what the file holds (QUESTION and CHECK lines)."""
from __future__ import annotations

import os

from inprocess import run_cli


def _host(root) -> None:
    """A Dmgr profile in profileRegistry.xml and Connections in installed.xml; no data source (a QUESTION)."""
    (root / "was" / "properties").mkdir(parents=True)
    (root / "was" / "properties" / "profileRegistry.xml").write_text(
        f"<profiles><profile name='Dmgr01' path='{root}/was/profiles/Dmgr01' "
        f"template='{root}/was/profileTemplates/management'/></profiles>")
    (root / "im").mkdir()
    (root / "im" / "installed.xml").write_text(
        f"<installInfo><location id='cnx' path='{root}/cnx'><package id='com.ibm.connections' "
        "version='8.0.0.0_CR14'/></location></installInfo>")


def test_relative_paths_are_written_absolute_and_questions_are_named(tmp_path, monkeypatch, capsys) -> None:
    _host(tmp_path)
    monkeypatch.chdir(tmp_path)
    proc = run_cli(capsys, "--plain", "init", "--env", "trial", "--was-root", "was", "--im-data", "./im",
                   "--target", "backups")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    path = tmp_path / "environments" / "trial.yaml"
    text = path.read_text()
    for key, value in (("was_root", "was"), ("im_data", "im"), ("dir", "backups")):
        assert f'  {key}: "{tmp_path / value}"' in text, text
    assert "# QUESTION:" in text
    assert f"next: answer the QUESTION lines of {path} and review its CHECK lines, then run: " in proc.stdout


def test_nothing_found_writes_nothing_and_says_where_it_looked(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    proc = run_cli(capsys, "--plain", "init", "--env", "trial", "--was-root", "nowhere", "--im-data", "noim")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "found neither WebSphere nor Connections" in proc.stderr
    assert f"{tmp_path}/nowhere/properties/profileRegistry.xml (--was-root)" in proc.stderr
    assert f"{tmp_path}/noim/installed.xml (--im-data)" in proc.stderr
    assert not os.path.lexists(tmp_path / "environments" / "trial.yaml")
