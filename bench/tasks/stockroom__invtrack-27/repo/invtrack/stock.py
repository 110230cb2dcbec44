"""Stock movements and the reorder rule."""


class StockError(Exception):
    pass


def adjust(item, delta):
    """Add (or remove, when negative) `delta` units; stock never goes below zero."""
    if item.qty + delta < 0:
        raise StockError(f"{item.sku}: cannot remove {-delta}, only {item.qty} in stock")
    item.qty += delta
    return item.qty


def needs_reorder(item):
    return item.qty < item.reorder_level
