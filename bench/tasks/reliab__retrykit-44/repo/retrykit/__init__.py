"""retrykit: retry decorator with pluggable backoff."""

from .errors import RetryError
from .retry import retry

__all__ = ["RetryError", "retry"]
