"""mdtable: render rows as a GitHub-flavoured markdown table."""

from .render import render

__all__ = ["render"]
