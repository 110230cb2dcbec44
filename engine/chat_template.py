"""Chat templates from model files, rendered in a sandbox that also bounds time and size.

A GGUF's `tokenizer.chat_template` is code from whoever made the file. jinja2's immutable
sandbox keeps it from touching Python objects, as HF does, but not from running for ever or
filling memory: `{% for i in range(99999) %}{% for j in range(99999) %}...` or
`{{ 'x' * 10**10 }}`. `ChatTemplate` adds both bounds:
- time: while a template runs, a trace function watches the template's own frames (jinja
  compiles templates to Python code named "<template>") and stops the render after
  RENDER_SECONDS;
- size: joining (`+`) and repeating (`*`) strings or lists, and powers (`**`), are checked
  before they are computed, and the output is streamed and cut at MAX_CHARS.
Every failure is an EngineError with one line. Templates render as HF renders them (`tojson`
without HTML escaping, `raise_exception`, `strftime_now`).

Knows nothing about tokenizers or models.
"""

from __future__ import annotations

import json
import operator
import sys
import time
from types import FrameType
from typing import Any

from engine.errors import EngineError, brief

RENDER_SECONDS = 2.0
MAX_CHARS = 16_000_000  # far above any context window's worth of text
MAX_EXPONENT = 256


class ChatTemplate:
    """One compiled chat template; `render(**variables)` gives the prompt text."""

    def __init__(self, source: str) -> None:
        from jinja2.exceptions import TemplateError

        try:
            self._template = _environment().from_string(source)
        except (TemplateError, RecursionError, MemoryError, ValueError) as exc:
            raise EngineError(f"the model's chat template does not compile: {brief(exc, 200)}") from None

    def render(self, **variables: Any) -> str:
        from jinja2.exceptions import TemplateError

        pieces: list[str] = []
        size = 0
        try:
            with _Deadline(RENDER_SECONDS):
                for piece in self._template.generate(**variables):
                    size += len(piece)
                    if size > MAX_CHARS:
                        raise EngineError(f"the model's chat template wrote over {MAX_CHARS:,} characters")
                    pieces.append(piece)
        except EngineError:
            raise
        except TemplateError as exc:
            raise EngineError(f"the model's chat template failed: {brief(exc, 200)}") from None
        except Exception as exc:  # noqa: BLE001 - the template comes from the file: 1/0, bad types, ...
            raise EngineError(
                f"the model's chat template failed: {type(exc).__name__}: {brief(exc, 200)}"
            ) from None
        return "".join(pieces)


def _environment() -> Any:
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class BoundedSandbox(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**", "+"})

        def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
            if op == "+":
                if _length(left) + _length(right) > MAX_CHARS:
                    raise TemplateError("a joined string or list would be too large")
                return operator.add(left, right)
            if op == "**":
                if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
                    raise TemplateError(f"exponent {right} is over {MAX_EXPONENT}")
                return operator.pow(left, right)
            count = right if isinstance(right, int) else left
            item = left if count is right else right
            if isinstance(count, int) and count * _length(item) > MAX_CHARS:
                raise TemplateError(f"repeating {len(item)} items {count} times is too large")
            return operator.mul(left, right)

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    def strftime_now(fmt: str) -> str:
        return time.strftime(fmt)

    env = BoundedSandbox(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = lambda v, indent=None: json.dumps(v, ensure_ascii=False, indent=indent)
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple) else 0


class _Deadline:
    """Stop code compiled from a template once `seconds` have passed (this thread only)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __enter__(self) -> None:
        self.deadline = time.monotonic() + self.seconds
        self.previous = sys.gettrace()
        sys.settrace(self._call)

    def __exit__(self, *exc: object) -> None:
        sys.settrace(self.previous)

    def _call(self, frame: FrameType, event: str, arg: Any) -> Any:
        return self._line if frame.f_code.co_filename == "<template>" else None

    def _line(self, frame: FrameType, event: str, arg: Any) -> Any:
        if time.monotonic() > self.deadline:
            raise EngineError(f"the model's chat template ran for over {self.seconds:g} s")
        return self._line
