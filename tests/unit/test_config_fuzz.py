"""No environment file can crash, hang or fool the loader: a fixed list of malformed files.

Each case runs ``cnxbackup plan --env FILE`` through the CLI's own entry point, in this process,
under a timeout that fails the test (an alias bomb must not hang); each must exit 2 with one line
on stderr naming the file, and no traceback. ``tests/e2e/product/test_config_fuzz.py`` runs the
same refusal as a fresh process, for the modes of a file others can change and for the bomb.
"""
from __future__ import annotations

import os
import subprocess

import pytest

from inprocess import run_cli

BASE = "target: {dir: /tmp/cnx-fuzz-target}\ndatabase: {vendor: none}\n"
BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(8))

CASES = {
    "invalid-utf8": b"target:\n  dir: /b\xff\xfe\n",
    "python-name-tag": BASE + "wsadmin: {command: !!python/name:os.system }\n",
    "python-object-tag": BASE + "wsadmin: !!python/object/apply:os.system [id]\n",
    "unknown-tag": BASE + "paths: !foo {was_root: /x}\n",
    "binary-tag": BASE + "wsadmin: {user: !!binary aGVsbG8=}\n",
    "set-tag": BASE + "archive: {excludes: !!set {a, b}}\n",
    "omap-tag": BASE + "archive: !!omap [{level: 3}]\n",
    "explicit-int-not-int": BASE + "archive: {level: !!int abc}\n",
    "deep-nesting": "a: " + "[" * 5000 + "]" * 5000 + "\n",
    "deep-mapping": BASE + "paths:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(60)),
    "alias-bomb": BASE + BOMB,
    "merge-key": BASE + "x: &x {level: 3}\narchive:\n  <<: *x\n",
    "undefined-alias": BASE + "archive: *nope\n",
    "nul-byte": BASE + "wsadmin: {user: was\0admin}\n",
    "control-char-value": BASE + "wsadmin: {command: \"/opt/wsadmin.sh\\x1b[31m\"}\n",
    "control-char-key": BASE + "\"wsad\\x07min\": {}\n",
    "both-was-passwords": BASE + "wsadmin: {user: a, password_env: X, password_file: /root/p}\n",
    "both-db-passwords": "target: {dir: /b}\ndatabase: {vendor: db2, backup_dir: /d, password_env: X, password_prompt: true}\n",
    "huge-timeout": BASE + "wsadmin: {stop_timeout: 100000000000000000000000000000000}\n",
    "float-timeout": BASE + "wsadmin: {stop_timeout: 1e32}\n",
    "negative-timeout": BASE + "wsadmin: {step_timeout: -1}\n",
    "env-name-dotdot": BASE + "environment: ../../x\n",
    "env-name-slash": BASE + "environment: a/b\n",
    "env-name-shell": BASE + "environment: \"x;rm -rf /\"\n",
    "env-name-leading-dot": BASE + "environment: .hidden\n",
    "env-name-too-long": BASE + "environment: " + "x" * 65 + "\n",
    "env-name-space": BASE + "environment: \"pro d\"\n",
    "host-address-dash": BASE + "hosts: [{name: n1, address: -oProxyCommand=touch /tmp/pwned}]\n",
    "host-user-dash": BASE + "hosts: [{name: n1, address: n1.example.com, user: -l}]\n",
    "host-key-dash": BASE + "hosts: [{name: n1, address: n1.example.com, key: -iother}]\n",
    "path-dash": BASE + "paths: {connections_root: -rf}\n",
    "profile-dash": BASE + "paths: {profiles: [--checkpoint-action=exec=sh]}\n",
    "unknown-key": BASE + "wsadmin: {colour: red}\n",
    "port-text": BASE + "wsadmin: {port: eighty}\n",
    "port-too-big": BASE + "wsadmin: {port: 70000}\n",
    "host-port-zero": BASE + "hosts: [{name: n1, address: n1.example.com, port: 0}]\n",
    "empty-file": "",
    "only-comments": "# nothing here\n",
    "top-level-list": "- target\n- database\n",
    "top-level-scalar": "just text\n",
    "two-documents": BASE + "---\ntarget: {dir: /c}\n",
    "mapping-key": BASE + "? [a, b]\n: 1\n",
    "duplicate-key": BASE + "wsadmin: {port: 1}\nwsadmin: {port: 2}\n",
    "tab-indent": "target:\n\tdir: /b\n",
    "unclosed-quote": "target: {dir: \"/b}\n",
    "concurrency-zero": "target: {dir: /b}\ndatabase: {vendor: db2, backup_dir: /d, concurrency: 0}\n",
    "concurrency-huge": "target: {dir: /b}\ndatabase: {vendor: db2, backup_dir: /d, concurrency: 1000}\n",
    "level-too-high": BASE + "archive: {level: 99}\n",
    "margin-negative": "target: {dir: /b, free_space_margin: -1}\ndatabase: {vendor: none}\n",
    "margin-infinite": "target: {dir: /b, free_space_margin: .inf}\ndatabase: {vendor: none}\n",
    "scale-nan": BASE + "demo: {root: /d, scale: .nan}\n",
    "vendor-unknown": "target: {dir: /b}\ndatabase: {vendor: postgres, backup_dir: /d}\n",
    "oracle-method": "target: {dir: /b}\ndatabase: {vendor: oracle, backup_dir: /d, oracle: {method: exp}}\n",
    "oracle-typo": "target: {dir: /b}\ndatabase: {vendor: oracle, backup_dir: /d, oracle: {per_shema: false}}\n",
    "command-typo": "target: {dir: /b}\ndatabase: {vendor: db2, backup_dir: /d, command: {db3: /x}}\n",
    "hosts-twice": BASE + "hosts: [{name: a, address: x}, {name: a, address: y}]\n",
    "hosts-not-list": BASE + "hosts: {a: 1}\n",
    "extra-name-slash": BASE + "paths: {extra: [{name: a/b, path: /x}]}\n",
    "extra-unknown-host": BASE + "paths: {extra: [{name: a, path: /x, host: nope}]}\n",
    "no-target": "database: {vendor: none}\n",
    "password-auth-no-user": "target: {dir: /b}\ndatabase: {vendor: db2, backup_dir: /d, auth: password, password_env: X}\n",
    "signing-key-in-target": "target: {dir: /b}\ndatabase: {vendor: none}\nsigning: {key: /b/key.pem}\n",
    "db-backup-dir-missing": "target: {dir: /b}\ndatabase: {vendor: db2}\n",
    "too-large": BASE + "# " + "x" * (1 << 20) + "\n",
}

MODES = {"group-writable-file": (0o664, 0o755), "world-writable-folder": (0o644, 0o777)}


def assert_clean_refusal(proc: subprocess.CompletedProcess, path: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-500:], proc.stderr[-500:])
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert os.path.basename(path) in proc.stderr or os.path.dirname(path) in proc.stderr, proc.stderr


def test_there_are_at_least_fifty_cases() -> None:
    assert len(CASES) + len(MODES) >= 50


@pytest.mark.timeout(20)
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_malformed_environment_file_is_refused_in_one_line(tmp_path, capsys, name) -> None:
    path = str(tmp_path / f"{name}.yaml")
    content = CASES[name]
    with open(path, "wb") as handle:
        handle.write(content if isinstance(content, bytes) else content.encode("utf-8"))
    assert_clean_refusal(run_cli(capsys, "plan", "--env", path), path)
