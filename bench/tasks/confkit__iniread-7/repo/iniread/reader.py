"""Parse INI text into {section: {key: value}}."""


class IniError(ValueError):
    pass


def _section_name(line, lineno):
    if not line.endswith("]"):
        raise IniError(f"line {lineno}: unterminated section header")
    name = line[1:-1].strip()
    if not name:
        raise IniError(f"line {lineno}: empty section name")
    return name


def read_ini(text):
    sections = {}
    current = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(_section_name(line, lineno), {})
            continue
        if "=" not in line:
            raise IniError(f"line {lineno}: expected 'key = value'")
        if current is None:
            raise IniError(f"line {lineno}: key outside of any section")
        key, value = line.split("=", 1)
        current[key.strip().lower()] = value.strip()
    return sections
