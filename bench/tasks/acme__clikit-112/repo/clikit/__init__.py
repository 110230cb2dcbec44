"""clikit: a tiny declarative command-line option parser."""

from .errors import ParseError
from .parser import Option, Parser

__all__ = ["Option", "ParseError", "Parser"]
