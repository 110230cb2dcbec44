"""Month arithmetic that clamps to the end of the month."""

from datetime import date

from .months import days_in_month


def add_months(d, n):
    """Move `d` by `n` months; a day past the end of the target month becomes its last day."""
    index = d.year * 12 + (d.month - 1) + n
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(d.day, days_in_month(year, month)))


def month_ends(start, count):
    """The last day of `count` consecutive months starting at `start`'s month."""
    first = date(start.year, start.month, 1)
    out = []
    for i in range(count):
        d = add_months(first, i)
        out.append(date(d.year, d.month, days_in_month(d.year, d.month)))
    return out
