import heapq
import itertools


class EmptyQueue(Exception):
    pass


class PriorityQueue:
    def __init__(self):
        self._heap = []
        self._counter = itertools.count()

    def push(self, item, priority=0):
        heapq.heappush(self._heap, (priority, item))

    def pop(self):
        if not self._heap:
            raise EmptyQueue("pop from an empty queue")
        return heapq.heappop(self._heap)[-1]

    def peek(self):
        if not self._heap:
            raise EmptyQueue("peek at an empty queue")
        return self._heap[0][-1]

    def __len__(self):
        return len(self._heap)
