"""The wsadmin scripts, run by hand through the mocked wsadmin in both Jython modes.

Every JVM launch costs seconds, so the launches are grouped in a few chains that run
in parallel once per module (fixture `runs`); the tests then assert on the recorded
results against the fixture cells (never hard-coded data).
"""
from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import e2e

REPO = Path(e2e.ROOT)
WSADMIN_DIR = REPO / "wsadmin"
from cnxbackup.demo import mockcell  # noqa: E402

# mode -> fixture cell: WAS 8.5.5 runs Jython 2.1, WAS 9 runs Jython 2.7
MODES = {"jython21": "was855", "jython27": "was905"}
TRICKY_APP = "Mobile Administration"


class Launch:
    def __init__(self, args: list[str], proc: subprocess.CompletedProcess, out: Path | None):
        self.args = args
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.out = out

    def json(self) -> Any:
        assert self.out is not None and self.out.exists(), f"{self.args}: no --out file\n{self.stdout}"
        return json.loads(self.out.read_text())

    def error_lines(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.startswith("ERROR: ")]


def fixture(name: str) -> dict[str, Any]:
    return json.loads((mockcell.CELLS_DIR / f"{name}.json").read_text())


def launch(env: dict[str, str], script: str, *args: str, out: Path | None = None,
           password: str | None = None, flags: tuple[str, ...] = ()) -> Launch:
    cell = json.loads(Path(env["CNXMOCK_CELL"]).read_text())
    argv = [mockcell.WSADMIN_SH, "-lang", "jython", "-user", cell["adminUser"],
            "-password", password or cell["adminPassword"], *flags,
            "-f", str(WSADMIN_DIR / f"{script}.py"), *args]
    if out is not None:
        argv += ["--out", str(out)]
    full_env = {**os.environ, **env}
    full_env.pop("CNXBACKUP_WSADMIN_DIR", None)    # the script must find cnxwas by itself
    proc = subprocess.run(argv, env=full_env, capture_output=True, text=True, timeout=240,
                          cwd=env["CNXMOCK_CELL"].rsplit("/", 1)[0])
    return Launch(argv, proc, out)


def mutate_roles(env: dict[str, str]) -> dict[str, Any]:
    """Change some role mappings in the mock's state; returns the changed state."""
    state = mockcell.load_state(env)
    for app in state["applications"]:
        if app["name"] in (TRICKY_APP, "Files"):
            for role in app["roles"]:
                role["users"] = ["intruder"]
                role["userAccessIds"] = ["user:defaultWIMFileBasedRealm/uid=intruder,o=x"]
                role["everyone"] = not role["everyone"]
    mockcell.save_state(env, state)
    return mockcell.load_state(env)


def mode_chain(tmp: Path, mode: str) -> dict[str, Any]:
    cell = MODES[mode]
    env = mockcell.prepare(tmp / mode, cell)
    res: dict[str, Any] = {"env": env}
    res["aliases"] = launch(env, "list_auth_aliases", out=tmp / mode / "aliases.json")
    res["filenet"] = launch(env, "check_filenet_admin", out=tmp / mode / "filenet.json")
    res["export"] = launch(env, "export_role_mappings", out=tmp / mode / "export1.json")
    res["export_some"] = launch(env, "export_role_mappings", "--app", TRICKY_APP, "--app", "Files",
                                out=tmp / mode / "export_some.json")
    res["state_mutated"] = mutate_roles(env)
    log_mark = len(mockcell.read_log(env))
    res["dry_run"] = launch(env, "import_role_mappings", "--in", str(tmp / mode / "export1.json"),
                            "--dry-run", out=tmp / mode / "dry.json")
    res["dry_run_log"] = mockcell.read_log(env)[log_mark:]
    res["state_after_dry_run"] = mockcell.load_state(env)
    log_mark = len(mockcell.read_log(env))
    res["import"] = launch(env, "import_role_mappings", "--in", str(tmp / mode / "export1.json"),
                           out=tmp / mode / "import.json")
    res["import_log"] = mockcell.read_log(env)[log_mark:]
    res["export_again"] = launch(env, "export_role_mappings", out=tmp / mode / "export2.json")
    res["stop"] = launch(env, "stop_servers", "--timeout", "60", out=tmp / mode / "stop.json")
    res["start"] = launch(env, "start_servers", "--cluster", "Apps", out=tmp / mode / "start.json")
    res["state_end"] = mockcell.load_state(env)
    return res


def failure_chain(tmp: Path) -> dict[str, Any]:
    res: dict[str, Any] = {}
    env = mockcell.prepare(tmp / "fail", "was855")
    res["bad_password"] = launch(env, "list_auth_aliases", password="not-the-password")
    res["unknown_app"] = launch(env, "export_role_mappings", "--app", "NoSuchApp",
                                out=tmp / "fail" / "unknown.json")
    res["bad_option"] = launch(env, "stop_servers", "--bogus", "1")
    res["bad_timeout"] = launch(env, "stop_servers", "--timeout", "soon")
    res["missing_out"] = launch(env, "export_role_mappings")
    res["bad_option_log"] = mockcell.read_log(env)
    down = mockcell.prepare(tmp / "down", "was905", dmgrRunning=False)
    res["dmgr_down"] = launch(down, "list_auth_aliases", out=tmp / "down" / "a.json")
    stuck = mockcell.prepare(tmp / "stuck", "stuck")
    res["stuck_fixture"] = "stuck"
    # the slow server needs 3 s to stop: a 6 s timeout leaves it room on a loaded machine
    res["stuck"] = launch(stuck, "stop_servers", "--timeout", "6", out=tmp / "stuck" / "stop.json")
    noccm = mockcell.prepare(tmp / "noccm", "noccm")
    res["noccm"] = launch(noccm, "check_filenet_admin", out=tmp / "noccm" / "f.json")
    res["help"] = launch(noccm, "list_auth_aliases", "--help")
    was9 = mockcell.prepare(tmp / "usejython21", "was905")
    res["usejython21"] = launch(was9, "list_auth_aliases", out=tmp / "usejython21" / "a.json",
                                flags=("-usejython21", "true"))
    res["usejython21_env"] = was9
    return res


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("wsadmin")
    with ThreadPoolExecutor(max_workers=3) as pool:
        chains = {mode: pool.submit(mode_chain, tmp, mode) for mode in MODES}
        failures = pool.submit(failure_chain, tmp)
        result = {mode: future.result() for mode, future in chains.items()}
        result["failures"] = failures.result()
    return result


def no_secrets(fixture_data: dict[str, Any], *texts: str) -> None:
    secrets = [entry["password"] for entry in fixture_data["authData"]]
    secrets.append(fixture_data["adminPassword"])
    for app in fixture_data["applications"]:
        secrets += [r["password"] for r in app.get("runAsRoles") or []]
    for text in texts:
        for secret in secrets:
            assert secret not in text
        assert "*****" not in text


# ---------------------------------------------------------------- per mode


@pytest.mark.parametrize("mode", list(MODES))
def test_mock_ran_expected_jython_mode(runs, mode):
    launches = [e for e in mockcell.read_log(runs[mode]["env"]) if e["event"] == "launch"]
    assert launches and all(e["mode"] == mode for e in launches)


@pytest.mark.parametrize("mode", list(MODES))
def test_list_auth_aliases(runs, mode):
    data = fixture(MODES[mode])
    run = runs[mode]["aliases"]
    assert run.rc == 0, run.stdout
    result = run.json()
    assert result["cell"] == data["cell"]
    expected = [{"alias": e["alias"], "userId": e["userId"], "description": e.get("description") or ""}
                for e in data["authData"]]
    assert result["aliases"] == expected
    no_secrets(data, run.stdout, run.out.read_text())


@pytest.mark.parametrize("mode", list(MODES))
def test_check_filenet_admin(runs, mode):
    data = fixture(MODES[mode])
    run = runs[mode]["filenet"]
    assert run.rc == 0, run.stdout
    result = run.json()
    entry = next(e for e in data["authData"]
                 if e["alias"] == "filenetAdmin" or e["alias"].endswith("/filenetAdmin"))
    user = next(u for u in data["users"] if u["uid"] == entry["userId"])
    file_based = user["uniqueName"].lower().endswith("o=defaultwimfilebasedrealm")
    assert result == {
        "cell": data["cell"], "alias": entry["alias"], "userId": entry["userId"],
        "uniqueName": user["uniqueName"], "fileBased": file_based,
        "fileRegistry": f"config/cells/{data['cell']}/fileRegistry.xml" if file_based else None,
    }
    no_secrets(data, run.stdout, run.out.read_text())


def test_fixture_modes_cover_both_registries(runs):
    # was855 has a node-prefixed file-based filenetAdmin, was905 an LDAP one
    assert runs["jython21"]["filenet"].json()["fileBased"] is True
    assert "/" in runs["jython21"]["filenet"].json()["alias"]
    assert runs["jython27"]["filenet"].json()["fileBased"] is False


def expected_export(data: dict[str, Any], only: list[str] | None = None) -> dict[str, Any]:
    apps = {}
    for app in data["applications"]:
        if only is None or app["name"] in only:
            apps[app["name"]] = {
                "roles": app["roles"],
                "runAs": [{"role": r["role"], "user": r["user"]} for r in app.get("runAsRoles") or []],
            }
    return {"cell": data["cell"], "applications": apps}


@pytest.mark.parametrize("mode", list(MODES))
def test_export_role_mappings(runs, mode):
    data = fixture(MODES[mode])
    run = runs[mode]["export"]
    assert run.rc == 0, run.stdout
    assert run.json() == expected_export(data)
    no_secrets(data, run.stdout, run.out.read_text())
    some = runs[mode]["export_some"]
    assert some.rc == 0, some.stdout
    assert some.json() == expected_export(data, [TRICKY_APP, "Files"])


@pytest.mark.parametrize("mode", list(MODES))
def test_import_dry_run_changes_nothing(runs, mode):
    run = runs[mode]["dry_run"]
    assert run.rc == 0, run.stdout
    assert runs[mode]["state_after_dry_run"]["applications"] == runs[mode]["state_mutated"]["applications"]
    calls = [(e["object"], e["method"]) for e in runs[mode]["dry_run_log"] if e["event"] == "call"]
    assert ("AdminConfig", "save") not in calls
    assert ("AdminApp", "edit") not in calls
    result = run.json()
    assert result["dryRun"] is True and result["saved"] is False
    assert sorted(e["app"] for e in result["edits"]) == sorted(["Files", TRICKY_APP])
    assert "-MapRolesToUsers" in run.stdout


@pytest.mark.parametrize("mode", list(MODES))
def test_import_restores_and_reexport_is_identical(runs, mode):
    run = runs[mode]["import"]
    assert run.rc == 0, run.stdout
    calls = [(e["object"], e["method"]) for e in runs[mode]["import_log"] if e["event"] == "call"]
    assert calls.count(("AdminApp", "edit")) == 2
    assert calls.count(("AdminConfig", "save")) == 1
    assert calls.index(("AdminConfig", "save")) > max(i for i, c in enumerate(calls) if c == ("AdminApp", "edit"))
    again = runs[mode]["export_again"]
    assert again.rc == 0
    assert again.out.read_text() == runs[mode]["export"].out.read_text()


@pytest.mark.parametrize("mode", list(MODES))
def test_stop_and_start_servers(runs, mode):
    data = fixture(MODES[mode])
    app_servers = [s for s in data["servers"] if s["type"] == "APPLICATION_SERVER"]
    label = lambda s: f"{s['node']}/{s['name']}"  # noqa: E731
    stop = runs[mode]["stop"]
    assert stop.rc == 0, stop.stdout
    result = stop.json()
    assert result["failed"] == []
    assert sorted(result["alreadyStopped"]) == sorted(label(s) for s in app_servers if not s["running"])
    assert sorted(result["stopped"]) == sorted(label(s) for s in app_servers if s["running"])
    start = runs[mode]["start"]
    assert start.rc == 0, start.stdout
    members = [f"{m['node']}/{m['server']}" for c in data["clusters"] if c["name"] == "Apps" for m in c["members"]]
    assert sorted(start.json()["started"]) == sorted(members)
    calls = [e for e in mockcell.read_log(runs[mode]["env"]) if e["event"] == "call"]
    touched = json.dumps([c["args"] for c in calls if c["method"] in ("invoke", "stopServer", "startServer")])
    assert "dmgr" not in touched and "nodeagent" not in touched


# ---------------------------------------------------------------- failures


def assert_one_line_failure(run: Launch, code: int | None = None) -> None:
    assert run.rc != 0, run.stdout
    if code is not None:
        assert run.rc == code, run.stdout
    errors = run.error_lines()
    assert len(errors) == 1, run.stdout
    assert len(errors[0]) > len("ERROR: ") + 5


def test_wrong_credentials(runs):
    run = runs["failures"]["bad_password"]
    assert_one_line_failure(run)
    assert "not-the-password" not in run.stdout + run.stderr


def test_dmgr_down(runs):
    run = runs["failures"]["dmgr_down"]
    assert_one_line_failure(run, 1)
    assert not run.out.exists()


def test_unknown_application(runs):
    run = runs["failures"]["unknown_app"]
    assert_one_line_failure(run, 1)
    assert "NoSuchApp" in run.error_lines()[0]
    assert not run.out.exists()


def test_bad_options_exit_2_before_touching_the_cell(runs):
    for key, needle in [("bad_option", "--bogus"), ("bad_timeout", "--timeout"), ("missing_out", "--out")]:
        run = runs["failures"][key]
        assert_one_line_failure(run, 2)
        assert needle in run.error_lines()[0]
    log = runs["failures"]["bad_option_log"]
    bad_pids = {e["pid"] for e in log if e["event"] == "launch"
                and ("--bogus" in e["argv"] or "soon" in e["argv"]
                     or (e["argv"][-1].endswith("export_role_mappings.py")))}
    assert len(bad_pids) == 3
    assert not [e for e in log if e["event"] == "call" and e["pid"] in bad_pids]


def test_stuck_server_fails_after_timeout(runs):
    run = runs["failures"]["stuck"]
    data = fixture("stuck")
    stuck = [f"{s['node']}/{s['name']}" for s in data["servers"] if s.get("neverStops")]
    assert run.rc == 1, run.stdout
    result = run.json()
    assert result["failed"] == stuck
    others = [f"{s['node']}/{s['name']}" for s in data["servers"]
              if s["type"] == "APPLICATION_SERVER" and not s.get("neverStops")]
    assert sorted(result["stopped"] + result["alreadyStopped"]) == sorted(others)


def test_no_ccm_alias_is_not_an_error(runs):
    run = runs["failures"]["noccm"]
    assert run.rc == 0, run.stdout
    result = run.json()
    assert result["alias"] is None and result["userId"] is None and result["fileBased"] is False
    assert "not configured" in run.stdout


def test_usejython21_flag_on_was9(runs):
    run = runs["failures"]["usejython21"]
    assert run.rc == 0, run.stdout
    data = fixture("was905")
    assert [a["alias"] for a in run.json()["aliases"]] == [e["alias"] for e in data["authData"]]
    modes = [e["mode"] for e in mockcell.read_log(runs["failures"]["usejython21_env"]) if e["event"] == "launch"]
    assert modes == ["jython21"]


def test_help_prints_usage(runs):
    run = runs["failures"]["help"]
    assert run.rc == 0
    assert "usage: list_auth_aliases.py [--out FILE]" in run.stdout


def test_cnxwas_json_encoder_roundtrip_in_jython():
    """jsonenc under real Jython: escapes, non-ASCII, key order, booleans, decode."""
    code = r"""
import sys
sys.path.insert(0, %r)
from cnxwas import jsonenc
value = {'b': [1, 2L, 1.5, None, jsonenc.TRUE, jsonenc.FALSE], 'a': u'x"\\\n\t\u00e9\u20ac:,= |',
         'c': {'z': '', 'y': ()}}
text = jsonenc.encode(value)
print text
back = jsonenc.decode(text)
print jsonenc.encode(back) == text.replace('true', '1').replace('false', '0')
""" % str(WSADMIN_DIR)
    proc = subprocess.run(["jython", "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()[:2]
    assert first == ('{"a": "x\\"\\\\\\n\\t\\u00e9\\u20ac:,= |", '
                     '"b": [1, 2, 1.5, null, true, false], "c": {"y": [], "z": ""}}')
    assert json.loads(first)["a"] == 'x"\\\n\t\u00e9\u20ac:,= |'
    assert second == "True"
