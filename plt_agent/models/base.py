"""The one interface the agent needs from a language model, and the data it exchanges.

`Model.complete(messages, tools=..., ...) -> Reply` is all the agent loop, the REPL and the
hook call; `count_tokens` measures a prompt, and a model says what it is (`context_window`,
`supports_tools`, `n_params`, `mode`) so the agent can choose how to drive it once
(`plt_agent.agent.profile`). Backends (plt, llama, openai, scripted) subclass `ModelBase`,
which takes the keyword arguments of `complete` as one `Request`; a spec string selects one.
Messages are OpenAI-style dicts: {"role": "system"|"user"|"assistant"|"tool", "content": str,
optional "tool_calls": [...], "tool_call_id": str, "name": str}.

This module knows nothing about prompts, tools' behaviour or the agent loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from plt_agent.errors import PltAgentError


class ModelError(PltAgentError):
    """A backend could not load or answer (unreachable server, bad file, exhausted script).

    At the command line it is a configuration problem (exit 2); inside a run, a failed answer
    ends the run with the status "model_error" instead."""

    exit_code = 2


class ContextOverflow(ModelError):
    """The prompt does not fit the model's context window (never truncated silently)."""


def room_for_reply(name: str, prompt_tokens: int, window: int, minimum: int = 16) -> int:
    """Tokens left for the reply; ContextOverflow when fewer than `minimum` remain."""
    room = window - prompt_tokens
    if room < minimum:
        raise ContextOverflow(
            f"{name}: the prompt has {prompt_tokens} tokens; the context window is {window}"
        )
    return room


@dataclass
class ToolCall:
    """One requested tool invocation: a name and its parsed JSON arguments."""

    name: str
    arguments: dict[str, Any]
    id: str = ""
    error: str = ""  # set when the call could not be parsed (e.g. arguments not JSON); shown to the model


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens served from a reused KV cache
    seconds: float = 0.0


@dataclass
class Reply:
    """A model's answer: text, native tool calls (if the backend supports them), usage."""

    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str = "stop"  # "stop" | "length" | "tool_calls" | "cancelled" | "error"
    usage: Usage = field(default_factory=Usage)


class Model(Protocol):
    name: str  # the spec string it was made from
    context_window: int  # the real context size in tokens
    supports_tools: bool  # True when the backend takes native tool calls
    n_params: int | None  # weights in the model, when known (local files)
    mode: str | None  # an action format the model must be driven with (a replayed run's), else None

    def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        max_tokens: int = 1024,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        on_text: Callable[[str], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        on_progress: Callable[[str, int, int], None] | None = None,
    ) -> Reply: ...

    def count_tokens(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> int:
        """Tokens the rendered prompt for these messages occupies (with the model's own tokenizer)."""
        ...


@dataclass(frozen=True)
class Request:
    """What one `complete` call asks for besides the messages (see `Model.complete`)."""

    tools: list[dict[str, Any]] | None = None
    max_tokens: int = 1024
    temperature: float = 0.0
    stop: list[str] | None = None
    on_text: Callable[[str], None] | None = None
    should_stop: Callable[[], bool] | None = None
    on_progress: Callable[[str, int, int], None] | None = None  # (phase, done, total); see models.local


class ModelBase:
    """What every backend shares: the capability defaults and `complete`, which hands the
    call to the backend's `answer(messages, request)`."""

    supports_tools: bool = False
    n_params: int | None = None
    mode: str | None = None

    def complete(self, messages: list[dict[str, Any]], **options: Any) -> Reply:
        """`Model.complete`: its keyword arguments become the `Request` for `answer`."""
        return self.answer(messages, Request(**options))

    def answer(self, messages: list[dict[str, Any]], request: Request) -> Reply:
        raise NotImplementedError


def text_tokens(model: Model, text: str) -> int:
    """Tokens `text` takes as one message, without the message's fixed overhead."""
    empty = model.count_tokens([{"role": "user", "content": ""}])
    return max(0, model.count_tokens([{"role": "user", "content": text}]) - empty)
