from datetime import timedelta

from .calendar import Calendar

_DEFAULT = Calendar()


def business_days_between(start, end, calendar=_DEFAULT):
    """Business days in [start, end)."""
    days = 0
    d = start
    while d < end:
        if calendar.is_business_day(d):
            days += 1
        d += timedelta(days=1)
    return days


def add_business_days(start, n, calendar=_DEFAULT):
    d = start
    while n > 0:
        d += timedelta(days=1)
        if calendar.is_business_day(d):
            n -= 1
    return d
