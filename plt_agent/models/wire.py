"""Conversions every backend shares: OpenAI-style tool calls <-> `ToolCall`, stop strings,
and a tokenizer-free token estimate.

Knows nothing about any particular backend, prompts or the agent loop.
"""

from __future__ import annotations

import json
import re
from typing import Any

from plt_agent.models.base import ToolCall

_WORDISH = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def approx_tokens(text: str) -> int:
    """A deterministic estimate: words and punctuation marks, plus one per 4 chars of long words.

    Real BPE tokenizers split long identifiers; counting them by length keeps the estimate
    on the high side, which is the safe side for context budgeting.
    """
    count = 0
    for piece in _WORDISH.findall(text):
        count += 1 + len(piece) // 6
    return count + text.count("\n") // 2


def approx_message_tokens(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> int:
    """Estimate for a whole chat: per-message overhead + content + tool calls + tool schemas."""
    total = 2
    for message in messages:
        total += 4 + approx_tokens(str(message.get("content") or ""))
        for call in message.get("tool_calls") or []:
            total += 4 + approx_tokens(json.dumps(call))
    if tools:
        total += approx_tokens(json.dumps(tools))
    return total


def parse_arguments(raw: Any) -> tuple[dict[str, Any], str]:
    """Arguments of a tool call as a dict, and an error text ('' when fine).

    Accepts a dict, a JSON object string, or a JSON string wrapped in a code fence.
    """
    if isinstance(raw, dict):
        return raw, ""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}, ""
    if not isinstance(raw, str):
        return {}, f"arguments must be a JSON object, got {type(raw).__name__}"
    text = raw.strip()
    if text.startswith("```"):
        text = text.strip("`").split("\n", 1)[-1]
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return {}, f"arguments are not valid JSON ({exc.msg} at char {exc.pos}): {raw[:200]!r}"
    if not isinstance(value, dict):
        return {}, f"arguments must be a JSON object, got {type(value).__name__}"
    return value, ""


def parse_tool_call(raw: dict[str, Any], index: int = 0) -> ToolCall:
    """One tool call from OpenAI form ({"function": {"name", "arguments"}}) or plain {"name", "arguments"}."""
    body = raw.get("function") if isinstance(raw.get("function"), dict) else raw
    name = str(body.get("name") or "").strip()
    arguments, error = parse_arguments(body.get("arguments", body.get("parameters")))
    if not name:
        error = error or "the tool call has no function name"
    return ToolCall(name=name, arguments=arguments, id=str(raw.get("id") or f"call_{index}"), error=error)


def parse_tool_calls(raw: list[dict[str, Any]] | None) -> list[ToolCall]:
    return [parse_tool_call(item, i) for i, item in enumerate(raw or []) if isinstance(item, dict)]


def tool_call_to_wire(call: ToolCall) -> dict[str, Any]:
    """The assistant-message form of a call, as Chat Completions expects it back."""
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": json.dumps(call.arguments, ensure_ascii=False)},
    }


def cut_at_stop(text: str, stop: list[str] | None) -> tuple[str, bool]:
    """Text up to the earliest stop string (excluded), and whether one was found."""
    cut = len(text)
    for s in stop or ():
        pos = text.find(s) if s else -1
        if 0 <= pos < cut:
            cut = pos
    return text[:cut], cut < len(text)


def tools_for_wire(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Tool schemas in Chat Completions form; accepts already-wrapped ones."""
    if not tools:
        return None
    out = []
    for tool in tools:
        if tool.get("type") == "function":
            out.append(tool)
        else:
            out.append({"type": "function", "function": tool})
    return out
