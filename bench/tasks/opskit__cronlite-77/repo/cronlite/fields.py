"""Parse one cron field into the set of values it allows."""


class CronError(ValueError):
    pass


def parse_field(text, lo, hi):
    """'*', 'a', 'a-b', 'a,b,c', '*/n' and combinations with commas; bounds inclusive."""
    values = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part == "*":
            start, end = lo, hi
            values.update(range(start, end + 1, step))
            continue
        if "-" in part:
            a, b = (int(x) for x in part.split("-", 1))
            values.update(range(a, b, step))
        else:
            values.add(int(part))
    bad = [v for v in values if not lo <= v <= hi]
    if bad:
        raise CronError(f"value {bad[0]} out of range {lo}-{hi} in {text!r}")
    return values
