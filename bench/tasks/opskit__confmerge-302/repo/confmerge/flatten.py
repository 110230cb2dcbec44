def flatten(mapping, sep=".", prefix=""):
    """{'a': {'b': 1}} -> {'a.b': 1}"""
    out = {}
    for key, value in mapping.items():
        name = f"{prefix}{sep}{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(flatten(value, sep, name))
        else:
            out[name] = value
    return out


def unflatten(flat, sep="."):
    out = {}
    for name, value in flat.items():
        node = out
        *parents, leaf = name.split(sep)
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out
