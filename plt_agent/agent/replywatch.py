"""Cutting a streamed reply short: when it is complete, when it rambles, when it loops.

Small local models often write a good action and then keep going, write paragraphs of
prose instead of an action, or repeat the same lines until the token limit; at a few dozen
tokens per second on a CPU that costs most of a minute per step. `ReplyWatch` sees the reply
as it streams (`feed`) and answers the backend's `should_stop` (`done`) with one of:

- "complete": the reply holds what was asked for (`complete(text)` says so: one action for
  the text protocol, one closed fenced block for the whole-file strategy);
- "rambling": more than `prose_chars` characters and still no sign of the asked form
  (`opener`: e.g. `<function` or a code fence);
- "repeating": the last lines are the same block of 1-6 lines three times over;
- "cancelled": the user's own `should_stop` said so.

`reason` tells which ('' while none); `interrupted(reply)` whether the user ended the reply
(a cut for any other reason is not an interrupt).
This module knows nothing about tools or files.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from plt_agent.models.base import Reply

MAX_PERIOD = 6  # longest repeated block, in lines
REPEATS = 3  # how many copies in a row make a loop
MIN_LOOP_CHARS = 24  # a repeated block shorter than this may be legitimate (`pass`, `}`)


class ReplyWatch:
    def __init__(
        self,
        forward: Callable[[str], None] | None = None,
        *,
        complete: Callable[[str], bool] | None = None,
        opener: re.Pattern[str] | None = None,
        prose_chars: int | None = None,
        user_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.forward = forward
        self.complete = complete
        self.opener = opener
        self.prose_chars = prose_chars
        self.user_stop = user_stop
        self.text = ""
        self.reason = ""
        self._checked_lines = 0

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
        if n_lines == self._checked_lines:  # only look again when a line was finished
            return False
        self._checked_lines = n_lines
        return repeats_at_end(self.text)

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


def _periodic(block: list[str]) -> bool:
    """Whether `block` is itself copies of a shorter block."""
    n = len(block)
    return any(n % q == 0 and block == block[:q] * (n // q) for q in range(1, n))
