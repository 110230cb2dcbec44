class EnvSyntaxError(ValueError):
    pass


def parse_line(line, lineno=0):
    """Return (key, value) for one line, or None for blank and comment lines."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    if text.startswith("export "):
        text = text[len("export ") :].lstrip()
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise EnvSyntaxError(f"line {lineno}: expected KEY=value")
    value = value.strip()
    if " #" in value:
        value = value.split(" #", 1)[0].rstrip()
    return key.strip(), value
