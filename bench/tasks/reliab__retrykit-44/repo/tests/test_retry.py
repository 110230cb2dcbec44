import pytest

from retrykit import RetryError, retry
from retrykit.backoff import constant, exponential


def test_success_first_time():
    @retry(max_attempts=3, sleep=lambda s: None)
    def ok():
        return 42

    assert ok() == 42


def test_non_matching_exception_propagates():
    @retry(max_attempts=3, exceptions=(ConnectionError,), sleep=lambda s: None)
    def bad():
        raise KeyError("x")

    with pytest.raises(KeyError):
        bad()


def test_backoff_shapes():
    assert [exponential(1, 2, 5)(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
    assert constant(0.5)(7) == 0.5


def test_invalid_attempts():
    with pytest.raises(ValueError):
        retry(max_attempts=0)
