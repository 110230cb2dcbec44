"""Known coupon codes. Percent discounts are given in percent (10 means 10%)."""

COUPONS = {
    "SAVE10": {"percent": 10},
    "SAVE25": {"percent": 25},
    "FREESHIP": {"free_shipping": True},
}


def lookup(code):
    try:
        return COUPONS[code.upper()]
    except KeyError:
        raise KeyError(f"unknown coupon {code!r}") from None
