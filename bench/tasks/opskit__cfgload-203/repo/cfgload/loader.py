"""Merge the layers and convert environment strings to the defaults' types."""

import os

from .sources import read_env, read_json


def _coerce(key, raw, default):
    if isinstance(default, bool):
        return bool(raw)
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def load(defaults, path=None, prefix="APP_", environ=None):
    settings = dict(defaults)
    settings.update(read_json(path))
    env = read_env(os.environ if environ is None else environ, prefix)
    for key, raw in env.items():
        if key in defaults:
            settings[key] = _coerce(key, raw, defaults[key])
    return settings
