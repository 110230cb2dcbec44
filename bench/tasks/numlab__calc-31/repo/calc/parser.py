"""Recursive-descent parser producing nested tuples."""

from .errors import CalcSyntaxError
from .lexer import tokenize


class _Parser:
    def __init__(self, tokens):
        self.tokens = tokens
        self.pos = 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self):
        tok = self.peek()
        self.pos += 1
        return tok

    def expr(self):
        node = self.term()
        while self.peek() and self.peek().text in "+-":
            node = (self.take().text, node, self.term())
        return node

    def term(self):
        node = self.power()
        while self.peek() and self.peek().text in ("*", "/"):
            node = (self.take().text, node, self.power())
        return node

    def power(self):
        node = self.atom()
        if self.peek() and self.peek().text == "**":
            self.take()
            return ("**", node, self.power())
        return node

    def atom(self):
        tok = self.take()
        if tok is None:
            raise CalcSyntaxError("unexpected end of expression")
        if tok.kind == "NUM":
            return ("num", float(tok.text) if "." in tok.text else int(tok.text))
        if tok.kind == "NAME":
            return ("name", tok.text)
        if tok.text == "(":
            node = self.expr()
            closing = self.take()
            if closing is None or closing.text != ")":
                raise CalcSyntaxError(f"missing ')' for '(' at {tok.pos}")
            return node
        if tok.text == "-":
            return ("neg", self.atom())
        raise CalcSyntaxError(f"unexpected {tok.text!r} at {tok.pos}")


def parse(text):
    p = _Parser(tokenize(text))
    node = p.expr()
    if p.peek() is not None:
        raise CalcSyntaxError(f"unexpected {p.peek().text!r} at {p.peek().pos}")
    return node
