import pytest

from heapq_lite import EmptyQueue, PriorityQueue
from heapq_lite.runner import run_all


def test_lowest_priority_first():
    q = PriorityQueue()
    q.push("low", 5)
    q.push("high", 1)
    assert q.peek() == "high"
    assert q.pop() == "high"
    assert q.pop() == "low"


def test_empty():
    with pytest.raises(EmptyQueue):
        PriorityQueue().pop()


def test_run_all_orders_by_priority():
    assert run_all([(3, "c"), (1, "a"), (2, "b")], str.upper) == ["A", "B", "C"]
