from textkit import truncate


def test_fits_unchanged():
    assert truncate("short", 10) == "short"
    assert truncate("exactly10!", 10) == "exactly10!"


def test_tiny_width():
    assert truncate("abcdef", 2) == ".."
