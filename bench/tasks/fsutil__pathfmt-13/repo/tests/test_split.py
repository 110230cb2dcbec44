from pathfmt.split import split_ext


def test_split_ext():
    assert split_ext("archive.tar.gz") == ("archive", ".tar.gz")
    assert split_ext("README") == ("README", "")
    assert split_ext(".bashrc") == (".bashrc", "")
