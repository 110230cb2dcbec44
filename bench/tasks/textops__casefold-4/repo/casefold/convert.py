from .words import split_words


def to_snake(name):
    return "_".join(split_words(name))


def to_kebab(name):
    return "-".join(split_words(name))


def to_camel(name):
    words = split_words(name)
    if not words:
        return ""
    return words[0] + "".join(w.capitalize() for w in words[1:])
