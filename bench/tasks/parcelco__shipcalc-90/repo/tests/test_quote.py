import pytest

from shipcalc import quote


def test_domestic():
    assert quote("us", 1) == 5.0


def test_europe_with_extra_weight():
    assert quote("DE", 6.5) == 17.5


def test_unknown_country_is_international():
    assert quote("ZZ", 1) == 25.0


def test_bad_weight():
    with pytest.raises(ValueError):
        quote("US", 0)
