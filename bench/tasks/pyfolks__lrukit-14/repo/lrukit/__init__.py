"""lrukit: a least-recently-used cache with hit statistics."""

from .cache import LRUCache
from .stats import CacheStats

__all__ = ["CacheStats", "LRUCache"]
