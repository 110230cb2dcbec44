"""iniread: a minimal INI reader."""

from .reader import IniError, read_ini

__all__ = ["IniError", "read_ini"]
