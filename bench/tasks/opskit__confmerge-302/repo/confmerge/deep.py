"""Recursive merging of nested mappings."""

from collections import Mapping


def deep_merge(base, *overrides):
    """Return a new dict: `overrides` applied left to right, nested mappings merged."""
    result = dict(base)
    for override in overrides:
        for key, value in override.items():
            current = result.get(key)
            if isinstance(current, Mapping) and isinstance(value, Mapping):
                result[key] = deep_merge(current, value)
            else:
                result[key] = value
    return result
