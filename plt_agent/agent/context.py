"""Keeping a conversation inside the model's real context window, counted with its tokenizer.

Two rules, in this order:
1. every tool output is clipped when it enters the history (head + tail, with a marker
   saying how many lines were cut), to `observation_tokens` (a share of the window);
2. before each model call, if prompt + reply room would not fit the window, the OLDEST
   tool outputs are replaced by a one-line note, all at once and with headroom (down to
   `refill` of the window), so the prefix then stays byte-stable for several turns and a
   backend's KV cache keeps working. The system prompt, the task and the last outputs are
   never elided.

When even that is not enough, the reply room shrinks to `min_reply`, and below that
`fit` raises `ContextOverflow` with the numbers: nothing is ever cut silently.
This module knows nothing about tools or prompts beyond the message list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plt_agent.models.base import ContextOverflow, Model, text_tokens

ELIDED = "[older tool output elided to save context; run the tool again if you need it]"


@dataclass
class Fit:
    prompt_tokens: int
    reply_tokens: int
    elided: int  # observations elided by this call


class ContextBudget:
    def __init__(
        self,
        model: Model,
        *,
        tools: list[dict[str, Any]] | None = None,
        keep_last: int = 1,
        refill: float = 0.7,
        min_reply: int = 256,
        observation_share: float = 0.15,
    ) -> None:
        self.model = model
        self.window = model.context_window
        self.tools = tools
        self.keep_last = keep_last
        self.refill = refill
        self.min_reply = min(min_reply, self.window // 4)
        self.observation_tokens = max(200, min(6000, int(self.window * observation_share)))

    def clip(self, text: str, limit: int | None = None) -> str:
        """`text` cut to at most `limit` tokens (default: the observation limit), head and tail kept."""
        limit = limit or self.observation_tokens
        n = text_tokens(self.model, text)
        if n <= limit:
            return text
        keep_chars = int(len(text) * limit / n * 0.9)
        for _ in range(6):
            clipped = head_tail(text, keep_chars)
            if text_tokens(self.model, clipped) <= limit:
                return clipped
            keep_chars = int(keep_chars * 0.8)
        return head_tail(text, keep_chars)

    def fit(self, messages: list[dict[str, Any]], observations: list[int], reply_tokens: int) -> Fit:
        """Elide old observations in place until the prompt plus `reply_tokens` fits (see module doc)."""
        prompt = self.model.count_tokens(messages, self.tools)
        elided = 0
        if prompt + reply_tokens > self.window:
            target = int(self.window * self.refill) - reply_tokens
            candidates = [
                i
                for i in observations[: max(0, len(observations) - self.keep_last)]
                if messages[i]["content"] != ELIDED
            ]
            for index in candidates:
                messages[index]["content"] = ELIDED
                elided += 1
                prompt = self.model.count_tokens(messages, self.tools)
                if prompt <= target:
                    break
        room = self.window - prompt
        if room < self.min_reply:
            raise ContextOverflow(
                f"the conversation needs {prompt} tokens and at least {self.min_reply} more for the reply, "
                f"but the context window of {self.model.name} is {self.window} tokens "
                f"(after eliding {elided} old tool outputs)"
            )
        return Fit(prompt, min(reply_tokens, room), elided)


def head_tail(text: str, keep_chars: int) -> str:
    """Two thirds of `keep_chars` from the start, one third from the end, cut at line ends."""
    if len(text) <= keep_chars:
        return text
    head = text[: keep_chars * 2 // 3]
    tail = text[len(text) - keep_chars // 3 :]
    if "\n" in head:
        head = head[: head.rfind("\n") + 1]
    if "\n" in tail:
        tail = tail[tail.find("\n") + 1 :]
    cut = text[len(head) : len(text) - len(tail)]
    marker = f"[... {cut.count(chr(10)) + 1} lines ({len(cut)} characters) cut from the middle ...]\n"
    return head + marker + tail
