"""cfgload: layered settings from defaults, a JSON file and the environment."""

from .loader import load

__all__ = ["load"]
