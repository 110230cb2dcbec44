import pytest

from pager.errors import PageOutOfRange
from pager.listing import paginate


def test_exact_multiple():
    p = paginate(list(range(20)), page=2, per_page=10)
    assert p.items == list(range(10, 20))
    assert p.pages == 2
    assert not p.has_next and p.has_prev


def test_empty_listing_has_one_page():
    p = paginate([], page=1, per_page=10)
    assert p.items == [] and p.pages == 1


def test_out_of_range():
    with pytest.raises(PageOutOfRange):
        paginate(list(range(5)), page=0, per_page=10)
