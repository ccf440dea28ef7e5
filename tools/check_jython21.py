"""Reject Python constructs that Jython 2.1 (wsadmin on WAS 8.5.5) lacks.

Run under Jython 2.7, whose own parser (the `ast` module) is used:

    jython tools/check_jython21.py PATH...

Directories are searched for *.py. Prints `FILE:LINE: message` per violation
and exits 1, or prints one OK line and exits 0. `check_source(text, filename)`
returns the violations as a list of (lineno, message) for other tools.

Type-dependent rules (`in` on a dict or string, iterating a dict or file,
dict.pop) use a simple inference: the operand is a literal, an `open(...)` or
Admin* call, or a name bound to one of those in the same scope.
"""

import ast
import os
import sys
import tokenize
from StringIO import StringIO

MISSING_BUILTINS = set([
    'True', 'False', 'bool', 'dict', 'set', 'frozenset', 'sorted', 'reversed',
    'enumerate', 'sum', 'object', 'super', 'iter', 'next', 'all', 'any',
    'basestring', 'property', 'staticmethod', 'classmethod', 'file', 'bytes',
    'bytearray', 'memoryview', 'format', 'bin', 'BaseException', 'GeneratorExit',
    'StopIteration', 'unicode_literals',
])

MISSING_MODULES = set([
    'json', 'simplejson', 'optparse', 'argparse', 'logging', 'subprocess',
    'datetime', 'sets', 'collections', 'itertools', 'functools', 'heapq',
    'textwrap', 'csv', 'decimal', 'uuid', 'hashlib', 'contextlib', 'io', 'abc',
    'numbers', 'fractions', 'platform', 'tarfile', 'ssl', 'sqlite3',
    'multiprocessing', 'ctypes', 'timeit', 'email', 'logging', 'sched',
    'cProfile', 'hmac', 'optparse', 'string_tools', 'xml.etree', 'ElementTree',
    'urllib2', 'cookielib', 'bz2', 'zipimport', 'modulefinder', 'pkgutil',
    'runpy', 'future_builtins', 'importlib', 'ast', 'dummy_threading',
])

MISSING_METHODS = {
    'rsplit': 'str.rsplit is Python 2.4+',
    'partition': 'str.partition is Python 2.5+',
    'rpartition': 'str.rpartition is Python 2.5+',
    'iteritems': 'dict.iteritems is Python 2.2+ (use items())',
    'iterkeys': 'dict.iterkeys is Python 2.2+ (use keys())',
    'itervalues': 'dict.itervalues is Python 2.2+ (use values())',
    'fromkeys': 'dict.fromkeys is Python 2.3+',
}

ADMIN_OBJECTS = set(['AdminConfig', 'AdminControl', 'AdminApp', 'AdminTask'])

# kinds of values the inference knows
DICT, STR, FILE = 'dict', 'string', 'file'


def node_type_name(node):
    """The AST class name. Jython 2.7.3's DictComp node is broken (its type has
    no name and its fields are unreadable: Java NullPointerException), so a node
    whose type name cannot be read is taken to be a DictComp."""
    try:
        return type(node).__name__
    except:
        return 'DictComp'


def is_node(value):
    if isinstance(value, ast.AST):
        return True
    try:
        type(value).__name__
        return False
    except:
        return True             # the broken DictComp is not even an ast.AST


def line_of(node, default=1):
    try:
        return node.lineno
    except:
        return default


class SafeVisitor(ast.NodeVisitor):
    """ast.NodeVisitor that survives Jython 2.7.3's broken DictComp nodes."""
    last_line = 1

    def visit(self, node):
        self.last_line = line_of(node, self.last_line)
        visitor = getattr(self, 'visit_' + node_type_name(node), self.generic_visit)
        return visitor(node)

    def generic_visit(self, node):
        if node_type_name(node) == 'DictComp':      # fields unreadable in Jython 2.7.3
            return
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, list):
                for item in value:
                    if is_node(item):
                        self.visit(item)
            elif value is not None and is_node(value):
                self.visit(value)


def kind_of(node, bindings):
    """DICT, STR, FILE or None for an expression node."""
    if node_type_name(node) in ('Dict', 'DictComp'):
        # ast.DictComp/ast.Set are missing from Jython 2.7's ast module: match by name
        return DICT
    if isinstance(node, ast.Str):
        return STR
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Str):
        return STR
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            if func.id == 'open':
                return FILE
            if func.id == 'dict':
                return DICT
            if func.id in ('str', 'repr'):
                return STR
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            if func.value.id in ADMIN_OBJECTS:
                return STR
    if isinstance(node, ast.Name):
        kinds = bindings.get(node.id)
        if kinds and len(kinds) == 1:
            return list(kinds)[0]
    return None


def assigned_names(target):
    """Names bound by an assignment target."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        names = []
        for element in target.elts:
            names.extend(assigned_names(element))
        return names
    return []


class ScopeInfo(object):
    """Names a function/class/module binds, and inferred kinds of those names."""

    def __init__(self, node, kind):
        self.node = node
        self.kind = kind            # 'module', 'function', 'class'
        self.bound = set()
        self.globals = set()
        self.kinds = {}             # name -> set of kinds (None = unknown)

    def bind(self, name, value_kind=None):
        self.bound.add(name)
        self.kinds.setdefault(name, set()).add(value_kind)

    def bindings(self):
        result = {}
        for name, kinds in self.kinds.items():
            if None not in kinds:
                result[name] = kinds
        return result


class BindingCollector(SafeVisitor):
    """Collects what one scope binds, without entering nested scopes."""

    def __init__(self, scope):
        self.scope = scope

    def collect(self):
        node = self.scope.node
        if isinstance(node, ast.Lambda):
            self.bind_arguments(node.args)
            self.visit(node.body)
            return
        if isinstance(node, ast.FunctionDef):
            self.bind_arguments(node.args)
        for statement in node.body:
            self.visit(statement)

    def bind_arguments(self, arguments):
        for arg in arguments.args:
            for name in assigned_names(arg):
                self.scope.bind(name)
        if arguments.vararg:
            self.scope.bind(arguments.vararg)
        if arguments.kwarg:
            self.scope.bind(arguments.kwarg)

    def visit_FunctionDef(self, node):
        self.scope.bind(node.name)
        for default in node.args.defaults:
            self.visit(default)
        for decorator in node.decorator_list:
            self.visit(decorator)

    def visit_ClassDef(self, node):
        self.scope.bind(node.name)
        for base in node.bases:
            self.visit(base)

    def visit_Lambda(self, node):
        for default in node.args.defaults:
            self.visit(default)

    def visit_GeneratorExp(self, node):
        pass

    def visit_Global(self, node):
        self.scope.globals.update(node.names)

    def visit_Assign(self, node):
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.scope.bind(target.id, kind_of(node.value, {}))
            else:
                self.visit(target)
        self.visit(node.value)

    def visit_Name(self, node):
        if isinstance(node.ctx, (ast.Store, ast.Param, ast.Del)):
            self.scope.bind(node.id)

    def visit_Import(self, node):
        for alias in node.names:
            self.scope.bind((alias.asname or alias.name).split('.')[0])

    def visit_ImportFrom(self, node):
        for alias in node.names:
            if alias.name != '*':
                self.scope.bind(alias.asname or alias.name)


class Checker(SafeVisitor):
    def __init__(self, tree, nested_scopes_ok):
        self.problems = []
        self.nested_scopes_ok = nested_scopes_ok
        self.scopes = []            # stack of ScopeInfo
        self.module_bound = set()
        self.tree = tree

    def report(self, node, message):
        self.problems.append((line_of(node, self.last_line), message))

    # -- scopes ---------------------------------------------------------
    def enter(self, node, kind):
        scope = ScopeInfo(node, kind)
        BindingCollector(scope).collect()
        if kind == 'module':
            self.module_bound = scope.bound
        self.scopes.append(scope)
        return scope

    def leave(self):
        self.scopes.pop()

    def current_bindings(self):
        return self.scopes[-1].bindings()

    def check_free_name(self, node):
        """A read inside a nested function of a name bound by an enclosing function."""
        if self.nested_scopes_ok:
            return
        scope = self.scopes[-1]
        if scope.kind == 'module' or node.id in scope.bound or node.id in scope.globals:
            return
        for outer in reversed(self.scopes[:-1]):
            if outer.kind == 'function' and node.id in outer.bound and node.id not in outer.globals:
                self.report(node, "nested scope: '%s' is bound in an enclosing function "
                            "(Jython 2.1 needs 'from __future__ import nested_scopes' "
                            "or a default argument)" % node.id)
                return

    def visit_Module(self, node):
        self.enter(node, 'module')
        self.generic_visit(node)
        self.leave()

    def visit_FunctionDef(self, node):
        if node.decorator_list:
            self.report(node.decorator_list[0], 'decorators are Python 2.4+')
        for default in node.args.defaults:
            self.visit(default)
        for decorator in node.decorator_list:
            self.visit(decorator)
        self.enter(node, 'function')
        for statement in node.body:
            self.visit(statement)
        self.leave()

    def visit_Lambda(self, node):
        for default in node.args.defaults:
            self.visit(default)
        self.enter(node, 'function')
        self.visit(node.body)
        self.leave()

    def visit_ClassDef(self, node):
        if getattr(node, 'decorator_list', None):
            self.report(node.decorator_list[0], 'class decorators are Python 2.6+')
        for base in node.bases:
            self.visit(base)
        self.enter(node, 'class')
        for statement in node.body:
            self.visit(statement)
        self.leave()

    # -- names ----------------------------------------------------------
    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            if node.id in MISSING_BUILTINS and not self.is_bound_anywhere(node.id):
                self.report(node, "'%s' does not exist in Jython 2.1" % node.id)
            self.check_free_name(node)

    def is_bound_anywhere(self, name):
        for scope in self.scopes:
            if name in scope.bound:
                return True
        return False

    # -- syntax newer than 2.1 -----------------------------------------
    def visit_Yield(self, node):
        self.report(node, 'generators (yield) are Python 2.2+')
        self.generic_visit(node)

    def visit_GeneratorExp(self, node):
        self.report(node, 'generator expressions are Python 2.4+')
        self.generic_visit(node)

    def visit_With(self, node):
        self.report(node, "'with' is Python 2.5+")
        self.generic_visit(node)

    def visit_IfExp(self, node):
        self.report(node, 'conditional expressions (x if c else y) are Python 2.5+')
        self.generic_visit(node)

    def visit_Set(self, node):
        self.report(node, 'set literals are Python 2.7+')
        self.generic_visit(node)

    def visit_SetComp(self, node):
        self.report(node, 'set comprehensions are Python 2.7+')
        self.generic_visit(node)

    def visit_DictComp(self, node):
        self.report(node, 'dict comprehensions are Python 2.7+')
        self.generic_visit(node)

    def visit_TryFinally(self, node):
        if (len(node.body) == 1 and isinstance(node.body[0], ast.TryExcept)
                and node.body[0].lineno == node.lineno
                and node.body[0].col_offset == node.col_offset):
            self.report(node, 'try/except/finally in one statement is Python 2.5+ '
                        '(nest a try/except inside try/finally)')
        self.generic_visit(node)

    def visit_Slice(self, node):
        if node.step is not None:
            self.report(node.step, 'extended slicing (a[i:j:k]) is Python 2.3+')
        self.generic_visit(node)

    def visit_Import(self, node):
        for alias in node.names:
            self.check_module(node, alias.name)

    def visit_ImportFrom(self, node):
        if node.level and node.level > 0:
            self.report(node, 'relative imports (from . import x) are Python 2.5+')
        module = node.module or ''
        if module == '__future__':
            for alias in node.names:
                if alias.name != 'nested_scopes':
                    self.report(node, "from __future__ import %s is not in Jython 2.1" % alias.name)
            return
        self.check_module(node, module)

    def check_module(self, node, name):
        parts = name.split('.')
        for index in range(len(parts)):
            prefix = '.'.join(parts[:index + 1])
            if prefix in MISSING_MODULES:
                self.report(node, "module '%s' does not exist in Jython 2.1" % prefix)
                return

    # -- type-dependent rules ------------------------------------------
    def visit_Compare(self, node):
        left = node.left
        for op, right in zip(node.ops, node.comparators):
            if isinstance(op, (ast.In, ast.NotIn)):
                kind = kind_of(right, self.current_bindings())
                if kind == DICT:
                    self.report(node, "'in' on a dict is Python 2.2+ (use has_key)")
                elif kind == STR and not (isinstance(left, ast.Str) and len(left.s) == 1):
                    self.report(node, "substring 'in' on a string is Python 2.3+ (use find)")
            left = right
        self.generic_visit(node)

    def check_iteration(self, iterable):
        kind = kind_of(iterable, self.current_bindings())
        if kind == DICT:
            self.report(iterable, 'iterating a dict directly is Python 2.2+ (use keys())')
        elif kind == FILE:
            self.report(iterable, 'iterating a file directly is Python 2.2+ (use readlines())')

    def visit_For(self, node):
        self.check_iteration(node.iter)
        self.generic_visit(node)

    def visit_comprehension(self, node):
        self.check_iteration(node.iter)
        self.generic_visit(node)

    def visit_Call(self, node):
        func = node.func
        if isinstance(func, ast.Attribute):
            name = func.attr
            receiver = func.value
            receiver_name = getattr(receiver, 'id', None)
            if name == 'walk' and receiver_name == 'os':
                self.report(node, 'os.walk is Python 2.3+ (use os.path.walk or os.listdir)')
            elif name in MISSING_METHODS:
                self.report(node, MISSING_METHODS[name])
            elif name in ('strip', 'lstrip', 'rstrip'):
                allowed = 1
                if receiver_name == 'string':
                    allowed = 1
                else:
                    allowed = 0
                if len(node.args) + len(node.keywords) > allowed:
                    self.report(node, '%s(chars) is Python 2.2+ (strip whitespace only)' % name)
            elif name == 'pop':
                kind = kind_of(receiver, self.current_bindings())
                if kind == DICT or len(node.args) >= 2:
                    self.report(node, 'dict.pop is Python 2.3+')
            elif name == 'sort' and (node.keywords or node.starargs or node.kwargs):
                self.report(node, 'list.sort(key=/reverse=/cmp=) keyword arguments are Python 2.4+')
        elif isinstance(func, ast.Name) and func.id in ('min', 'max') and node.keywords:
            self.report(node, '%s(key=...) is Python 2.5+' % func.id)
        self.generic_visit(node)


def syntax_by_tokens(text):
    """Problems only visible in the tokens: `except X as e`, b'' literals."""
    problems = []
    try:
        tokens = list(tokenize.generate_tokens(StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return problems
    index = 0
    while index < len(tokens):
        token_type, token, start = tokens[index][0], tokens[index][1], tokens[index][2]
        if token_type == tokenize.NAME and token == 'except':
            depth = 0
            probe = index + 1
            while probe < len(tokens):
                kind, value = tokens[probe][0], tokens[probe][1]
                if kind == tokenize.OP and value in '([{':
                    depth += 1
                elif kind == tokenize.OP and value in ')]}':
                    depth -= 1
                elif kind == tokenize.OP and value == ':' and depth == 0:
                    break
                elif kind == tokenize.NAME and value == 'as' and depth == 0:
                    problems.append((tokens[probe][2][0], "'except X as e' is Python 2.6+ (use 'except X, e')"))
                    break
                elif kind in (tokenize.NEWLINE,):
                    break
                probe += 1
        elif token_type == tokenize.STRING and token[:1] in 'bB':
            problems.append((start[0], "b'' literals are Python 2.6+"))
        index += 1
    return problems


def has_nested_scopes_future(tree):
    for statement in tree.body:
        if isinstance(statement, ast.ImportFrom) and statement.module == '__future__':
            for alias in statement.names:
                if alias.name == 'nested_scopes':
                    return True
    return False


def check_source(text, filename='<string>'):
    """Violations of Jython 2.1 compatibility as a sorted list of (lineno, message)."""
    if isinstance(text, unicode):
        text = text.encode('utf-8')
    text = text.replace('\r\n', '\n')
    if not text.endswith('\n'):
        text += '\n'
    try:
        tree = ast.parse(text, filename)
    except SyntaxError, problem:
        return [(problem.lineno or 1, 'syntax error: %s' % problem.msg)]
    checker = Checker(tree, has_nested_scopes_future(tree))
    checker.visit(tree)
    problems = checker.problems + syntax_by_tokens(text)
    unique = sorted(set(problems))
    return unique


def python_files(paths):
    for path in paths:
        if os.path.isdir(path):
            for folder, subfolders, names in os.walk(path):
                subfolders.sort()
                for name in sorted(names):
                    if name.endswith('.py'):
                        yield os.path.join(folder, name)
        else:
            yield path


def main(argv):
    if not argv or argv[0] in ('-h', '--help'):
        print 'usage: jython tools/check_jython21.py PATH...'
        return 2
    file_count = 0
    problem_count = 0
    for path in python_files(argv):
        file_count += 1
        try:
            handle = open(path)
            try:
                text = handle.read()
            finally:
                handle.close()
        except IOError, problem:
            print '%s:1: cannot read: %s' % (path, problem)
            problem_count += 1
            continue
        for lineno, message in check_source(text, path):
            print '%s:%d: %s' % (path, lineno, message)
            problem_count += 1
    if problem_count:
        print '%d Jython 2.1 problem(s) in %d file(s) checked' % (problem_count, file_count)
        return 1
    print 'OK: %d file(s) are Jython 2.1 compatible' % file_count
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
