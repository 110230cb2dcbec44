from ttlcache import TTLCache


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_explicit_ttl():
    clock = Clock()
    c = TTLCache(ttl=10, clock=clock)
    c.set("a", 1)
    clock.t += 9
    assert c.get("a") == 1
    clock.t += 1
    assert c.get("a") is None


def test_never_expire():
    clock = Clock()
    c = TTLCache(ttl=None, clock=clock)
    c.set("a", 1)
    clock.t += 1e9
    assert c.get("a") == 1


def test_purge():
    clock = Clock()
    c = TTLCache(ttl=5, clock=clock)
    c.set("a", 1)
    clock.t += 3
    c.set("b", 2)
    clock.t += 3
    assert c.purge() == 1
