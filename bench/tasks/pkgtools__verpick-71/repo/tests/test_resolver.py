import pytest

from verpick.constraints import satisfies
from verpick.resolver import pick_latest
from verpick.version import InvalidVersion, parse


def test_single_digit_ordering():
    assert pick_latest(["1.2.0", "1.3.1", "0.9"]) == "1.3.1"


def test_prerelease_sorts_before_final():
    assert pick_latest(["2.0.0-rc1", "2.0.0"]) == "2.0.0"


def test_constraint():
    assert pick_latest(["1.2.0", "1.3.0", "2.0.0"], ">=1.2,<2") == "1.3.0"
    assert pick_latest(["1.0"], ">=2") is None
    assert satisfies("1.5", "==1.5.0")


def test_invalid():
    with pytest.raises(InvalidVersion):
        parse("one.two")
