"""Python stand-in for Java package com.ibm.ws.scripting (mock wsadmin)."""
import mock_exc
mock_exc.register(__name__, [mock_exc.ScriptingException])
