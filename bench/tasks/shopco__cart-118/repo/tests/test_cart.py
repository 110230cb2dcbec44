import pytest

from cart.cart import Cart


def test_subtotal():
    c = Cart()
    c.add("mug", 12.5, 2)
    c.add("mug", 12.5, 1)
    c.add("pen", 1.2)
    assert c.subtotal() == 38.7


def test_shipping():
    c = Cart()
    c.add("mug", 10.0)
    assert c.total(with_shipping=True) == 14.95


def test_free_shipping_coupon():
    c = Cart()
    c.add("mug", 10.0)
    c.apply_coupon("freeship")
    assert c.total(with_shipping=True) == 10.0


def test_unknown_coupon():
    with pytest.raises(KeyError):
        Cart().apply_coupon("BOGUS")
