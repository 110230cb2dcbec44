def _split(path):
    return [p for p in path.split(".") if p != ""]


def get(data, path, default=None):
    cur = data
    for part in _split(path):
        try:
            cur = cur[part]
        except (KeyError, IndexError, TypeError):
            return default
    return cur


def set_path(data, path, value):
    parts = _split(path)
    cur = data
    for part in parts[:-1]:
        cur = cur[int(part)] if isinstance(cur, list) else cur.setdefault(part, {})
    last = parts[-1]
    if isinstance(cur, list):
        cur[int(last)] = value
    else:
        cur[last] = value
    return data
