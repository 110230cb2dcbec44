from .constraints import satisfies
from .version import parse


def pick_latest(versions, constraint=None):
    candidates = [v for v in versions if constraint is None or satisfies(v, constraint)]
    if not candidates:
        return None
    return max(candidates, key=parse)
