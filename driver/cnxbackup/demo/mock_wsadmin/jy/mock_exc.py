"""Exceptions that stand in for the Java exceptions real wsadmin raises.

They are Python classes (catchable with bare except, `except Exception` and
`except com.ibm.ws.scripting.ScriptingException, e`), whose repr/str carry the
fully-qualified Java class name the way Jython shows Java exceptions.
"""
import sys


class JavaStyleException(Exception):
    java_name = 'java.lang.Exception'

    def __init__(self, message):
        Exception.__init__(self, message)
        self.message = message

    def getMessage(self):
        return self.message

    def __str__(self):
        return '%s: %s' % (self.java_name, self.message)

    def __repr__(self):
        return self.__str__()


class ScriptingException(JavaStyleException):
    java_name = 'com.ibm.ws.scripting.ScriptingException'


class AdminException(JavaStyleException):
    java_name = 'com.ibm.websphere.management.exception.AdminException'


class ConnectorNotAvailableException(JavaStyleException):
    java_name = 'com.ibm.websphere.management.exception.ConnectorNotAvailableException'


class InvalidConfigDataTypeException(JavaStyleException):
    java_name = 'com.ibm.websphere.management.exception.InvalidConfigDataTypeException'


class InstanceNotFoundException(JavaStyleException):
    java_name = 'javax.management.InstanceNotFoundException'


def register(package_name, classes):
    """Make `import package.Class` work like Jython's Java-class imports."""
    package = sys.modules[package_name]
    for cls in classes:
        setattr(package, cls.__name__, cls)
        sys.modules[package_name + '.' + cls.__name__] = cls
