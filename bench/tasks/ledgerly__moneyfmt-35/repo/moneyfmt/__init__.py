"""moneyfmt: format amounts with the right symbol and number of decimals."""

from .fmt import format_money

__all__ = ["format_money"]
