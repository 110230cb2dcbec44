"""What the two in-process backends (`llama`, `plt`) share: a GGUF file on disk, the chat
rendered with the file's own template and tokenized with its own tokenizer, the reply room
checked against the real window, how many CPU threads to run on, progress reports, and the
prompt cache on disk (`models.promptcache`).

Prompt cache: on the first call of a model (its state still empty), the saved state of the
longest prompt boundary this prompt starts with is loaded (the end of the system message,
the fixed prefix; or the end of the last message); the boundaries not saved yet are
prefilled and saved on the way. `Usage.cached_tokens` counts the prompt tokens not computed
in this call (loaded from disk or kept from an earlier call).

Progress (`Request.on_progress(phase, done, total)`): "prompt" with the prompt tokens in the
cache so far, as prefill goes; "reply" with the reply's pieces so far and the reply cap.

A subclass names its `kind`, loads the file in `_load` (setting `context_window` and
`n_params`) and implements `_render`, `tokenize` and `_generate`; for the prompt cache also
`_cached_tokens`, `_prefill`, `_save_state`, `_load_state` and `_cache_settings`.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from plt_agent.models.base import ModelBase, ModelError, Reply, Request, room_for_reply
from plt_agent.models.promptcache import PromptCache, model_key

Progress = Callable[[str, int, int], None]
MIN_BOUNDARY = 16  # a prompt prefix shorter than this is not worth a file


def cpu_threads() -> int:
    """Cores this process may use, minus those other programs keep busy (load average).

    ggml's worker threads spin while they wait for each other, so on a loaded machine more
    threads are slower, not faster: measured here with SmolLM2-135M on 2 busy cores, a
    283-token prompt and 80 tokens took 46 s with 2 threads and 3.5 s with 1.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:
        busy = round(os.getloadavg()[0])
    except OSError:
        busy = 0
    return max(1, min(cores, cores - busy))


class LocalModel(ModelBase):
    kind = "local"
    context_window: int

    def __init__(
        self,
        path: str | Path,
        *,
        context: int | None = None,
        threads: int | None = None,
        seed: int = 0,
        kv_type: str | None = None,
        prompt_cache: PromptCache | None = None,
    ) -> None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise ModelError(f"{self.kind} backend: no model file at {path}")
        self.name = f"{self.kind}:{path}"
        self.path = path
        self.seed = seed
        self.kv_type = kv_type or "auto"  # the KV cache type `_load` gives the runtime
        self.prompt_cache = prompt_cache
        self.cache_events: list[str] = []  # "hit N" / "saved N" per prompt-cache action, for reports
        self._load(context, threads or cpu_threads())

    def _load(self, context: int | None, threads: int) -> None:
        raise NotImplementedError

    def render(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> str:
        """The prompt text for `messages`, by the model's chat template."""
        return self._render([{**m, "content": m.get("content") or ""} for m in messages], tools)

    def _render(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
        raise NotImplementedError

    def tokenize(self, prompt: str) -> list[int]:
        raise NotImplementedError

    def count_tokens(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> int:
        return len(self.tokenize(self.render(messages, tools)))

    def answer(self, messages: list[dict[str, Any]], request: Request) -> Reply:
        started = time.perf_counter()
        ids = self.tokenize(self.render(messages, request.tools))
        room = room_for_reply(self.path.name, len(ids), self.context_window)
        max_tokens = min(request.max_tokens, room)
        computed = 0
        if self.prompt_cache is not None and not self._cached_tokens():
            computed = self._warm(messages, request.tools, ids, request.on_progress)
        reply = self._generate(ids, _with_reply_progress(request, max_tokens), max_tokens)
        reply.usage.cached_tokens = max(0, reply.usage.cached_tokens - computed)
        reply.usage.seconds = time.perf_counter() - started
        return reply

    def _generate(self, ids: list[int], request: Request, max_tokens: int) -> Reply:
        raise NotImplementedError

    # -- the prompt cache --------------------------------------------------------------------

    def _warm(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        ids: list[int],
        progress: Any,
    ) -> int:
        """Load the longest saved boundary of `ids`, prefill and save the others; the number of
        prompt tokens computed here (not loaded)."""
        cache = self.prompt_cache
        assert cache is not None
        key = model_key(self.kind, self.path, self._cache_settings())
        bounds = self._boundaries(messages, tools, ids)
        have = 0
        hit = cache.lookup(key, ids, bounds)
        if hit is not None:
            path, n = hit
            try:
                loaded = self._load_state(path)
            except Exception:  # noqa: BLE001 - a damaged or foreign file is a miss, whatever broke
                loaded = []
            if loaded == ids[:n]:
                have = n
                self.cache_events.append(f"hit {n}")
            else:
                cache.discard(path)
                self._reset_state()
        computed = 0
        for n in sorted(b for b in bounds if b > have):
            self._prefill(ids[:n], _prompt_progress(progress, len(ids)))
            computed, have = computed + n - have, n
            cache.store(key, ids[:n], self._save_state, about=self.name)
            self.cache_events.append(f"saved {n}")
        return computed

    def _boundaries(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, ids: list[int]
    ) -> list[int]:
        """Token positions worth saving: the end of the system message (the common prefix of
        `ids` with the rendering of the system message alone), and the whole prompt but its
        last token (the same prompt again then prefills one token)."""
        found = [len(ids) - 1]
        if len(messages) > 1 and messages[0].get("role") == "system":
            found.append(common_prefix(self.tokenize(self.render(messages[:1], tools)), ids))
        return sorted({n for n in found if MIN_BOUNDARY <= n < len(ids)})

    def _cached_tokens(self) -> int:
        """Tokens the backend's state holds now (0: fresh)."""
        return 1  # backends without a prompt cache: never warmed

    def _prefill(self, ids: list[int], progress: Callable[[int, int], None] | None) -> None:
        raise NotImplementedError

    def _save_state(self, path: Path) -> None:
        raise NotImplementedError

    def _load_state(self, path: Path) -> list[int]:
        raise NotImplementedError

    def _reset_state(self) -> None:
        raise NotImplementedError

    def _cache_settings(self) -> str:
        return ""


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens a and b share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _prompt_progress(progress: Progress | None, total: int) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, _n: progress("prompt", done, total)


def _with_reply_progress(request: Request, max_tokens: int) -> Request:
    """`request` whose `on_text` also reports the reply's progress (pieces so far, of the cap)."""
    progress = request.on_progress
    if progress is None:
        return request
    on_text = request.on_text
    count = [0]

    def text(chunk: str) -> None:
        count[0] += 1
        progress("reply", count[0], max_tokens)
        if on_text is not None:
            on_text(chunk)

    return dataclasses.replace(request, on_text=text)
