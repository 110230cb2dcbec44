import re

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z]|\d|\b|_)|[A-Z]?[a-z]+|[A-Z]+|\d+")


def split_words(name):
    """Split an identifier in any common style into lower-case words."""
    return [w.lower() for w in _WORD.findall(name)]
