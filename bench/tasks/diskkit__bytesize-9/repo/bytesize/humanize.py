from .units import BINARY, DECIMAL, parse_size


def natural_size(n, binary=True, precision=1):
    table = BINARY if binary else DECIMAL
    for name, factor in reversed(table):
        if n >= factor:
            if factor == 1:
                return f"{n} B"
            return f"{n / factor:.{precision}f} {name}"
    return f"{n} B"


def round_trip(text, binary=True):
    """Normalise a size string: parse it and print it again."""
    return natural_size(parse_size(text), binary=binary)
