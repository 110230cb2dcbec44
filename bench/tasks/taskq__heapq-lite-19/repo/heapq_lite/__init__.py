"""heapq-lite: a small priority queue and a job runner built on it."""

from .queue import EmptyQueue, PriorityQueue

__all__ = ["EmptyQueue", "PriorityQueue"]
