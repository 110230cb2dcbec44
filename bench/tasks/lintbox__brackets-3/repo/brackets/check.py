from .pairs import CLOSE, OPEN


def first_error(text):
    """Index of the first bracket that breaks the nesting, or None when balanced."""
    stack = []
    for i, ch in enumerate(text):
        if ch in OPEN:
            stack.append((ch, i))
        elif ch in CLOSE:
            if not stack or stack[-1][0] != CLOSE[ch]:
                return i
            stack.pop()
    return None


def is_balanced(text):
    return first_error(text) is None
