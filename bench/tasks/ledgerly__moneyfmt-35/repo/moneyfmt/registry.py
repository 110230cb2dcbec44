import json
from functools import lru_cache
from pathlib import Path


class UnknownCurrency(KeyError):
    pass


@lru_cache(maxsize=None)
def _load():
    path = Path(__file__).with_name("currencies.json")
    return json.loads(path.read_text(encoding="utf-8"))


def currency(code):
    try:
        return _load()[code.upper()]
    except KeyError:
        raise UnknownCurrency(code) from None
