"""Split an expression into NUM, NAME and OP tokens."""

from collections import namedtuple

from .errors import CalcSyntaxError

Token = namedtuple("Token", "kind text pos")

OPERATORS = ("**", "+", "-", "*", "/", "(", ")")


def tokenize(text):
    tokens = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch.isdigit():
            j = i
            while j < len(text) and text[j].isdigit():
                j += 1
            tokens.append(Token("NUM", text[i:j], i))
            i = j
            continue
        if ch.isalpha() or ch == "_":
            j = i
            while j < len(text) and (text[j].isalnum() or text[j] == "_"):
                j += 1
            tokens.append(Token("NAME", text[i:j], i))
            i = j
            continue
        for op in OPERATORS:
            if text.startswith(op, i):
                tokens.append(Token("OP", op, i))
                i += len(op)
                break
        else:
            raise CalcSyntaxError(f"unexpected character {ch!r} at {i}")
    return tokens
