"""casefold: convert identifiers between snake_case, camelCase and kebab-case."""

from .convert import to_camel, to_kebab, to_snake

__all__ = ["to_camel", "to_kebab", "to_snake"]
