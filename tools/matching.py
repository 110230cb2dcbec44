"""The edit ladder: find where `old` is in a file, ever more tolerantly, and never guess.

Each rung is a small pure function `(content, old, new) -> list[Span]`: every place it
matches and the text that replaces it there. `locate` climbs the rungs and stops at the
first that matches at all; the caller refuses when that rung matched more than once.

1. exact: `old` as a substring.
2. trailing whitespace ignored: whole lines, compared with trailing blanks stripped.
3. uniform re-indentation: whole lines that match after adding (or removing) one constant
   indent prefix; the same prefix is applied to `new`.
4. Unicode punctuation normalised: rungs 1-3 again with curly quotes, dashes and odd spaces
   mapped to ASCII in both the file and `old` (the mapping keeps lengths, so offsets hold).

`new` is never rewritten except for the indent shift of rung 3 and the blank lines that
frame `old` in the line rungs. `closest_lines` finds the real lines nearest to a failed
`old`. All text uses "\n" newlines; callers convert CRLF files before and after.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    start: int  # offset in content
    end: int
    replacement: str


Rung = Callable[[str, str, str], list[Span]]

_PUNCTUATION = {
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u00b4", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
    **dict.fromkeys("\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000", " "),
}
_PUNCTUATION_TABLE = str.maketrans(_PUNCTUATION)


def normalise_punctuation(text: str) -> str:
    """Curly quotes, dashes and non-breaking/odd spaces -> ASCII, one char for one char."""
    return text.translate(_PUNCTUATION_TABLE)


def exact(content: str, old: str, new: str) -> list[Span]:
    spans, at = [], content.find(old)
    while old and at != -1:
        spans.append(Span(at, at + len(old), new))
        at = content.find(old, at + len(old))
    return spans


def trailing_whitespace_ignored(content: str, old: str, new: str) -> list[Span]:
    return _line_rung(content, old, new, _same_rstripped)


def reindented(content: str, old: str, new: str) -> list[Span]:
    return _line_rung(content, old, new, _indent_shift)


def punctuation_normalised(content: str, old: str, new: str) -> list[Span]:
    plain_content, plain_old = normalise_punctuation(content), normalise_punctuation(old)
    if plain_content == content and plain_old == old:
        return []  # nothing to normalise: rungs 1-3 already said no
    for rung in (exact, trailing_whitespace_ignored, reindented):
        spans = rung(plain_content, plain_old, new)
        if spans:
            return spans
    return []


RUNGS: list[tuple[str, Rung]] = [
    ("exact", exact),
    ("trailing whitespace ignored", trailing_whitespace_ignored),
    ("re-indented", reindented),
    ("Unicode punctuation normalised", punctuation_normalised),
]


def locate(content: str, old: str, new: str) -> tuple[str, list[Span]]:
    """The first rung that matches and all its spans; ("", []) when none does."""
    for name, rung in RUNGS:
        spans = rung(content, old, new)
        if spans:
            return name, spans
    return "", []


# ---- line rungs ------------------------------------------------------------------------

# A line matcher compares the file's window with old's lines and returns a function that
# turns new's lines into the replacement lines, or None when the window does not match.
LineMatcher = Callable[[list[str], list[str]], Callable[[list[str]], list[str]] | None]


def _line_rung(content: str, old: str, new: str, match: LineMatcher) -> list[Span]:
    old_lines, new_lines = _frame(old, new)
    if not old_lines:
        return []
    lines = content.split("\n")
    starts = _line_starts(lines)
    spans = []
    for i in range(len(lines) - len(old_lines) + 1):
        shift = match(lines[i : i + len(old_lines)], old_lines)
        if shift is None:
            continue
        j = i + len(old_lines) - 1
        start, end = starts[i], starts[j] + len(lines[j])
        replacement = "\n".join(shift(new_lines))
        if not new_lines and end < len(content):
            end += 1  # deleting whole lines takes their newline too
        spans.append(Span(start, end, replacement))
    return spans


def _frame(old: str, new: str) -> tuple[list[str], list[str]]:
    """Old and new as lines, without old's framing blank lines (and new's matching ones)."""
    old_lines, new_lines = _split_block(old), _split_block(new)
    while old_lines and not old_lines[0].strip():
        old_lines.pop(0)
        if new_lines and not new_lines[0].strip():
            new_lines.pop(0)
    while old_lines and not old_lines[-1].strip():
        old_lines.pop()
        if new_lines and not new_lines[-1].strip():
            new_lines.pop()
    return old_lines, new_lines


def _split_block(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _line_starts(lines: list[str]) -> list[int]:
    starts, at = [], 0
    for line in lines:
        starts.append(at)
        at += len(line) + 1
    return starts


def _same_rstripped(window: list[str], old: list[str]) -> Callable[[list[str]], list[str]] | None:
    if all(w.rstrip() == o.rstrip() for w, o in zip(window, old, strict=True)):
        return lambda new: new
    return None


def _indent_shift(window: list[str], old: list[str]) -> Callable[[list[str]], list[str]] | None:
    pair = next(((w, o) for w, o in zip(window, old, strict=True) if w.strip() and o.strip()), None)
    if pair is None:
        return None
    w_indent, o_indent = _indent(pair[0]), _indent(pair[1])
    if w_indent.endswith(o_indent) and len(w_indent) > len(o_indent):
        prefix = w_indent[: len(w_indent) - len(o_indent)]
        ok = all(
            _blank_pair(w, o) or w.rstrip() == prefix + o.rstrip() for w, o in zip(window, old, strict=True)
        )
        return (lambda new: [prefix + n if n.strip() else n for n in new]) if ok else None
    if o_indent.endswith(w_indent) and len(o_indent) > len(w_indent):
        prefix = o_indent[: len(o_indent) - len(w_indent)]
        ok = all(
            _blank_pair(w, o) or o.rstrip() == prefix + w.rstrip() for w, o in zip(window, old, strict=True)
        )
        return (lambda new: [_dedent(n, prefix) for n in new]) if ok else None
    return None


def _blank_pair(w: str, o: str) -> bool:
    return not w.strip() and not o.strip()


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _dedent(line: str, prefix: str) -> str:
    if line.startswith(prefix):
        return line[len(prefix) :]
    indent = _indent(line)
    return line[min(len(indent), len(prefix)) :]


# ---- feedback --------------------------------------------------------------------------


def line_of(content: str, offset: int) -> int:
    """1-based line number of a character offset."""
    return content.count("\n", 0, offset) + 1


def closest_lines(content: str, old: str, *, max_lines: int = 20000) -> tuple[int, list[str]] | None:
    """The window of real lines most similar to `old`: (1-based first line, lines), or None."""
    old_lines = [line for line in _split_block(old) if line.strip()] or _split_block(old)
    lines = content.split("\n")[:max_lines]
    if not old_lines or not lines:
        return None
    size = min(len(old_lines), len(lines))
    target = "\n".join(line.strip() for line in old_lines)
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(target)
    best, best_at = 0.0, 0
    for i in range(len(lines) - size + 1):
        matcher.set_seq1("\n".join(line.strip() for line in lines[i : i + size]))
        if matcher.real_quick_ratio() > best and matcher.quick_ratio() > best:
            ratio = matcher.ratio()
            if ratio > best:
                best, best_at = ratio, i
    if best < 0.3:
        return None
    return best_at + 1, lines[best_at : best_at + size]
