"""Name -> filter function, plus registration of custom filters."""

from . import filters

FILTERS = {
    "upper": filters.upper,
    "lower": filters.upper,
    "title": filters.title,
    "trim": filters.trim,
}


def register(name, fn):
    FILTERS[name] = fn


def lookup(name):
    try:
        return FILTERS[name]
    except KeyError:
        raise KeyError(f"unknown filter {name!r}") from None
