"""intervals: merge and measure closed intervals."""

from .merge import merge, total_length
from .model import Interval

__all__ = ["Interval", "merge", "total_length"]
