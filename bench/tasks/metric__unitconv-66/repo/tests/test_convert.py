import pytest

from unitconv import convert


def test_metric():
    assert convert(2.5, "km", "m") == 2500
    assert convert(30, "mm", "cm") == 3


def test_inches():
    assert convert(10, "in", "cm") == pytest.approx(25.4)


def test_miles():
    assert convert(1, "mi", "km") == pytest.approx(1.609344)


def test_unknown_unit():
    with pytest.raises(KeyError):
        convert(1, "furlong", "m")
