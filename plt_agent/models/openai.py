"""`openai:URL#MODEL` — any OpenAI-compatible Chat Completions server (vLLM, SGLang,
llama-server, llama_cpp.server, Ollama), over plain HTTP with the standard library.

- Streaming: server-sent events; text deltas go to `on_text`, `tool_calls` deltas are
  assembled by index and parsed by `models.wire`.
- Native tool calls: sent when the server takes them. `native_tools="auto"` trusts what the
  server reports (llama-server's `/props` `chat_template_caps`); otherwise `"on"`/`"off"`.
- Context size: the server's real window where it reports one (llama-server `/props`
  `n_ctx`; vLLM `max_model_len`; `context_length` / `meta.n_ctx_train` in `/v1/models`),
  else the `context` option, else 4096.
- Token counts: the server's tokenizer where it has an endpoint for it (vLLM `/tokenize`,
  llama-server `/tokenize`, llama_cpp.server `/extras/tokenize/count`), else an estimate.

It knows nothing about prompts or the agent loop.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from plt_agent.models.base import ContextOverflow, ModelBase, ModelError, Reply, Request, ToolCall, Usage
from plt_agent.models.wire import approx_message_tokens, approx_tokens, parse_tool_call, tools_for_wire

DEFAULT_CONTEXT = 4096
_OVERFLOW = re.compile(r"context (window|length)|maximum context|too many tokens|exceed", re.IGNORECASE)


class OpenAIModel(ModelBase):
    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        context: int | None = None,
        native_tools: str = "auto",
        tool_choice: Any = None,
        timeout: float = 600.0,
        api_key: str | None = None,
    ) -> None:
        self.base = base_url.rstrip("/")
        self.root = self.base[: -len("/v1")] if self.base.endswith("/v1") else self.base
        self.model = model
        self.name = f"openai:{self.base}#{model}"
        self.timeout = timeout
        self.tool_choice = tool_choice  # sent with tools when set ("auto", "required", {"type": ...})
        self.api_key = api_key or os.environ.get("PLT_AGENT_API_KEY") or os.environ.get("OPENAI_API_KEY")
        self._counter: Callable[[str], int] | None | bool = False  # False: not probed yet
        props = self._get("/props", root=True) or {}
        listing = self._get("/models")
        if listing is None and not props:
            raise ModelError(f"openai backend: cannot reach a Chat Completions server at {self.base}")
        self.context_window = context or _reported_context(props, listing, model) or DEFAULT_CONTEXT
        self.supports_tools = _tools_switch(native_tools, props)

    # -- HTTP ---------------------------------------------------------------------------------

    def _request(
        self,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        root: bool = False,
        timeout: float | None = None,
    ) -> Any:
        url = (self.root if root else self.base) + path
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
        return urllib.request.urlopen(request, timeout=timeout or self.timeout)

    def _get(self, path: str, *, root: bool = False) -> dict[str, Any] | None:
        try:
            with self._request(path, root=root, timeout=10) as response:
                value = json.loads(response.read() or b"null")
        except (urllib.error.URLError, OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def _post_json(self, path: str, body: dict[str, Any], *, root: bool = False) -> dict[str, Any] | None:
        try:
            with self._request(path, body, root=root, timeout=30) as response:
                value = json.loads(response.read() or b"null")
        except (urllib.error.URLError, OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    # -- completion ---------------------------------------------------------------------------

    def answer(self, messages: list[dict[str, Any]], request: Request) -> Reply:
        started = time.perf_counter()
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream_options": {"include_usage": True},
            "cache_prompt": True,
        }
        if request.stop:
            body["stop"] = request.stop[:4]
        if request.tools and self.supports_tools:
            body["tools"] = tools_for_wire(request.tools)
            if self.tool_choice is not None:
                body["tool_choice"] = self.tool_choice
        stream = _Stream(request.on_text, request.should_stop)
        try:
            with self._request("/chat/completions", body) as response:
                stream.consume(response)
        except urllib.error.HTTPError as exc:
            raise _http_error(exc, self.base) from None
        except (urllib.error.URLError, OSError) as exc:
            raise ModelError(f"openai backend: request to {self.base} failed: {exc}") from None
        if not stream.n_chunks:
            raise self._empty_stream(messages, request.tools)
        usage = stream.usage or Usage(
            prompt_tokens=self.count_tokens(messages, request.tools),
            completion_tokens=approx_tokens(stream.text),
        )
        usage.seconds = time.perf_counter() - started
        calls = stream.tool_calls()
        finish = stream.finish or ("tool_calls" if calls else "stop")
        return Reply(content=stream.text, tool_calls=calls, finish_reason=finish, usage=usage)

    def _empty_stream(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> ModelError:
        """Some servers (llama_cpp.server) answer an oversized streamed prompt with an empty stream."""
        n = self.count_tokens(messages, tools)
        if n >= self.context_window:
            return ContextOverflow(
                f"openai backend: the prompt has about {n} tokens; the context window of "
                f"{self.base} is {self.context_window}"
            )
        return ModelError(
            f"openai backend: {self.base} closed the stream without answering "
            f"(prompt of about {n} tokens; is it larger than the server's context window?)"
        )

    # -- token counting -----------------------------------------------------------------------

    def count_tokens(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> int:
        if self._counter is False:
            self._counter = self._probe_counter()
        if self._counter is None:
            return approx_message_tokens(messages, tools)
        text = "\n".join(
            str(m.get("content") or "") + json.dumps(m.get("tool_calls") or "") for m in messages
        )
        if tools:
            text += json.dumps(tools)
        return self._counter(text) + 6 * len(messages) + 3

    def _probe_counter(self) -> Callable[[str], int] | None:
        """The first tokenizer endpoint this server answers, as a `text -> count` function."""
        candidates: list[tuple[str, Callable[[str], dict[str, Any]], Callable[[dict[str, Any]], int]]] = [
            ("/tokenize", lambda t: {"model": self.model, "prompt": t}, lambda r: int(r["count"])),
            ("/tokenize", lambda t: {"content": t}, lambda r: len(r["tokens"])),
            (
                "/extras/tokenize/count",
                lambda t: {"model": self.model, "input": t},
                lambda r: int(r["count"]),
            ),
        ]
        for path, make, read in candidates:
            reply = self._post_json(path, make("hello world"), root=True)
            try:
                if reply is not None and read(reply) > 0:
                    return _counter(self, path, make, read)
            except (KeyError, TypeError, ValueError):
                continue
        return None


def _counter(model: OpenAIModel, path: str, make: Callable, read: Callable) -> Callable[[str], int]:
    def count(text: str) -> int:
        reply = model._post_json(path, make(text), root=True)
        return read(reply) if reply is not None else approx_tokens(text)

    return count


class _Stream:
    """Accumulates one server-sent-event stream of chat completion chunks."""

    def __init__(self, on_text: Callable[[str], None] | None, should_stop: Callable[[], bool] | None) -> None:
        self.on_text = on_text
        self.should_stop = should_stop
        self.pieces: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish: str | None = None
        self.usage: Usage | None = None
        self.n_chunks = 0

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def consume(self, response: Any) -> None:
        for raw in response:
            line = raw.decode("utf-8", "replace").strip()
            if not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            if payload == "[DONE]":
                break
            try:
                chunk = json.loads(payload)
            except json.JSONDecodeError:
                continue
            self.n_chunks += 1
            self._chunk(chunk)
            if self.should_stop and self.should_stop():
                self.finish = "cancelled"
                break

    def _chunk(self, chunk: dict[str, Any]) -> None:
        if chunk.get("error"):
            raise ModelError(f"openai backend: the server reported an error: {chunk['error']}")
        if chunk.get("usage"):
            u = chunk["usage"]
            cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
            self.usage = Usage(
                prompt_tokens=u.get("prompt_tokens") or 0,
                completion_tokens=u.get("completion_tokens") or 0,
                cached_tokens=cached,
            )
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or choice.get("message") or {}
            if delta.get("content"):
                self.pieces.append(delta["content"])
                if self.on_text:
                    self.on_text(delta["content"])
            for part in delta.get("tool_calls") or []:
                self._tool_delta(part)
            if choice.get("finish_reason"):
                self.finish = choice["finish_reason"]

    def _tool_delta(self, part: dict[str, Any]) -> None:
        slot = self.calls.setdefault(
            int(part.get("index", len(self.calls))), {"id": "", "name": "", "arguments": ""}
        )
        slot["id"] = part.get("id") or slot["id"]
        function = part.get("function") or {}
        name = function.get("name") or ""
        if name != slot["name"]:  # OpenAI sends the name once; llama_cpp.server repeats it in every delta
            slot["name"] += name
        arguments = function.get("arguments")
        if isinstance(arguments, dict):
            arguments = json.dumps(arguments)
        slot["arguments"] += arguments or ""

    def tool_calls(self) -> list[ToolCall]:
        return [
            parse_tool_call({"id": s["id"] or f"call_{i}", "name": s["name"], "arguments": s["arguments"]}, i)
            for i, s in sorted(self.calls.items())
        ]


def _reported_context(props: dict[str, Any], listing: dict[str, Any] | None, model: str) -> int | None:
    settings = props.get("default_generation_settings") or {}
    for value in (props.get("n_ctx"), settings.get("n_ctx")):
        if isinstance(value, int) and value > 0:
            return value
    entries = (listing or {}).get("data") or []
    chosen = [e for e in entries if isinstance(e, dict) and e.get("id") == model] or entries[:1]
    for entry in chosen:
        meta = entry.get("meta") or {}
        for value in (
            entry.get("max_model_len"),
            entry.get("context_length"),
            entry.get("context_window"),
            meta.get("n_ctx"),
            meta.get("n_ctx_train"),
        ):
            if isinstance(value, int) and value > 0:
                return value
    return None


def _tools_switch(setting: str, props: dict[str, Any]) -> bool:
    if setting in ("on", "off"):
        return setting == "on"
    caps = props.get("chat_template_caps") or {}
    return bool(caps.get("supports_tool_calls") or caps.get("supports_tools"))


def _http_error(exc: urllib.error.HTTPError, base: str) -> ModelError:
    try:
        detail = exc.read().decode("utf-8", "replace")[:500]
    except OSError:
        detail = ""
    message = f"openai backend: {base} answered HTTP {exc.code}: {detail or exc.reason}"
    if exc.code in (400, 413) and _OVERFLOW.search(detail):
        return ContextOverflow(message)
    return ModelError(message)
