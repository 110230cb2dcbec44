from dataclasses import dataclass


@dataclass
class Entry:
    value: object
    expires: float | None

    def expired(self, now):
        return self.expires is not None and now >= self.expires
