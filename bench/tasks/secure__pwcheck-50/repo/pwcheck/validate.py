import string

from .policy import DEFAULT_POLICY


def problems(password, policy=DEFAULT_POLICY):
    """Every rule `password` breaks, as messages; an empty list means it is acceptable."""
    found = []
    if len(password) < policy.min_length:
        found.append(f"must be at least {policy.min_length} characters")
    if policy.require_digit and not any(c.isdigit() for c in password):
        found.append("must contain a digit")
    if policy.require_upper and any(c.isupper() for c in password):
        found.append("must contain an uppercase letter")
    if policy.require_symbol and not any(c in string.punctuation for c in password):
        found.append("must contain a symbol")
    return found


def is_acceptable(password, policy=DEFAULT_POLICY):
    return not problems(password, policy)
