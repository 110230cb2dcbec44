"""dotget: read and write nested data with dotted paths."""

from .access import get, set_path

__all__ = ["get", "set_path"]
