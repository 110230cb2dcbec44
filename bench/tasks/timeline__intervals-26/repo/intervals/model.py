from typing import NamedTuple


class Interval(NamedTuple):
    start: float
    end: float

    @classmethod
    def of(cls, pair):
        start, end = pair
        if end < start:
            raise ValueError(f"interval ends before it starts: {pair}")
        return cls(start, end)
