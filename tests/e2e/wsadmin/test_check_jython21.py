"""tools/check_jython21.py rejects every construct Jython 2.1 lacks and accepts the
2.1 spellings. All snippets are checked in ONE Jython launch (JVM start is slow)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import e2e

REPO = Path(e2e.ROOT)
CHECKER = REPO / "tools" / "check_jython21.py"

# (name, source) that must be rejected
FORBIDDEN = {
    "True": "x = True\n",
    "False": "x = False\n",
    "bool": "x = bool(1)\n",
    "dict()": "x = dict()\n",
    "set": "x = set([1])\n",
    "sorted": "x = sorted([2, 1])\n",
    "enumerate": "for i, v in enumerate([1]):\n    pass\n",
    "sum": "x = sum([1, 2])\n",
    "object": "class A(object):\n    pass\n",
    "super": "class A:\n    def f(self):\n        super(A, self).f()\n",
    "import json": "import json\n",
    "import optparse": "import optparse\n",
    "import logging": "import logging\n",
    "from subprocess": "from subprocess import call\n",
    "import datetime": "import datetime\n",
    "import sets": "import sets\n",
    "import collections": "import collections\n",
    "yield": "def g():\n    yield 1\n",
    "generator expression": "x = list(i for i in [1])\n",
    "with": "with open('f') as f:\n    pass\n",
    "conditional expression": "x = 1 if y else 2\n",
    "decorator": "def d(f):\n    return f\n@d\ndef g():\n    pass\n",
    "try/except/finally": "try:\n    a()\nexcept:\n    b()\nfinally:\n    c()\n",
    "in dict literal": "x = 'a' in {'a': 1}\n",
    "in dict name": "d = {}\nif 'a' in d:\n    pass\n",
    "not in dict name": "def f():\n    d = {'a': 1}\n    return 'b' not in d\n",
    "substring in literal": "x = 'ab' in 'abc'\n",
    "substring in name": "s = 'abc'\nx = y in s\n",
    "substring in Admin result": "x = 'Server' in AdminConfig.list('Server')\n",
    "substring in Admin name": "out = AdminControl.stopServer('s', 'n')\nif 'WASX' in out:\n    pass\n",
    "iterate dict literal": "for k in {'a': 1}:\n    pass\n",
    "iterate dict name": "d = {}\nfor k in d:\n    pass\n",
    "iterate file": "for line in open('f'):\n    pass\n",
    "iterate file name": "f = open('x')\nfor line in f:\n    pass\n",
    "iterate dict in listcomp": "d = {}\nx = [k for k in d]\n",
    "os.walk": "import os\nfor a, b, c in os.walk('.'):\n    pass\n",
    "dict.pop": "d = {}\nd.pop('a')\n",
    "pop with default": "x = y.pop('a', None)\n",
    "rsplit": "x = 'a.b'.rsplit('.', 1)\n",
    "strip(chars)": "x = y.strip('/')\n",
    "lstrip(chars)": "x = y.lstrip('/')\n",
    "rstrip(chars)": "x = y.rstrip('\\n')\n",
    "string.strip(s, chars)": "import string\nx = string.strip(y, '/')\n",
    "sort(key=)": "x.sort(key=len)\n",
    "sort(reverse=)": "x.sort(reverse=1)\n",
    "nested scope def": "def f():\n    v = 1\n    def g():\n        return v\n    return g\n",
    "nested scope lambda": "def f(v):\n    return map(lambda x: x + v, [1])\n",
    "except as": "try:\n    a()\nexcept ValueError as e:\n    pass\n",
    "set literal": "x = {1, 2}\n",
    "set comprehension": "x = {i for i in y}\n",
    "dict comprehension": "x = {i: 1 for i in y}\n",
    "relative import": "from . import sibling\n",
    "future division": "from __future__ import division\n",
    "iteritems": "d = {}\nfor k, v in d.iteritems():\n    pass\n",
    "extended slice": "x = y[::2]\n",
}

# 2.1 spellings that must pass
ALLOWED = {
    "has_key": "d = {}\nif d.has_key('a'):\n    pass\n",
    "find": "s = 'abc'\nif s.find('b') >= 0:\n    pass\n",
    "single char in string": "if 'a' in 'abc':\n    pass\n",
    "in list": "x = 'a' in ['a', 'b']\n",
    "1/0": "done = 1\nfailed = 0\nwhile 1:\n    break\n",
    "explicit nested try": "try:\n    try:\n        a()\n    except:\n        b()\nfinally:\n    c()\n",
    "except comma": "try:\n    a()\nexcept ValueError, e:\n    pass\n",
    "nested_scopes future": "from __future__ import nested_scopes\n"
                            "def f():\n    v = 1\n    def g():\n        return v\n    return g\n",
    "default argument trick": "def f():\n    v = 1\n    return map(lambda x, v=v: x + v, [1])\n",
    "nested def using own names": "def f():\n    def g(x):\n        y = x\n        return y\n    return g\n",
    "method reading module global": "LIMIT = 3\nclass A:\n    def f(self):\n        return LIMIT\n",
    "keys() iteration": "d = {}\nfor k in d.keys():\n    pass\n",
    "readlines": "f = open('x')\nfor line in f.readlines():\n    pass\nf.close()\n",
    "strip()": "x = y.strip()\nimport string\nz = string.strip(y)\n",
    "list.pop": "x = [1]\nx.pop()\nx.pop(0)\n",
    "sort(cmp)": "x.sort(cmpfunc)\n",
    "own dict function": "def dict(pairs):\n    return {}\nx = dict([])\n",
    "2.1 modules": "import os, sys, string, re, getopt, time, types\n",
    "list comprehension": "x = [i for i in range(3) if i]\n",
    "print chevron": "import sys\nprint >>sys.stderr, 'x'\n",
    "import as": "import string as s\n",
}


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("check21")
    snippets = {f"forbidden:{k}": v for k, v in FORBIDDEN.items()}
    snippets.update({f"allowed:{k}": v for k, v in ALLOWED.items()})
    (tmp / "snippets.json").write_text(json.dumps(snippets))
    driver = tmp / "driver.py"
    driver.write_text(
        "import sys, json\n"
        f"sys.path.insert(0, {str(CHECKER.parent)!r})\n"
        "from check_jython21 import check_source\n"
        f"snippets = json.load(open({str(tmp / 'snippets.json')!r}))\n"
        "result = {}\n"
        "for name in snippets:\n"
        "    result[name] = check_source(snippets[name], name)\n"
        "print 'JSON:' + json.dumps(result)\n"
    )
    proc = subprocess.run(["jython", str(driver)], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("JSON:"))
    return json.loads(line[len("JSON:"):])


@pytest.mark.parametrize("name", sorted(FORBIDDEN))
def test_rejects(verdicts, name):
    problems = verdicts[f"forbidden:{name}"]
    assert problems, f"{name!r} was not rejected"
    for lineno, message in problems:
        assert lineno >= 1 and message


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_accepts(verdicts, name):
    assert verdicts[f"allowed:{name}"] == []


def test_reported_line_numbers(verdicts):
    assert [p[0] for p in verdicts["forbidden:iterate dict name"]] == [2]
    assert [p[0] for p in verdicts["forbidden:nested scope def"]] == [4]
    assert [p[0] for p in verdicts["forbidden:except as"]] == [3]


def test_cli_on_wsadmin_and_on_a_bad_tree(tmp_path):
    bad = tmp_path / "pkg"
    (bad / "sub").mkdir(parents=True)
    (bad / "sub" / "b.py").write_text("x = True\nfor k in {}:\n    pass\n")
    (bad / "ok.py").write_text("x = 1\n")
    (bad / "notes.txt").write_text("x = True\n")
    # one launch: the good tree and the bad tree through the real CLI, in a small driver
    driver = tmp_path / "cli.py"
    driver.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(CHECKER.parent)!r})\n"
        "import check_jython21\n"
        f"print 'RC1=%d' % check_jython21.main([{str(REPO / 'wsadmin')!r}])\n"
        f"print 'RC2=%d' % check_jython21.main([{str(bad)!r}])\n"
    )
    proc = subprocess.run(["jython", str(driver)], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert "RC1=0" in out and "RC2=1" in out
    assert any(ln.startswith("OK: ") and "file(s)" in ln for ln in out)
    bad_file = str(bad / "sub" / "b.py")
    assert f"{bad_file}:1: 'True' does not exist in Jython 2.1" in out
    assert any(ln.startswith(f"{bad_file}:2: ") for ln in out)
    assert not any("notes.txt" in ln or "ok.py:" in ln for ln in out)


def test_script_exit_codes(tmp_path):
    (tmp_path / "bad.py").write_text("with x:\n    pass\n")
    proc = subprocess.run(["jython", str(CHECKER), str(tmp_path / "bad.py")],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 1
    assert proc.stdout.startswith(f"{tmp_path / 'bad.py'}:1: ")
