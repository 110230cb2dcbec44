from .version import parse

_OPS = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
}


def satisfies(version, constraint):
    """`constraint` is a comma-separated list like '>=1.2,<2'."""
    key = parse(version)
    for clause in constraint.split(","):
        clause = clause.strip()
        op = next(o for o in (">=", "<=", "==", ">", "<") if clause.startswith(o))
        if not _OPS[op](key, parse(clause[len(op) :])):
            return False
    return True
