from .line import parse_line


def parse_env(text):
    out = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        pair = parse_line(line, lineno)
        if pair:
            out[pair[0]] = pair[1]
    return out


def load_env(path):
    with open(path, encoding="utf-8") as fh:
        return parse_env(fh.read())
