from mathlib import add, mean, multiply


def test_add():
    assert add(2, 3) == 5


def test_multiply():
    assert multiply(4, 5) == 20


def test_mean():
    assert mean([1, 2, 3, 4]) == 2.5
