"""envfile: read .env files into dictionaries."""

from .load import load_env, parse_env

__all__ = ["load_env", "parse_env"]
