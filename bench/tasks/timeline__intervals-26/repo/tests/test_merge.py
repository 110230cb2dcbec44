import pytest

from intervals import Interval, merge, total_length


def test_overlap():
    assert merge([(3, 5), (1, 4)]) == [Interval(1, 5)]


def test_disjoint_sorted():
    assert merge([(7, 8), (1, 2)]) == [Interval(1, 2), Interval(7, 8)]


def test_contained():
    assert merge([(1, 10), (2, 3)]) == [Interval(1, 10)]


def test_bad_interval():
    with pytest.raises(ValueError):
        merge([(5, 1)])


def test_total_length_overlapping():
    assert total_length([(0, 2), (1, 3)]) == 3
