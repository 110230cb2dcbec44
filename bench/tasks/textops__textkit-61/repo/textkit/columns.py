from .truncate import truncate


def format_row(cells, widths, sep=" | "):
    """Pad or cut each cell to its column width."""
    return sep.join(truncate(str(c), w).ljust(w) for c, w in zip(cells, widths))
