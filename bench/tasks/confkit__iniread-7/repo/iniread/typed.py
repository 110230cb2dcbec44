from .reader import read_ini


def get_int(text, section, key, default=None):
    value = read_ini(text).get(section, {}).get(key.lower())
    return default if value is None else int(value)
