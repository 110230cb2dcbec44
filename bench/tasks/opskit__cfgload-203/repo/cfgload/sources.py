import json
import os


def read_json(path):
    """Settings from a JSON object file; a missing file gives no settings."""
    if path is None or not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


def read_env(environ, prefix):
    """Settings from variables named PREFIX_KEY, keys lower-cased."""
    out = {}
    for name, value in environ.items():
        if name.startswith(prefix):
            out[name[len(prefix) :].lower()] = value
    return out
