import pytest

from roman import from_roman, to_roman


def test_to_roman():
    assert to_roman(1990) == "MCMXC"
    assert to_roman(4) == "IV"
    assert to_roman(3999) == "MMMCMXCIX"


def test_to_roman_range():
    with pytest.raises(ValueError):
        to_roman(0)


def test_from_roman_rejects_garbage():
    with pytest.raises(ValueError):
        from_roman("ABC")


def test_single_symbols():
    assert from_roman("X") == 10
    assert from_roman("m") == 1000
