from .table import load_table

_FACTORS = None


def _factors():
    global _FACTORS
    if _FACTORS is None:
        _FACTORS = load_table()
    return _FACTORS


def convert(value, from_unit, to_unit):
    factors = _factors()
    for unit in (from_unit, to_unit):
        if unit not in factors:
            raise KeyError(f"unknown unit {unit!r}; known: {', '.join(sorted(factors))}")
    return round(value * factors[from_unit] / factors[to_unit], 6)
