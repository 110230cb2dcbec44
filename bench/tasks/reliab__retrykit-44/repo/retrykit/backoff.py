def exponential(base=0.1, factor=2.0, cap=10.0):
    """Delay before attempt n+1 after n failures: base * factor**(n-1), capped."""

    def delay(failures):
        return min(cap, base * factor ** (failures - 1))

    return delay


def constant(seconds):
    return lambda failures: seconds
