"""Text from files, models and users, made safe to print on a terminal through rich.

Names, paths, messages and model output can hold anything. `printable(text)` writes control
characters as escapes (`\\x1b`, `\\n`), so nothing drives the terminal, and clips very long
text in the middle; `literal(text)` also escapes rich markup, so `[/bold]` in a file name
prints as itself instead of being read as a tag (or crashing rich with a MarkupError). Use
`literal` for every such string inside a markup f-string or a rich table cell.
"""

from __future__ import annotations

from rich.markup import escape

from engine.errors import clip, escape_controls

MAX_LINE = 900  # characters of one printed value or message


def printable(text: object, limit: int = MAX_LINE, *, lines: bool = False) -> str:
    """`text` with control characters escaped and cut to about `limit` characters.

    `lines=True` keeps newlines and tabs (text meant to span lines, such as help or a diff).
    """
    return clip(escape_controls(str(text), "\n\t" if lines else ""), limit)


def literal(text: object, limit: int = MAX_LINE, *, lines: bool = False) -> str:
    """`printable(text)` with rich markup escaped: safe inside a markup string."""
    return escape(printable(text, limit, lines=lines))


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """`1 prompt token`, `2 prompt tokens`, `1,298 prompt tokens` (thousands separated)."""
    return f"{n:,} {noun if n == 1 else (nouns or noun + 's')}"
