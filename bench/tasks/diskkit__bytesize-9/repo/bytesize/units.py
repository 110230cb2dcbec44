"""Unit tables (binary and decimal)."""

BINARY = [("B", 1), ("KiB", 1024), ("MiB", 1024**2), ("GiB", 1024**3), ("TiB", 1024**4)]
DECIMAL = [("B", 1), ("kB", 1000), ("MB", 1000**2), ("GB", 1000**3), ("TB", 1000**4)]


def all_units():
    return dict(BINARY + DECIMAL)
