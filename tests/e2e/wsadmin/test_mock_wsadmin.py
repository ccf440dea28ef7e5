"""Tests of the mocked wsadmin.sh (driver/cnxbackup/demo/mock_wsadmin). Each launch costs ~2.5 s of JVM start,
so every test combines several checks per launch."""

from __future__ import annotations

import os

import subprocess

import time

from pathlib import Path

import pexpect

import pytest

from cnxbackup.demo import mockcell  # noqa: E402

ADMIN = ["-user", "wasadmin", "-password", "Adm1n-Secret"]


def run(env: dict[str, str], args: list[str], cwd: Path, stdin: str = "", timeout: int = 90) -> subprocess.CompletedProcess:
    return subprocess.run([mockcell.WSADMIN_SH] + args, env={**os.environ, **env}, cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=timeout)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_f_mode_banners_argv_errors_and_log(tmp_path):
    env = mockcell.prepare(tmp_path, "was905")
    script = write(tmp_path / "probe.py", """\
print 'ARGV', sys.argv, __name__ == '__main__', '__file__' in globals()
line = os.environ['IBM_JAVA_COMMAND_LINE'] if 0 else java.lang.System.getenv('IBM_JAVA_COMMAND_LINE')
print 'SELF', [p[2:].split(' ')[0] for p in line.split(' -') if p.startswith('f ')][0]
print 'CELL', repr(AdminControl.getCell()), type(lineSeparator).__name__
view = AdminApp.view('Mobile Administration', ['-MapRolesToUsers'])
print 'ROLELINE', view.splitlines().index('Role:  everyone')
AdminApp.edit('Blogs', '[-MapRolesToUsers [["person" No Yes "" ""] ]]')
print 'CHANGES', AdminConfig.hasChanges()
AdminApp.view('NoSuchApp', '-MapRolesToUsers')
""")
    res = run(env, ["-lang", "jython", "-port", "8879", "-username", "wasadmin", "-password", "Adm1n-Secret",
                    "-f", str(script), "a b", "-o", "C:\\x"], tmp_path)
    lines = res.stdout.splitlines()
    assert lines[0] == ('WASX7209I: Connected to process "dmgr" on node CNXCellManager01 using SOAP connector;  '
                        'The type of process is: DeploymentManager')
    assert lines[1].endswith('stored in the argv variable: "[a b, -o, C:\\\\x]"')
    assert "ARGV ['a b', '-o', 'C:\\\\x'] True False" in lines
    assert f"SELF {script}" in lines
    assert "CELL u'CNXCell' unicode" in lines
    assert "ROLELINE 13" in lines
    assert "CHANGES 1" in lines
    assert any(ln == f'WASX7017E: Exception received while running file "{script}"; exception information: '
               'com.ibm.ws.scripting.ScriptingException: WASX7280E: An application with name "NoSuchApp" does not exist.'
               for ln in lines)
    assert lines[-1].startswith('WASX7309W: No "save" was performed before the script')
    assert res.returncode == 105 and res.stderr == ""
    log = mockcell.read_log(env)
    assert log[0]["event"] == "launch" and log[0]["mode"] == "jython27" and log[0]["credentialSource"] == "argv"
    assert "Adm1n-Secret" not in str(log) and "*****" in log[0]["argv"]
    calls = [(e["object"], e["method"]) for e in log if e["event"] == "call"]
    assert calls == [("AdminControl", "getCell"), ("AdminApp", "view"), ("AdminApp", "edit"),
                     ("AdminConfig", "hasChanges"), ("AdminApp", "view")]
    assert log[-1] == {"event": "exit", "code": 105, "pid": log[0]["pid"], "time": log[-1]["time"]}
    # the unsaved edit never reached the state file
    blogs = [a for a in mockcell.load_state(env)["applications"] if a["name"] == "Blogs"][0]
    assert [r for r in blogs["roles"] if r["role"] == "person"][0]["everyone"] is False


def test_jython_traceback_sys_exit_state_and_delayed_stop(tmp_path):
    env = mockcell.prepare(tmp_path, "was905")
    state = mockcell.load_state(env)
    for srv in state["servers"]:
        if srv["name"] == "AppsCluster_server1":
            srv["stopDelay"] = 600
        if srv["name"] == "AppsCluster_server2":
            srv["stopDelay"] = 1.5
    mockcell.save_state(env, state)
    first = write(tmp_path / "first.py", """\
AdminApp.edit('Blogs', '[-MapRolesToUsers[["person" No Yes "u 1|u2" "IC Admins" "No"] ]]]')
AdminApp.edit('Activities', '[ -MapRolesToUsers [ [reader no "" "" "" yes "" ""] ] ]')
AdminApp.edit('Activities', '[-MapRunAsRolesToUsers [[activities-runas bob "s3cret pw"]]]')
AdminConfig.save()
s = AdminControl.completeObjectName('type=Server,node=CNXNode01,process=AppsCluster_server1,*')
AdminControl.invoke(s, 'stop')
print 'STATE', AdminControl.getAttribute(s, 'state')
sys.exit(3)
""")
    res = run(env, ["-lang", "jython"] + ADMIN + ["-f", str(first)], tmp_path)
    assert res.returncode == 3, res.stdout
    assert "STATE STOPPING" in res.stdout and "WASX7309W" not in res.stdout
    state = mockcell.load_state(env)
    blogs = [a for a in state["applications"] if a["name"] == "Blogs"][0]
    person = [r for r in blogs["roles"] if r["role"] == "person"][0]
    assert person["allAuthenticated"] is True and person["users"] == ["u 1", "u2"] and person["groups"] == ["IC Admins"]
    stop = state["runtime"]["servers"]["CNXNode01/AppsCluster_server1"]
    assert stop["action"] == "stop"
    log_text = Path(env["CNXMOCK_LOG"]).read_text()
    assert "s3cret" not in log_text
    stop["at"] -= 601          # the stop request is now older than stopDelay
    mockcell.save_state(env, state)
    second = write(tmp_path / "second.py", """\
v = AdminApp.view('Blogs', '-MapRolesToUsers').splitlines()
i = v.index('Role:  person')
print 'PERSON', v[i + 2], '/', v[i + 3]
print 'GONE', repr(AdminControl.completeObjectName('type=Server,node=CNXNode01,process=AppsCluster_server1,*'))
c = AdminControl.completeObjectName('cell=CNXCell,type=Cluster,name=Apps,*')
print 'CLUSTER', AdminControl.getAttribute(c, 'state')
try:
    AdminControl.stopServer('AppsCluster_server1', 'CNXNode01')
except:
    print 'NOTRUNNING', repr(sys.exc_info()[1]).find('Unable to locate running server') >= 0
t0 = java.lang.System.currentTimeMillis()
print AdminControl.stopServer('AppsCluster_server2', 'CNXNode02')
print 'WAITED', (java.lang.System.currentTimeMillis() - t0) >= 1400
print 'CLUSTER', AdminControl.getAttribute(c, 'state')
def helper():
    return undefined_name
helper()
""")
    res = run(env, ["-lang", "jython"] + ADMIN + ["-f", str(second)], tmp_path)
    out = res.stdout.splitlines()
    assert "PERSON All authenticated?:  Yes / Mapped users:  u 1|u2" in out
    assert "GONE u''" in out and "NOTRUNNING True" in out and "WAITED True" in out
    assert out.index("CLUSTER websphere.cluster.partial.start") < out.index("CLUSTER websphere.cluster.stopped")
    assert 'WASX7337I: Invoked stop for server "AppsCluster_server2" Waiting for stop completion.' in out
    assert 'WASX7264I: Stop completed for server "AppsCluster_server2" on node "CNXNode02"' in out
    tail = out[out.index("CLUSTER websphere.cluster.stopped") + 1:]
    assert tail == [
        f'WASX7017E: Exception received while running file "{second}"; exception information: '
        'com.ibm.bsf.BSFException: exception from Jython:',
        "Traceback (most recent call last):",
        '  File "<string>", line 17, in <module>',
        '  File "<string>", line 16, in helper',
        "NameError: global name 'undefined_name' is not defined"]
    assert res.returncode == 105


def test_interactive_session_with_pexpect(tmp_path):
    env = mockcell.prepare(tmp_path, "was905")
    child = pexpect.spawn(mockcell.WSADMIN_SH, ["-lang", "jython"] + ADMIN, env={**os.environ, **env},
                          cwd=str(tmp_path), encoding="utf-8", timeout=60)
    try:
        child.expect_exact('WASX7031I: For help, enter: "print Help.help()"')
        child.expect_exact("wsadmin>")
        child.sendline("AdminControl.getCell()")
        child.expect_exact("u'CNXCell'")
        child.expect_exact("wsadmin>")
        child.sendline("x = 1/0")
        child.expect_exact('WASX7015E: Exception running command: "x = 1/0"; exception information:')
        child.expect_exact('File "<input>", line 1, in <module>')
        child.expect_exact("ZeroDivisionError")
        child.expect_exact("wsadmin>")
        child.sendline("AdminApp.view('Nope')")
        child.expect_exact("com.ibm.ws.scripting.ScriptingException: WASX7280E")
        child.expect_exact("wsadmin>")
        child.sendline("print 'still' + 'alive'")
        child.expect_exact("stillalive")
        child.expect_exact("wsadmin>")
        child.sendline("quit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert [e["method"] for e in mockcell.read_log(env) if e["event"] == "call"] == ["getCell", "view"]


def test_jython21_mode_on_was855(tmp_path):
    env = mockcell.prepare(tmp_path, "was855")
    libdir = tmp_path / "lib"
    libdir.mkdir()
    write(libdir / "userlib.py", "def flag():\n    return eval('Tr' + 'ue')\n")
    script = write(tmp_path / "s21.py", """\
print 'CELL', repr(AdminControl.getCell()), repr(sys.argv)
try:
    eval('Tr' + 'ue')
except NameError:
    print 'NO-TRUE'
try:
    __import__('js' + 'on')
except ImportError:
    print 'NO-JSON'
import os, string, re, getopt, time
print 'STDLIB', string.upper('ok'), os.path.isdir('/'), getopt.getopt(['-a'], 'a')[0]
import userlib
userlib.flag()
""")
    res = run(env, ["-lang", "jython"] + ADMIN + ["-javaoption", f"-Dpython.path={libdir}",
                                                   "-usejython21", "true", "-f", str(script)], tmp_path)
    out = res.stdout
    assert "WASX7303I" in out and "CELL 'ICCell01' ['-usejython21', 'true']" in out   # unknown option on 8.5.5
    assert "NO-TRUE" in out and "NO-JSON" in out and "STDLIB OK" in out
    assert "Traceback (innermost last):" in out and ("NameError: True" in out or "SyntaxError" in out)
    assert res.returncode == 105
    assert mockcell.read_log(env)[0]["mode"] == "jython21"
    res = run(env, ["-lang", "jython"] + ADMIN + ["-c", "AdminControl.getCell()", "-c", "True",
                                                   "-c", "AdminApp.edit('Blogs', '[-MapRolesToUsers [[person No No \"\" \"\"]]]')"],
              tmp_path)
    lines = res.stdout.splitlines()
    assert "'ICCell01'" in lines
    assert 'WASX7015E: Exception running command: "True"; exception information:' in lines
    assert "NameError: True" in lines and res.returncode == 105
    blogs = [a for a in mockcell.load_state(env)["applications"] if a["name"] == "Blogs"][0]
    assert [r for r in blogs["roles"] if r["role"] == "person"][0]["allAuthenticated"] is False   # -c auto-saved


def test_wrong_password_dmgr_down_conntype_none_and_jacl(tmp_path):
    env = mockcell.prepare(tmp_path, "was905")
    script = write(tmp_path / "touch.py", "print 'RAN'\nprint AdminConfig.list('Cell')\n")
    res = run(env, ["-lang", "jython", "-user", "wasadmin", "-password", "wrong", "-f", str(script)], tmp_path)
    lines = res.stdout.splitlines()
    assert lines[0] == ('WASX7246E: Cannot establish "SOAP" connection to host "localhost" because of an authentication '
                        'failure. Ensure that user and password are correct on the command line or in a properties file.')
    assert lines[1].startswith('Exception message (if any): "ADMN0022E: Access is denied')
    assert lines[2].startswith("WASX7213I: This scripting client is not connected to a server process")
    assert "RAN" in lines and res.returncode == 105
    assert "com.ibm.ws.scripting.ScriptingException: WASX7070E" in lines[-1]

    down = mockcell.prepare(tmp_path / "down", "was905", dmgrRunning=False)
    props = write(tmp_path / "soap.client.props", "com.ibm.SOAP.loginUserid=wasadmin\ncom.ibm.SOAP.loginPassword=Adm1n-Secret\n")
    res = run(down, ["-lang", "jython", "-javaoption", f"-Dcom.ibm.SOAP.ConfigURL=file:{props}", "-f", str(script)], tmp_path)
    assert res.stdout.startswith('WASX7023E: Error creating "SOAP" connection to host "localhost"; exception information: '
                                 'com.ibm.websphere.management.exception.ConnectorNotAvailableException')
    assert "WASX7213I" in res.stdout and res.returncode == 105
    assert mockcell.read_log(down)[0]["credentialSource"] == "props"

    res = run(env, ["-lang", "jython", "-conntype", "NONE", "-c", "AdminConfig.list('Cell')",
                    "-c", "AdminControl.getCell()"], tmp_path)
    assert res.stdout.startswith("WASX7357I: By request, this scripting client is not connected")
    assert "u'CNXCell(cells/CNXCell|cell.xml#Cell_1)'" in res.stdout and "WASX7206W" in res.stdout

    res = run(env, ADMIN + ["-f", str(script)], tmp_path)          # no -lang: Jacl
    assert "RAN" not in res.stdout and "WASX7017E" in res.stdout and res.returncode == 105


def test_never_stopping_server_times_out(tmp_path):
    env = mockcell.prepare(tmp_path, "stuck", stopServerTimeout=2)
    script = write(tmp_path / "stop.py", """\
try:
    AdminControl.stopServer('UtilCluster_server1', 'STNode01')
except:
    print 'TIMEOUT', sys.exc_info()[1]
s = AdminControl.completeObjectName('type=Server,name=UtilCluster_server1,*')
print 'STATE', AdminControl.getAttribute(s, 'state')
""")
    started = time.time()
    res = run(env, ["-lang", "jython"] + ADMIN + ["-f", str(script)], tmp_path)
    assert "TIMEOUT com.ibm.ws.scripting.ScriptingException" in res.stdout and "STATE STOPPING" in res.stdout
    assert res.returncode == 0 and time.time() - started >= 2

REALM_PROMPT, USER_PROMPT, PASSWORD_PROMPT = "Realm/Cell Name: <default>", "Username: ", "Password: "


def test_console_login_prompt_interactive_wrong_password_not_echoed(tmp_path):
    env = mockcell.prepare(tmp_path, "was905")
    child = pexpect.spawn(mockcell.WSADMIN_SH, ["-lang", "jython"], env={**os.environ, **env},
                          cwd=str(tmp_path), encoding="utf-8", timeout=90)      # echo on, like a terminal
    try:
        child.expect_exact(REALM_PROMPT)
        assert child.before.strip() == ""                     # the login comes before any banner
        child.sendline("")
        child.expect_exact(USER_PROMPT)
        child.sendline("wasadmin")
        child.expect_exact(PASSWORD_PROMPT)
        child.sendline("Not-The-Password")
        child.expect_exact('WASX7246E: Cannot establish "SOAP" connection to host "localhost" because of an '
                           'authentication failure.')
        shown = child.before
        child.expect_exact("WASX7213I")
        child.expect_exact("wsadmin>")
        child.sendline("quit")
        child.expect(pexpect.EOF)
        shown += child.before
    finally:
        child.close()
    assert "Not-The-Password" not in shown and "WASX7209I" not in shown
    launch = mockcell.read_log(env)[0]
    assert launch["credentialSource"] == "prompt"
    assert "Not-The-Password" not in Path(env["CNXMOCK_LOG"]).read_text()


def test_driver_session_answers_console_login(tmp_path):
    from cnxbackup.wsadmin_session import CredentialsRefused, WsadminSession
    env = mockcell.prepare(tmp_path, "was905")
    session = WsadminSession(mockcell.WSADMIN_SH, str(tmp_path / "run"), user="wasadmin", password="Adm1n-Secret",
                             env=env, startup_timeout=150)
    try:
        session.start()                                       # returns once wsadmin> is shown
        session.child.sendline("print 'CELL=' + AdminControl.getCell()")
        session.child.expect_exact("CELL=CNXCell", timeout=60)
    finally:
        session.close()
    bad = WsadminSession(mockcell.WSADMIN_SH, str(tmp_path / "run2"), user="wasadmin", password="wrong",
                         env=env, startup_timeout=150)
    with pytest.raises(CredentialsRefused, match="WASX7246E.*ADMN0022E"):  # with the line after it
        bad.start()
    assert bad.child is not None and not bad.child.isalive()
    launches = [e for e in mockcell.read_log(env) if e["event"] == "launch"]
    assert [e["credentialSource"] for e in launches] == ["prompt", "prompt"]
    assert "Adm1n-Secret" not in Path(env["CNXMOCK_LOG"]).read_text()


def test_console_login_from_piped_stdin_and_at_eof(tmp_path):
    env = mockcell.prepare(tmp_path, "was905")
    script = write(tmp_path / "cell.py", "print 'CELL', AdminControl.getCell()\n")
    res = run(env, ["-lang", "jython", "-f", str(script)], tmp_path,
              stdin="defaultWIMFileBasedRealm\nwasadmin\nAdm1n-Secret\n")
    lines = res.stdout.splitlines()
    assert lines[0] == REALM_PROMPT + USER_PROMPT + PASSWORD_PROMPT     # no echo, newline after the password
    assert lines[1].startswith("WASX7209I: Connected to process \"dmgr\"")
    assert "CELL CNXCell" in lines and res.returncode == 0 and "Adm1n-Secret" not in res.stdout
    res = run(env, ["-lang", "jython", "-f", str(script)], tmp_path, stdin="")           # headless, no input
    lines = res.stdout.splitlines()
    assert lines[0] == REALM_PROMPT
    assert lines[1].startswith("WASX7246E: Cannot establish \"SOAP\" connection") and "ADMN0022E" in lines[2]
    assert lines[3].startswith("WASX7213I")
    assert "CELL CNXCell" not in res.stdout and "WASX7206W" in res.stdout and res.returncode == 105
    assert [e["credentialSource"] for e in mockcell.read_log(env) if e["event"] == "launch"] == ["prompt", "prompt"]
