"""The built-in filters: each takes a string and returns a string."""


def upper(text):
    return text.upper()


def lower(text):
    return text.lower()


def title(text):
    return " ".join(word.capitalize() for word in text.split(" "))


def trim(text):
    return text.strip()
