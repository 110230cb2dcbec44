import operator

from .parser import parse

_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "**": operator.pow}


def _eval(node, names):
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "name":
        return names[node[1]]
    if kind == "neg":
        return -_eval(node[1], names)
    return _OPS[kind](_eval(node[1], names), _eval(node[2], names))


def evaluate(text, **names):
    return _eval(parse(text), names)
