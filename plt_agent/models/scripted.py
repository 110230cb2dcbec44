"""`scripted:FILE.jsonl` — a model that replays recorded replies, for tests, demos and replays.

Each non-blank line is a JSON object. A reply line is `{"content": "...", "tool_calls": [...]}`
(`tool_calls` optional, OpenAI form or `{"name", "arguments"}`). Agent trajectories are
accepted too: their `{"type": "reply", ...}` lines are the replies and the `start` line says
which action format and context window the run used, so `--replay` drives the loop exactly as
the original did.

Replies go through the same code as a real model's: stop strings cut the content, tool calls
are parsed by `models.wire`, and the agent parses the text with its own action parser. When
the script runs out, `complete` raises `ScriptExhausted`. Token counts are the deterministic
estimate from `models.wire.approx_tokens`; the context window is an option (else the
trajectory's, else 8192).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from plt_agent.models.base import ModelBase, ModelError, Reply, Request, Usage
from plt_agent.models.wire import approx_message_tokens, approx_tokens, cut_at_stop, parse_tool_calls


class ScriptExhausted(ModelError):
    """The scripted model has no replies left."""


class ScriptedModel(ModelBase):
    def __init__(
        self,
        replies: list[dict[str, Any]],
        *,
        name: str = "scripted",
        context_window: int = 8192,
        mode: str | None = None,
    ) -> None:
        self.name = name
        self.context_window = context_window
        self.mode = mode  # the action format a replayed trajectory used, if known
        self.replies = replies
        self.n_calls = 0
        self.supports_tools = mode == "tools" or any(r.get("tool_calls") for r in replies)

    @classmethod
    def from_file(cls, path: str | Path, *, context_window: int | None = None) -> ScriptedModel:
        path = Path(path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ModelError(f"scripted model: cannot read {path}: {exc.strerror}") from None
        replies, start = _read_lines(lines, path)
        window = context_window or start.get("context_window") or 8192
        return cls(replies, name=f"scripted:{path}", context_window=int(window), mode=start.get("mode"))

    def answer(self, messages: list[dict[str, Any]], request: Request) -> Reply:
        if self.n_calls >= len(self.replies):
            raise ScriptExhausted(f"{self.name}: ran out of replies after {len(self.replies)}")
        started = time.perf_counter()
        raw = self.replies[self.n_calls]
        self.n_calls += 1
        content, stopped = cut_at_stop(str(raw.get("content") or ""), request.stop)
        if request.on_text and content:
            request.on_text(content)
        wanted = request.tools is not None or self.supports_tools
        calls = parse_tool_calls(raw.get("tool_calls")) if wanted else []
        usage = Usage(
            prompt_tokens=self.count_tokens(messages, request.tools),
            completion_tokens=approx_tokens(content),
            seconds=time.perf_counter() - started,
        )
        finish = "tool_calls" if calls else "stop"
        return Reply(content=content, tool_calls=calls, finish_reason=finish, usage=usage)

    def count_tokens(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> int:
        return approx_message_tokens(messages, tools)


def _read_lines(lines: list[str], path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The replies, and the trajectory's start event ({} for a plain script)."""
    replies: list[dict[str, Any]] = []
    start: dict[str, Any] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ModelError(f"{path}:{number}: not a JSON object ({exc.msg})") from None
        if not isinstance(item, dict):
            raise ModelError(f"{path}:{number}: expected a JSON object, got {type(item).__name__}")
        kind = item.get("type")
        if kind == "start":
            start = item
        elif kind == "reply" or (kind is None and ("content" in item or "tool_calls" in item)):
            replies.append({"content": item.get("content") or "", "tool_calls": item.get("tool_calls") or []})
        elif kind is None:
            raise ModelError(f'{path}:{number}: a reply needs "content" or "tool_calls"')
    return replies, start
