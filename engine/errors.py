"""The engine's one exception family, and how text from a file appears in its messages.

Messages name the file, key or tensor at fault. Those names and values come from files that
may be hostile, so every EngineError message is made safe when it is raised: control
characters (ESC, newlines, bidi overrides, lone surrogates) are shown escaped, never sent to
a terminal raw, and the message is cut in the middle to at most MAX_MESSAGE characters.
`shown(value)` quotes one value from a file, briefly, for use inside a message; `brief(name)`
does the same for a name, without quotes.
"""

from __future__ import annotations

import re

MAX_MESSAGE = 600  # characters of one error message
MAX_SHOWN = 60  # characters of one quoted value inside a message

# C0 and C1 controls, DEL, line/paragraph separators, bidi embeddings/overrides/isolates, and
# lone surrogates (undecodable bytes kept by surrogateescape; a UTF-8 terminal cannot print them).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str, keep: str = "") -> str:
    """`text` with every control character but those in `keep` written as an escape (`\\x1b`,
    `\\n`, `\\u202e`)."""
    if keep:
        return _CONTROL.sub(lambda m: m.group() if m.group() in keep else _escape(m), text)
    return _CONTROL.sub(_escape, text)


def clip(text: str, limit: int) -> str:
    """`text` cut in the middle to about `limit` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    keep = max(limit - 40, 20)
    head, tail = keep * 2 // 3, keep - keep * 2 // 3
    return f"{text[:head]}...[{len(text) - head - tail:,} characters cut]...{text[len(text) - tail :]}"


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """A message that is safe to print: one line, no raw control characters, bounded."""
    return clip(escape_controls(text), limit)


def brief(name: object, limit: int = 2 * MAX_SHOWN) -> str:
    """A name from a file (tensor, key) inside a message: unquoted, escaped and short."""
    return clip(escape_controls(str(name)), limit)


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """A value from a file as it appears inside a message: repr-quoted, escaped and short."""
    return clip(escape_controls(repr(value)), limit)


class EngineError(Exception):
    """Any problem the engine reports to its caller (bad file, bad input, ggml mismatch)."""

    def __init__(self, message: object = "") -> None:
        super().__init__(one_line(str(message)))
