from .queue import PriorityQueue


def run_all(jobs, handler):
    """Run (priority, job) pairs through `handler` in queue order; return the results."""
    q = PriorityQueue()
    for priority, job in jobs:
        q.push(job, priority)
    results = []
    while len(q):
        results.append(handler(q.pop()))
    return results
