import time

from .entry import Entry


class TTLCache:
    def __init__(self, ttl=0, clock=time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._entries = {}

    def set(self, key, value):
        expires = None if self.ttl is None else self.clock() + self.ttl
        self._entries[key] = Entry(value, expires)

    def get(self, key, default=None):
        entry = self._entries.get(key)
        if entry is None or entry.expired(self.clock()):
            self._entries.pop(key, None)
            return default
        return entry.value

    def purge(self):
        now = self.clock()
        for key in [k for k, e in self._entries.items() if e.expired(now)]:
            del self._entries[key]
        return len(self._entries)
