"""Small text helpers shared by the tools: truncation, numbered windows, newline styles.

Pure functions on strings; nothing here reads files.
"""

from __future__ import annotations

import re

MAX_LINE_CHARS = 400
# C0/C1 controls, DEL, line separators, bidi overrides and lone surrogates: a name or path
# holding them is shown escaped, so a tool message never drives the user's terminal.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(text: object, limit: int = MAX_LINE_CHARS) -> str:
    """`text` (a path, a name) with control characters escaped (`\\x1b`), clipped to `limit`."""
    out = _CONTROL.sub(lambda m: repr(m.group())[1:-1], str(text))
    return out if len(out) <= limit else f"{out[:limit]}... [{len(out) - limit:,} more characters]"


def truncate_middle(text: str, limit: int) -> str:
    """Keep the head and tail of `text` within about `limit` chars, saying how much was cut."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n[... {cut:,} characters cut ...]\n{text[len(text) - tail :]}"


def clip_line(line: str, limit: int = MAX_LINE_CHARS) -> str:
    if len(line) <= limit:
        return line
    return f"{line[:limit]} [... {len(line) - limit:,} more characters]"


def numbered(lines: list[str], first: int) -> str:
    """Lines numbered from `first` (1-based), right-aligned numbers, long lines clipped."""
    width = len(str(first + len(lines) - 1)) if lines else 1
    return "\n".join(f"{n:>{width}}: {clip_line(line)}" for n, line in enumerate(lines, first))


def is_crlf(text: str) -> bool:
    """True when every line ending in `text` is CRLF (and there is at least one)."""
    n = text.count("\n")
    return n > 0 and text.count("\r\n") == n


def to_lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def to_newline_style(text: str, crlf: bool) -> str:
    text = to_lf(text)
    return text.replace("\n", "\r\n") if crlf else text


def window(text: str, first: int, last: int, *, context: int = 3) -> str:
    """Numbered lines first..last (1-based, inclusive) of `text` with `context` lines around."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lo = max(1, first - context)
    hi = min(len(lines), last + context)
    return numbered(lines[lo - 1 : hi], lo)
