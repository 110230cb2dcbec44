"""unitconv: length conversions driven by a table of factors."""

from .convert import convert

__all__ = ["convert"]
