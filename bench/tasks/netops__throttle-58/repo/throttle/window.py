import time
from collections import deque


class SlidingWindowLimiter:
    """At most `limit` requests in any `window` seconds.

    Each allowed request counts against the limit for exactly `window` seconds after it
    was made.
    """

    def __init__(self, limit, window, clock=time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self.events = deque()

    def _expire(self, now):
        while self.events and self.events[0] < now - self.window:
            self.events.popleft()

    def allow(self):
        now = self.clock()
        self._expire(now)
        if len(self.events) < self.limit:
            self.events.append(now)
            return True
        return False

    def remaining(self):
        self._expire(self.clock())
        return self.limit - len(self.events)
