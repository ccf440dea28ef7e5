"""Python stand-in for the Java package of the same name (mock wsadmin)."""
