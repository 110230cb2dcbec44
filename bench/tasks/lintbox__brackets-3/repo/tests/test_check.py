from brackets import first_error, is_balanced


def test_balanced():
    assert is_balanced("f(a[0], {b: (c)})")
    assert is_balanced("")


def test_mismatch():
    assert first_error("(]") == 1
    assert not is_balanced("([)]")


def test_stray_closer():
    assert first_error("a)") == 1
