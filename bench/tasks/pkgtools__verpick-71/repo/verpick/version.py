"""Parse dotted versions like '1.10.2' or '2.0.0-rc1'."""

import re

_VERSION = re.compile(r"^(\d+(?:\.\d+)*)(?:-([0-9A-Za-z.]+))?$")


class InvalidVersion(ValueError):
    pass


def parse(text):
    """Return a sortable key: (release parts padded to 3, 1 for final / 0 for pre, pre tag)."""
    m = _VERSION.match(text.strip())
    if not m:
        raise InvalidVersion(f"not a version: {text!r}")
    parts = tuple(p for p in m.group(1).split("."))
    parts = parts + ("0",) * (3 - len(parts))
    pre = m.group(2)
    return parts, (0, pre) if pre else (1, "")
