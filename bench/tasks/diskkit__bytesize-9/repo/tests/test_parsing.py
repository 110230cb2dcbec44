import pytest

from bytesize.parsing import parse_size


def test_units():
    assert parse_size("1.5 KiB") == 1536
    assert parse_size("2MB") == 2_000_000
    assert parse_size("17") == 17


def test_bad():
    with pytest.raises(ValueError):
        parse_size("lots")
    with pytest.raises(ValueError):
        parse_size("3 parsecs")
