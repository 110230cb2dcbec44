"""Human-readable reports over a list of items."""

from . import stock


def reorder_report(items):
    lines = []
    for item in sorted(items, key=lambda i: i.sku):
        if stock.needs_reorder(item):
            lines.append(f"{item.sku} {item.name}: {item.qty} left (reorder at {item.reorder_level})")
    return "\n".join(lines)


def value_report(items, prices):
    total = sum(item.qty * prices.get(item.sku, 0) for item in items)
    return f"stock value: {total:.2f}"
