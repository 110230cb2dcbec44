import pytest

from invtrack.models import Item
from invtrack.stock import StockError, adjust


def test_from_row():
    item = Item.from_row("A-1, anvil, 3, 1")
    assert item == Item("A-1", "anvil", 3, 1)


def test_adjust_adds_and_removes():
    item = Item("A-1", "anvil", 3, 1)
    assert adjust(item, 4) == 7
    assert adjust(item, -7) == 0


def test_adjust_refuses_negative_stock():
    with pytest.raises(StockError):
        adjust(Item("A-1", "anvil", 1, 0), -2)
