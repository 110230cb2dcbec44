from .model import Interval


def merge(intervals):
    items = sorted(Interval.of(p) for p in intervals)
    out = []
    for iv in items:
        if out and iv.start < out[-1].end:
            out[-1] = Interval(out[-1].start, max(out[-1].end, iv.end))
        else:
            out.append(iv)
    return out


def total_length(intervals):
    return sum(iv.end - iv.start for iv in merge(intervals))
