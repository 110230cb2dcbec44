"""Money arithmetic for the cart, rounded to cents."""

SHIPPING_FLAT = 4.95
FREE_SHIPPING_FROM = 75.00


def apply_discount(amount, percent):
    """`amount` reduced by `percent` percent (0-100)."""
    return round(amount * (1 - percent), 2)


def shipping_for(subtotal, free=False):
    if free or subtotal >= FREE_SHIPPING_FROM or subtotal == 0:
        return 0.0
    return SHIPPING_FLAT
