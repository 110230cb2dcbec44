"""What the two in-process backends (`llama`, `plt`) share: a GGUF file on disk, the chat
rendered with the file's own template and tokenized with its own tokenizer, the reply room
checked against the real window, and how many CPU threads to run on.

A subclass names its `kind`, loads the file in `_load` (setting `context_window` and
`n_params`) and implements `_render`, `tokenize` and `_generate`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from plt_agent.models.base import ModelBase, ModelError, Reply, Request, room_for_reply


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
    ) -> None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise ModelError(f"{self.kind} backend: no model file at {path}")
        self.name = f"{self.kind}:{path}"
        self.path = path
        self.seed = seed
        self.kv_type = kv_type or "auto"  # the KV cache type `_load` gives the runtime
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
        reply = self._generate(ids, request, min(request.max_tokens, room))
        reply.usage.seconds = time.perf_counter() - started
        return reply

    def _generate(self, ids: list[int], request: Request, max_tokens: int) -> Reply:
        raise NotImplementedError
