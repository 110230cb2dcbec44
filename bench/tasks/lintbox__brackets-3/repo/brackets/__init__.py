"""brackets: check that (), [] and {} are balanced."""

from .check import first_error, is_balanced

__all__ = ["first_error", "is_balanced"]
