from .coupons import lookup
from .pricing import apply_discount, shipping_for


class Cart:
    def __init__(self):
        self.lines = {}
        self.coupon = None

    def add(self, sku, price, qty=1):
        old_price, old_qty = self.lines.get(sku, (price, 0))
        self.lines[sku] = (price, old_qty + qty)

    def apply_coupon(self, code):
        self.coupon = lookup(code)

    def subtotal(self):
        return round(sum(price * qty for price, qty in self.lines.values()), 2)

    def total(self, with_shipping=False):
        amount = self.subtotal()
        coupon = self.coupon or {}
        if "percent" in coupon:
            amount = apply_discount(amount, coupon["percent"])
        if with_shipping:
            amount += shipping_for(amount, coupon.get("free_shipping", False))
        return round(amount, 2)
