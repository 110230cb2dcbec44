import csv


def read_column(path, column):
    """The non-empty values of `column` as floats."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if rows and column not in rows[0]:
        raise KeyError(f"{path}: no column {column!r}")
    return [float(r[column]) for r in rows if r[column].strip() != ""]
