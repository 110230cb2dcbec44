from histo.bins import edges, histogram
from histo.render import bar_chart


def test_edges():
    assert edges(0, 10, 5) == [0, 2, 4, 6, 8, 10]


def test_interior_values():
    assert histogram([0.5, 1.5, 1.6, 2.5], bins=3, lo=0, hi=3) == [1, 2, 1]


def test_out_of_range_ignored():
    assert histogram([-1, 0.5, 7], bins=2, lo=0, hi=2) == [1, 0]


def test_constant_values():
    assert histogram([4, 4, 4], bins=3) == [3, 0, 0]


def test_bar_chart_shape():
    assert bar_chart([1, 1, 9], bins=2, width=4).splitlines()[0] == "####"
