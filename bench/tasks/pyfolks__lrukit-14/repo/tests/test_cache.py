import pytest

from lrukit import LRUCache


def test_put_and_get():
    c = LRUCache(2)
    c.put("a", 1)
    assert c.get("a") == 1
    assert c.get("zz", "dflt") == "dflt"


def test_evicts_oldest_insert():
    c = LRUCache(2)
    c.put("a", 1)
    c.put("b", 2)
    c.put("c", 3)
    assert "a" not in c
    assert len(c) == 2


def test_put_refreshes():
    c = LRUCache(2)
    c.put("a", 1)
    c.put("b", 2)
    c.put("a", 10)
    c.put("c", 3)
    assert c.get("a") == 10
    assert "b" not in c


def test_stats():
    c = LRUCache(1)
    c.put("a", 1)
    c.get("a")
    c.get("b")
    assert c.stats.hit_rate == 0.5


def test_capacity_must_be_positive():
    with pytest.raises(ValueError):
        LRUCache(0)
