"""A tiny arithmetic library."""

from mathlib.core import add, mean, multiply

__all__ = ["add", "mean", "multiply"]
