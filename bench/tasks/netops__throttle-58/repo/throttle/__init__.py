"""throttle: in-process rate limiters."""

from .bucket import TokenBucket
from .window import SlidingWindowLimiter

__all__ = ["SlidingWindowLimiter", "TokenBucket"]
