import functools
import time

from .backoff import exponential
from .errors import RetryError


def retry(max_attempts=3, exceptions=(Exception,), backoff=None, sleep=time.sleep):
    """Call the decorated function up to `max_attempts` times in total."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    delay = backoff or exponential()

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            last = None
            for attempt in range(1, max_attempts):
                try:
                    return fn(*args, **kwargs)
                except exceptions as exc:
                    last = exc
                    if attempt < max_attempts:
                        sleep(delay(attempt))
            raise RetryError(f"gave up after {max_attempts} attempts") from last

        return wrapper

    return decorate
