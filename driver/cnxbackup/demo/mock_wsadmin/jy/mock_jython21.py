"""Jython 2.1 emulation on top of Jython 2.7 (WAS 8.5.5, or WAS 9 with -usejython21 true).

Jython's exec ignores a restricted __builtins__, so the names 2.1 lacks are deleted
from the __builtin__ module itself. Privileged code (Jython stdlib, the mock, the
2.1 checker) gets them back as module globals, which are looked up before builtins.
An __import__ wrapper refuses post-2.1 modules to unprivileged importers, and a
meta_path finder runs tools/check_jython21.py on user modules before they load.
"""
import hashlib
import os
import sys
import __builtin__

REMOVED_BUILTINS = ['True', 'False', 'bool', 'dict', 'set', 'frozenset', 'sorted', 'reversed',
                    'enumerate', 'sum', 'object', 'super', 'basestring', 'any', 'all', 'next',
                    'iter', 'property', 'staticmethod', 'classmethod']

# Modules added to the standard library after Python/Jython 2.1.
DENIED_MODULES = ['json', 'optparse', 'logging', 'subprocess', 'datetime', 'sets', 'collections',
                  'itertools', 'textwrap', 'heapq', 'csv', 'decimal', 'hashlib', 'uuid', 'functools',
                  'contextlib', 'io', 'argparse', 'abc', 'numbers', 'fractions', 'platform', 'ast', '_ast',
                  'tarfile', 'email', 'hmac', 'HTMLParser', 'timeit', 'modulefinder', 'pkgutil', 'runpy',
                  'cProfile', 'wsgiref', 'ctypes', 'plistlib', 'sqlite3', 'ssl', 'multiprocessing',
                  'future_builtins', 'cookielib', 'importlib', 'zipimport',
                  'xml.etree', 'optparse', 'trace', 'sched', 'mimify', 'dummy_threading']


class Restriction:
    def __init__(self, privileged_dirs, checker):
        self.privileged_dirs = [os.path.abspath(d) for d in privileged_dirs if d]
        self.checker = checker       # callable(path) raising SyntaxError, or None
        self.saved = {}
        self.injected = {}
        self.checked = {}
        self.original_import = None

    def is_privileged_file(self, path):
        if not path:
            return 0
        if '.jar/Lib/' in path or '.jar' + os.sep in path:
            return 1
        path = os.path.abspath(path)
        for d in self.privileged_dirs:
            if path.startswith(d + os.sep):
                return 1
        return 0

    def inject_privileged(self):
        # Runs after every import, so each module is looked at once, privileged or not (Jython sets
        # __file__ before a module's code runs: a later look finds the same). Looking again at every
        # Java package (a slow __file__) and calling id() (slow in Jython) cost 0.7 s a launch.
        for name, module in sys.modules.items():
            if module is None or self.injected.get(name) is module:
                continue
            self.injected[name] = module
            path = getattr(module, '__file__', None)
            if not self.is_privileged_file(path):
                continue
            try:
                namespace = module.__dict__
                for key in REMOVED_BUILTINS:
                    if key not in namespace:
                        namespace[key] = self.saved[key]
            except (AttributeError, TypeError):
                pass

    def enter(self):
        for key in REMOVED_BUILTINS:
            self.saved[key] = getattr(__builtin__, key)
        self.inject_privileged()
        for key in REMOVED_BUILTINS:
            delattr(__builtin__, key)
        self.original_import = __builtin__.__import__
        __builtin__.__import__ = self.guarded_import
        sys.meta_path.insert(0, self)

    def guarded_import(self, name, globals=None, locals=None, fromlist=None, level=-1):
        caller = None
        if globals is not None:
            caller = globals.get('__file__')
        if not self.is_privileged_file(caller) and name:
            top = name.split('.')[0]
            if top in DENIED_MODULES or name in DENIED_MODULES:
                raise ImportError('no module named %s' % top)
        module = self.original_import(name, globals, locals, fromlist, level)
        self.inject_privileged()
        return module

    # PEP 302 finder: only checks user sources, never loads anything itself.
    def find_module(self, fullname, path=None):
        if self.checker is None:
            return None
        leaf = fullname.split('.')[-1]
        for directory in (path or sys.path):
            if not isinstance(directory, basestring) or directory.startswith('__'):
                continue
            for candidate in (os.path.join(directory, leaf + '.py'),
                              os.path.join(directory, leaf, '__init__.py')):
                if os.path.isfile(candidate):
                    if not self.is_privileged_file(candidate) and candidate not in self.checked:
                        self.checked[candidate] = 1
                        self.checker(candidate)
                    return None
        return None


def load_checker(repo_root):
    """tools/check_jython21.py as a module, or None when it does not exist (yet)."""
    path = os.path.join(repo_root, 'tools', 'check_jython21.py')
    if not os.path.isfile(path):
        return None, None
    import imp
    try:
        module = imp.load_source('check_jython21', path)
    except Exception, e:
        sys.stderr.write('mock wsadmin: cannot load %s: %s\n' % (path, e))
        return None, path
    if not hasattr(module, 'check_source'):
        return None, path
    return module, path


def checker_source(module):
    """The checker's own text (it imports nothing of its own), or None."""
    try:
        f = open(module.__file__)
        try:
            return f.read()
        finally:
            f.close()
    except (IOError, AttributeError, TypeError):
        return None


def passed_marker(checker_text, text):
    """Where a text the checker passed is remembered (start-up speed only): an empty file named by
    the SHA-1 of the checker's source and the text, in the mock's cache folder (beside the CDS archive
    of wsadmin.sh). The same checker passes the same text again, so it is not run on it twice; only
    passes are kept, every violation is found by the checker itself."""
    if checker_text is None:
        return None
    try:
        digest = hashlib.sha1(checker_text + '\0' + text).hexdigest()
    except (TypeError, UnicodeError):
        return None
    cache = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.environ.get('HOME') or '/tmp', '.cache')
    return os.path.join(cache, 'cnxbackup-mock', 'check21', digest)


def remember_pass(marker):
    """The empty file written aside and renamed: no launch sees half of it."""
    try:
        folder = os.path.dirname(marker)
        if not os.path.isdir(folder):
            os.makedirs(folder)
        aside = '%s.%d.tmp' % (marker, os.getpid())
        open(aside, 'w').close()
        os.rename(aside, marker)
    except (IOError, OSError):
        pass


def make_checker(module):
    """Returns check(path, text=None) raising SyntaxError for the first violation."""
    if module is None:
        return None
    checker_text = checker_source(module)

    def check(path, text=None, display_name=None):
        if text is None:
            f = open(path)
            try:
                text = f.read()
            finally:
                f.close()
        marker = passed_marker(checker_text, text)
        if marker is not None and os.path.exists(marker):
            return
        name = display_name or path
        try:
            problems = module.check_source(text, name)
        except SyntaxError:
            raise
        except Exception, e:
            sys.stderr.write('mock wsadmin: check_jython21 failed on %s: %s\n' % (path, e))
            return
        if not problems and marker is not None:
            remember_pass(marker)
        if problems:
            line, message = problems[0][0], problems[0][1]
            lines = text.splitlines()
            source = ''
            if 0 < line <= len(lines):
                source = lines[line - 1]
            raise SyntaxError(message, (name, line, 0, source))
    return check
