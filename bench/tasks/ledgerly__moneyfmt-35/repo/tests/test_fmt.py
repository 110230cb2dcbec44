import pytest

from moneyfmt import format_money
from moneyfmt.registry import UnknownCurrency


def test_usd():
    assert format_money(1234.5, "USD") == "$1,234.50"


def test_eur_after():
    assert format_money(3, "eur") == "3.00 €"


def test_three_decimals():
    assert format_money(1.2345, "KWD") == "1.235 KD"


def test_unknown():
    with pytest.raises(UnknownCurrency):
        format_money(1, "XXX")
