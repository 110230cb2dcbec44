"""Build the markdown text: header, separator with alignment, padded body rows."""

from .cells import cell_text

_MIN_WIDTH = 3


def _widths(headers, rows):
    widths = [0] * len(headers)
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    return [max(w, _MIN_WIDTH) for w in widths]


def _separator(width, align):
    if align == "right":
        return "-" * (width - 1) + ":"
    if align == "center":
        return ":" + "-" * (width - 2) + ":"
    return "-" * width


def _line(cells, widths, aligns):
    parts = []
    for cell, width, align in zip(cells, widths, aligns):
        parts.append(cell.rjust(width) if align == "right" else cell.ljust(width))
    return "| " + " | ".join(parts) + " |"


def render(headers, rows, align=None):
    headers = [cell_text(h) for h in headers]
    rows = [[cell_text(c) for c in row] for row in rows]
    aligns = list(align or ["left"] * len(headers))
    widths = _widths(headers, rows)
    out = [_line(headers, widths, aligns)]
    out.append("| " + " | ".join(_separator(w, a) for w, a in zip(widths, aligns)) + " |")
    out.extend(_line(row, widths, aligns) for row in rows)
    return "\n".join(out)
