from throttle import SlidingWindowLimiter, TokenBucket


def test_bucket_refills(clock):
    bucket = TokenBucket(rate=1, capacity=2, clock=clock)
    assert bucket.allow() and bucket.allow()
    assert not bucket.allow()
    clock.now = 1.0
    assert bucket.allow()


def test_window_limits_burst(clock):
    lim = SlidingWindowLimiter(2, 10, clock=clock)
    assert lim.allow() and lim.allow()
    assert not lim.allow()
    assert lim.remaining() == 0


def test_window_allows_after_expiry(clock):
    lim = SlidingWindowLimiter(1, 10, clock=clock)
    assert lim.allow()
    clock.now = 15
    assert lim.allow()
