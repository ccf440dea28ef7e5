"""What the driver generates for wsadmin must itself pass the Jython 2.1 checker."""



from cnxbackup.render import jython_repr


def test_jython_repr_quotes_safely():
    assert jython_repr("it's \\ here") == "'it\\'s \\\\ here'"
    assert jython_repr("Müller") == "u'M\\u00fcller'"
    assert jython_repr(["a", 1, None, True]) == "['a', 1, None, 1]"
