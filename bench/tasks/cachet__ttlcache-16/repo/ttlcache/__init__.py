"""ttlcache: a dictionary whose entries expire."""

from .cache import TTLCache

__all__ = ["TTLCache"]
