from datetime import timedelta

from .fields import CronError, parse_field


def parse(expr):
    parts = expr.split()
    if len(parts) != 3:
        raise CronError(f"expected 'minute hour weekday', got {expr!r}")
    return (parse_field(parts[0], 0, 59), parse_field(parts[1], 0, 23), parse_field(parts[2], 0, 6))


def next_run(expr, after):
    """The first minute strictly after `after` that matches `expr`."""
    minutes, hours, weekdays = parse(expr)
    t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(8 * 24 * 60):
        if t.minute in minutes and t.hour in hours and t.weekday() in weekdays:
            return t
        t += timedelta(minutes=1)
    raise CronError(f"{expr!r} never matches")
