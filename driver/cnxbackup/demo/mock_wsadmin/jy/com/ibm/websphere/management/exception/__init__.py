"""Python stand-in for Java package com.ibm.websphere.management.exception (mock wsadmin)."""
import mock_exc
mock_exc.register(__name__, [mock_exc.AdminException, mock_exc.ConnectorNotAvailableException,
                            mock_exc.InvalidConfigDataTypeException])
