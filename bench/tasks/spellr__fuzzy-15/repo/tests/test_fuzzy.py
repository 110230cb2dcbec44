from fuzzy.distance import distance
from fuzzy.suggest import suggest


def test_substitution_only():
    assert distance("cat", "cut") == 1
    assert distance("same", "same") == 0


def test_limit_and_order():
    assert suggest("ab", ["ab", "abc", "zz"], max_distance=1) == ["ab", "abc"]
