"""Cutting a streamed reply short: when it is complete, when it rambles, when it loops.

Small local models often write a good action and then keep going, write paragraphs of
prose instead of an action, or repeat the same lines until the token limit; at a few dozen
tokens per second on a CPU that costs most of a minute per step. `ReplyWatch` sees the reply
as it streams (`feed`) and answers the backend's `should_stop` (`done`) with one of:

- "complete": the reply holds what was asked for (`complete(text)` says so: one action for
  the text protocol, one closed fenced block for the whole-file strategy);
- "rambling": more than `prose_chars` characters and still no sign of the asked form
  (`opener`: e.g. `<function` or a code fence);
- "repeating": the reply loops. Two checks: the last lines are the same block of 1-6 lines
  three times over (`repeats_at_end`), or, whatever the line breaks, the end of the text
  repeats one unit at least three times over at least LOOP_CHARS characters (`loop_at_end`;
  whitespace runs count as one space, so a sentence repeated inside one paragraph is a loop;
  a short unit needs more copies; a unit repeated with only its numbers changing, a counter
  going up, needs COUNTER_LOOP_CHARS). A repetition that is already in `source` (the file a
  whole-file answer copies) is not a loop;
- "cancelled": the user's own `should_stop` said so.

`reason` tells which ('' while none); `interrupted(reply)` whether the user ended the reply
(a cut for any other reason is not an interrupt); `kept()` is the reply as the conversation
should remember it (a loop kept once, not three times: the model should not see its own
loop as an example to follow).
This module knows nothing about tools or files.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from plt_agent.models.base import Reply

MAX_PERIOD = 6  # longest repeated block, in lines
REPEATS = 3  # how many copies in a row make a loop
MIN_LOOP_CHARS = 24  # a repeated block shorter than this may be legitimate (`pass`, `}`)
LOOP_CHARS = 200  # characters one unit must fill, repeated, to be called a loop
COUNTER_LOOP_CHARS = 400  # the same when only numbers differ (a counter going up): more needed
MAX_UNIT = 600  # longest repeated unit looked for, in characters
TAIL_CHARS = 2 * COUNTER_LOOP_CHARS + MAX_UNIT  # how much of the reply's end `loop_at_end` reads
_SPACES = re.compile(r"\s+")
_RUNS = re.compile(r"\s+|\d+")


class ReplyWatch:
    def __init__(
        self,
        forward: Callable[[str], None] | None = None,
        *,
        complete: Callable[[str], bool] | None = None,
        opener: re.Pattern[str] | None = None,
        prose_chars: int | None = None,
        user_stop: Callable[[], bool] | None = None,
        source: str | None = None,
    ) -> None:
        self.forward = forward
        self.complete = complete
        self.opener = opener
        self.prose_chars = prose_chars
        self.user_stop = user_stop
        self.source = (normalize(source, digits=False), normalize(source)) if source else ()
        self.text = ""
        self.reason = ""
        self._checked_lines = 0
        self._checked_chars = 0

    def feed(self, chunk: str) -> None:
        self.text += chunk
        if self.forward:
            self.forward(chunk)

    def done(self) -> bool:
        """True when the reply should end now (see `reason`)."""
        if self.reason:
            return True
        if self.user_stop and self.user_stop():
            self.reason = "cancelled"
        elif self.complete and self.complete(self.text):
            self.reason = "complete"
        elif self._rambling():
            self.reason = "rambling"
        elif self._repeating():
            self.reason = "repeating"
        return bool(self.reason)

    def _rambling(self) -> bool:
        if self.prose_chars is None or len(self.text) <= self.prose_chars:
            return False
        return self.opener is None or self.opener.search(self.text) is None

    def _repeating(self) -> bool:
        n_lines = self.text.count("\n")
        if n_lines != self._checked_lines:  # the line check: only when a line was finished
            self._checked_lines = n_lines
            if repeats_at_end(self.text):
                return True
        if len(self.text) - self._checked_chars < 16:  # the unit check: every few characters
            return False
        self._checked_chars = len(self.text)
        unit = loop_at_end(self.text)
        return bool(unit) and not any(unit * REPEATS in copy for copy in self.source)

    def kept(self) -> str:
        """The reply to remember: a looping reply with its loop kept once."""
        if self.reason != "repeating":
            return self.text
        return trim_loop(self.text)

    def interrupted(self, reply: Reply) -> bool:
        """Whether the user (not the watch) ended `reply`: a cut for any other reason is no cancel."""
        return self.reason == "cancelled" or (reply.finish_reason == "cancelled" and not self.reason)

    def describe(self) -> str:
        """A short note on why the reply was cut ('' when it was not cut by the watch)."""
        return {
            "rambling": f"the reply was cut after {len(self.text)} characters without the asked form",
            "repeating": "the reply was cut: it repeated the same lines",
        }.get(self.reason, "")


def repeats_at_end(text: str) -> bool:
    """Whether the finished lines of `text` end with one block of lines repeated REPEATS times."""
    lines = [ln.strip() for ln in text.split("\n")[:-1] if ln.strip()]
    for period in range(1, MAX_PERIOD + 1):
        if len(lines) < period * REPEATS:
            break
        block = lines[-period:]
        if sum(len(ln) for ln in block) < MIN_LOOP_CHARS or _periodic(block):
            continue  # too short to call a loop, or a shorter period already judged it
        if all(lines[-period * (k + 1) : len(lines) - period * k] == block for k in range(1, REPEATS)):
            return True
    return False


def normalize(text: str, digits: bool = True) -> str:
    """Whitespace runs as one space (and, with `digits`, digit runs as one `0`)."""
    if not digits:
        return _SPACES.sub(" ", text)
    return _RUNS.sub(lambda m: " " if m.group(0)[0].isspace() else "0", text)


def loop_at_end(text: str) -> str:
    """The unit the end of `text` repeats (normalized), or '' when it does not loop.

    Exact repeats (whitespace aside) must fill LOOP_CHARS, repeats where only numbers differ
    COUNTER_LOOP_CHARS, both at least REPEATS copies; the end need not fall on a unit boundary."""
    return _find_loop(text)[0]


def _find_loop(text: str) -> tuple[str, bool]:
    """(unit, whether digits were normalized to find it); ('', False) when none."""
    tail = text[-TAIL_CHARS:]
    exact = _periodic_end(normalize(tail, digits=False), LOOP_CHARS)
    if exact:
        return exact, False
    counter = _periodic_end(normalize(tail), COUNTER_LOOP_CHARS)
    return counter, bool(counter)


def _periodic_end(tail: str, min_span: int) -> str:
    """The unit whose copies fill the last max(REPEATS copies, `min_span`) characters, or ''."""
    n = len(tail)
    for period in range(1, min(MAX_UNIT, n // REPEATS) + 1):
        span = max(period * REPEATS, min_span)
        if span > n:
            break
        if tail[n - span + period :] == tail[n - span : n - period]:
            return tail[n - period :]
    return ""


def trim_loop(text: str) -> str:
    """`text` up to the end of the first copy of the loop it ends with (unchanged if none)."""
    unit, digits = _find_loop(text)
    if not unit:
        return "\n".join(_drop_repeated_lines(text.split("\n"))) if repeats_at_end(text) else text
    period = len(unit)
    norm, positions = _normalize_with_positions(text, digits)
    start = len(norm) - period  # where the periodic end begins: walk back while the period holds
    while start > 0 and norm[start - 1] == norm[start - 1 + period]:
        start -= 1
    end = _copy_end(text, norm, positions, start + period, period)  # one copy kept
    return text[: positions[end]].rstrip() if end < len(norm) else text


def _copy_end(text: str, norm: str, positions: list[int], first: int, period: int) -> int:
    """Where the first copy of the loop ends, at a line start or after a sentence if there is
    one within a period of `first` (the loop's own phase is not known), else `first`."""
    window = range(first, min(first + period, len(norm)))
    for k in window:
        if text[positions[k] - 1] == "\n":
            return k
    for k in window:
        if norm[k - 1] == " " and norm[k - 2] in ".!?;:":
            return k
    return first


def _normalize_with_positions(text: str, digits: bool) -> tuple[str, list[int]]:
    """`normalize(text, digits)` and, for each of its characters, where it starts in `text`."""
    out: list[str] = []
    positions: list[int] = []
    last = 0
    for match in (_RUNS if digits else _SPACES).finditer(text):
        for i in range(last, match.start()):
            out.append(text[i])
            positions.append(i)
        out.append(" " if match.group(0)[0].isspace() else "0")
        positions.append(match.start())
        last = match.end()
    for i in range(last, len(text)):
        out.append(text[i])
        positions.append(i)
    return "".join(out), positions


def _drop_repeated_lines(lines: list[str]) -> list[str]:
    """The finished lines with the repeated block at their end kept once."""
    body, partial = lines[:-1], lines[-1:]
    for period in range(1, MAX_PERIOD + 1):
        block = body[-period:]
        count = 1
        while body[len(body) - period * (count + 1) : len(body) - period * count] == block and block:
            count += 1
        if count >= REPEATS:
            return body[: len(body) - period * (count - 1)]
    return body + partial


def _periodic(block: list[str]) -> bool:
    """Whether `block` is itself copies of a shorter block."""
    n = len(block)
    return any(n % q == 0 and block == block[:q] * (n // q) for q in range(1, n))
