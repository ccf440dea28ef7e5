"""Helpers for end-to-end tests: a small demo environment in a temp folder, and the CLI."""
from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from typing import Any, Dict, List, Optional

from cnxbackup.demo import fakedb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DRIVER = os.path.join(ROOT, "driver")


def write_env(tmp: str, *, name: str = "demo", cell: str = "was905", scale: float = 0.02, extra: str = "",
              database: Optional[str] = None, wsadmin_command: Optional[str] = None, target: Optional[str] = None,
              stop_timeout: int = 30, step_timeout: int = 120) -> str:
    """An environment like environments/demo.yaml, rooted in ``tmp``."""
    database = database if database is not None else textwrap.dedent("""\
        database:
          vendor: db2
          backup_dir: "{demo_root}/db2-backups"
          concurrency: 4
          command:
            db2: "{demo_kit}/fakes/db2"
            db2ckbkp: "{demo_kit}/fakes/db2ckbkp"
        """)
    text = textwrap.dedent(f"""\
        demo:
          root: "{tmp}/demo"
          scale: {scale}
          wsadmin_cell: {cell}
        connections:
          version: auto
          ccm: true
          in_place_upgrade: true
        paths:
          was_root: "{{demo_root}}/tree/opt/IBM/WebSphere/AppServer"
          profiles: ["{{was_root}}/profiles/AppSrv01"]
          connections_root: "{{demo_root}}/tree/opt/IBM/Connections"
          im_data: "{{demo_root}}/tree/var/ibm/InstallationManager"
          im_install: "{{demo_root}}/tree/opt/IBM/InstallationManager"
          im_shared: "{{demo_root}}/tree/opt/IBM/IMShared"
        wsadmin:
          command: "{wsadmin_command or '{demo_kit}/mock_wsadmin/wsadmin.sh'}"
          user: wasadmin
          password_file: "{{demo_root}}/mock/was-password"
          stop_timeout: {stop_timeout}
          step_timeout: {step_timeout}
          startup_timeout: 120
        signing:
          key: "{tmp}/keys/signing-key.pem"
          trusted_keys: "{tmp}/keys/trusted-keys"
        target:
          dir: "{target or tmp + '/backups'}"
        """) + database + extra
    path = os.path.join(tmp, f"{name}.yaml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def cli_argv(*args: str) -> List[str]:
    return [sys.executable, "-m", "cnxbackup", *args]


def cli_env(env: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    return {**os.environ, "PYTHONPATH": DRIVER, "CI": "1", **(env or {})}


def cli(*args: str, env: Optional[Dict[str, str]] = None, timeout: int = 600, **kwargs: Any) -> subprocess.CompletedProcess:
    if "input" not in kwargs:
        kwargs.setdefault("stdin", subprocess.DEVNULL)  # never a terminal: what asks must refuse, not wait
    return subprocess.run(cli_argv(*args), capture_output=True, text=True, env=cli_env(env), timeout=timeout, **kwargs)


def popen(*args: str, env: Optional[Dict[str, str]] = None) -> subprocess.Popen:
    full_env = {**os.environ, "PYTHONPATH": DRIVER, "CI": "1", **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "cnxbackup", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=full_env)


def backup_demo(base: str) -> tuple:
    """Back up a fresh small demo environment under ``base``: (env file, set folder). Its database
    images are the fakes' default 64 KiB, not the demo's 1 MiB: the restore tests copy and reset the
    whole folder before each test (16 MiB less to delete and copy each time)."""
    env_file = write_env(base)
    fake = fakedb.prepare(os.path.join(base, "demo", "fakedb"), "db2", databases=ALL_DB2)
    with open(os.path.join(base, "demo", "fakedb", "env.json"), "w", encoding="utf-8") as handle:
        json.dump(fake, handle)
    proc = cli("backup", "--env", env_file)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [set_dir] = sets(os.path.join(base, "backups"))
    return env_file, set_dir


def sets(target: str) -> List[str]:
    if not os.path.isdir(target):
        return []
    return sorted(os.path.join(target, n) for n in os.listdir(target) if os.path.isdir(os.path.join(target, n)))


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest(set_dir: str) -> Dict[str, Any]:
    with open(os.path.join(set_dir, "manifest.json"), encoding="utf-8") as handle:
        return json.load(handle)


def signing_key_of(set_dir: str) -> str:
    """The signing key of the environment that wrote the set (its journal names the file)."""
    import yaml

    with open(os.path.join(set_dir, "journal.json"), encoding="utf-8") as handle:
        config = json.load(handle)["config"]
    with open(config, encoding="utf-8") as handle:
        return str(yaml.safe_load(handle)["signing"]["key"])


def trusted_keys_of(set_dir: str) -> str:
    """The test environment's trusted-keys file (beside its signing key)."""
    return os.path.join(os.path.dirname(signing_key_of(set_dir)), "trusted-keys")


def reseal(set_dir: str, change, key: Optional[str] = None) -> None:
    """Edit a set's manifest, then seal and sign it again (by default with the test environment's
    own trusted key, so that the checks behind the signature are what is tested)."""
    from cnxbackup.manifest import SIGNATURE_ALGORITHM, write_manifest_data
    from cnxbackup.signing import fingerprint, public_key_of, sign

    data = manifest(set_dir)
    change(data)
    signer = key or signing_key_of(set_dir)
    data["signing"] = {"keyFingerprint": fingerprint(public_key_of(signer)), "algorithm": SIGNATURE_ALGORITHM}
    write_manifest_data(set_dir, data, lambda text: sign(signer, text))


def mock_env(tmp: str) -> Dict[str, str]:
    with open(os.path.join(tmp, "demo", "mock", "env.json"), encoding="utf-8") as handle:
        return json.load(handle)


def fakedb_env(tmp: str) -> Dict[str, str]:
    with open(os.path.join(tmp, "demo", "fakedb", "env.json"), encoding="utf-8") as handle:
        return json.load(handle)


def partial_files(root: str) -> List[str]:
    found = []
    for folder, _dirs, files in os.walk(root):
        found += [os.path.join(folder, f) for f in files if f.endswith(".partial")]
    return found


NODE_PATHS = """\
    paths:
      profiles: ["{tree}/opt/IBM/WebSphere/AppServer/profiles/AppSrv01"]
      profile_registry: "{tree}/opt/IBM/WebSphere/AppServer/properties/profileRegistry.xml"
      local_data: "{tree}/opt/IBM/Connections/data/local"
      im_data: "{tree}/var/ibm/InstallationManager"
      im_install: "{tree}/opt/IBM/InstallationManager"
      im_shared: "{tree}/opt/IBM/IMShared"
"""


def write_multihost_env(tmp: str, hosts: list, nodes: int, known_hosts: str, scale: float = 0.02) -> str:
    """A multi-host environment: dmgr (+nfs) = hosts[0], nodes = hosts[1..nodes], db = hosts[nodes+1]."""
    from cnxbackup.demo.treegen import build_demo_deployment

    lines = ["hosts:"]
    names = ["dmgr"] + [f"node{i}" for i in range(1, nodes + 1)] + ["db"]
    for name, host in zip(names, hosts):
        roles = {"dmgr": "[dmgr, nfs]", "db": "[db]"}.get(name, "[node]")
        lines.append(f"  - name: {name}\n    address: {host.address}\n    port: {host.port}\n    user: {host.user}\n"
                     f"    key: '{host.key}'\n    roles: {roles}\n    known_hosts: '{known_hosts}'")
        if name.startswith("node"):
            tree = os.path.join(tmp, "nodes", name)
            if not os.path.exists(tree):
                build_demo_deployment(tree, scale=scale, ccm=False, seed=sum(map(ord, name)))
            lines.append(NODE_PATHS.format(tree=tree).rstrip("\n"))
    database = textwrap.dedent("""\
        database:
          vendor: db2
          host: db
          backup_dir: "{demo_root}/db2-backups"
          concurrency: 2
          databases: [OPNACT, FILES]
          command:
            db2: "{demo_kit}/fakes/db2"
            db2ckbkp: "{demo_kit}/fakes/db2ckbkp"
        """)
    return write_env(tmp, scale=scale, database=database, extra="\n".join(lines) + "\n")


ALL_DB2 = ["OPNACT", "BLOGS", "DOGEAR", "SNCOMM", "FILES", "FORUM", "HOMEPAGE", "METRICS", "MOBILE", "PEOPLEDB", "PNS",
           "WIKIS", "XCC", "ESSAPPS", "FNGCD", "FNOS"]
"""The demo's DB2 databases (CCM included), in the order the backup plans them."""


def find_python39() -> str | None:
    """A working Python 3.9 interpreter (pyenv shims that refuse to run are skipped), or None."""
    candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.9*/bin/python3.9")))
    candidates += [shutil.which("python3.9"), "/usr/bin/python3.9", "/usr/bin/python3"]
    for candidate in candidates:
        if not candidate or not os.access(candidate, os.X_OK):
            continue
        try:
            probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 9))"],
                                   capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return candidate
    return None


def write_raw_manifest(set_dir: str, body: dict) -> None:
    """A manifest with a correct self-checksum, exactly as given (format included)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    body = dict(body, manifestSha256=hashlib.sha256(canonical).hexdigest())
    with open(os.path.join(set_dir, "manifest.json"), "w", encoding="utf-8") as handle:
        json.dump(body, handle)


READ_ONLY_DB_CALLS = (["get", "dbm", "cfg"],)
"""What the gate asks a database tool before anything stops (it reads, changes nothing)."""


def db_changes(log: list) -> list:
    """The fake database tools' calls other than the gate's read-only queries."""
    return [call for call in log if not any(call["argv"][:len(q)] == q for q in READ_ONLY_DB_CALLS)]


def environment_file(tmp_path, text: str, name: str = "prod.yaml") -> str:
    """An environment file of ``text`` (dedented) in ``tmp_path``; its path."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)
