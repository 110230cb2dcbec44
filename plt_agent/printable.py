"""Text from outside (paths, error messages, model output) made safe to print with rich.

`plain(text)` removes terminal control sequences and characters (escape sequences, carriage
returns, bells, backspaces...) that could rewrite the screen or hide what is printed; it keeps
newlines and tabs. `markup_safe(text)` is `plain` plus rich markup escaping, so a `[/x]` or
`[red]` in a file name or an error message prints as itself instead of raising MarkupError or
restyling the line. Use it for every piece of outside text in a string printed with markup,
and print with `emoji=False`: rich would turn a `:1234:` (as in `ggml.c:1234:`) into an emoji,
and no escape prevents that.
"""

from __future__ import annotations

import re

from rich.markup import escape

_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, clears
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: titles, hyperlinks
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC strings
    r"|\x1b[@-Z\\-_]?"  # any other escape (and a lone ESC)
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(text: object) -> str:
    """`text` as a string without terminal control sequences or characters (newlines and tabs stay)."""
    value = str(text).replace("\r\n", "\n")
    return _CONTROLS.sub("", _ESCAPES.sub("", value))


def markup_safe(text: object) -> str:
    """`plain(text)` with rich markup escaped: prints as itself inside a markup string."""
    return escape(plain(text))
