"""textkit: small text helpers for terminal output."""

from .columns import format_row
from .truncate import truncate

__all__ = ["format_row", "truncate"]
