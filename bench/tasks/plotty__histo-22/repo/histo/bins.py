def edges(lo, hi, bins):
    width = (hi - lo) / bins
    return [lo + i * width for i in range(bins + 1)]


def histogram(values, bins=10, lo=None, hi=None):
    """Counts per equal-width bin over [lo, hi]; the last bin includes hi."""
    if not values:
        return [0] * bins
    lo = min(values) if lo is None else lo
    hi = max(values) if hi is None else hi
    if hi == lo:
        return [len(values)] + [0] * (bins - 1)
    width = (hi - lo) / bins
    counts = [0] * bins
    for v in values:
        idx = int((v - lo) / width)
        if 0 <= idx < bins:
            counts[idx] += 1
    return counts
