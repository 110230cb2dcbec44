import re

from .units import all_units

_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$")


def parse_size(text):
    """'1.5 KiB' -> 1536; a bare number is bytes."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"not a size: {text!r}")
    number, unit = float(m.group(1)), m.group(2) or "B"
    units = all_units()
    if unit not in units:
        raise ValueError(f"unknown unit {unit!r} in {text!r}")
    return int(round(number * units[unit]))
