"""`llama:PATH.gguf` — any llama.cpp GGUF through llama-cpp-python's `Llama`.

The prompt is rendered with the chat template stored in the GGUF (by the engine's bounded
sandbox, `engine.api.ChatTemplate`, as for our own backend), tokenized with the model's own
tokenizer and generated token by token with streaming. The KV cache of the longest common
prefix is kept between calls, so an append-only conversation is not re-prefilled;
`Usage.cached_tokens` reports how much was reused. The rest of the prompt is evaluated here
in chunks of PREFILL_CHUNK tokens (so progress can be reported) before
`Llama.create_completion`, which then finds the whole prompt evaluated and samples at once.
The prompt cache on disk (`models.local`) stores llama.cpp's own sequence state files
(`llama_state_seq_save_file`/`load_file`).

The backend speaks only text (no native tool calls): the agent's text protocol drives it.
llama_cpp is imported when a model is loaded, never at import time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from plt_agent.models.base import ModelError, Reply, Request, Usage
from plt_agent.models.local import LocalModel, common_prefix

DEFAULT_MAX_CONTEXT = 8192  # cap on the window when the model's training context is larger
PREFILL_CHUNK = 128  # prompt tokens per decode call (each one a progress report)
_CHATML = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def gguf_context_length(path: Path) -> int | None:
    """The training context length recorded in a GGUF's metadata (None if absent)."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    arch_field = reader.fields.get("general.architecture")
    if arch_field is None:
        return None
    arch = bytes(arch_field.parts[arch_field.data[0]]).decode()
    field = reader.fields.get(f"{arch}.context_length")
    return int(field.parts[field.data[0]][0]) if field is not None else None


@contextlib.contextmanager
def _without_extra_buffers() -> Iterator[None]:
    """Load with `use_extra_bufts=False`: weight repacking (the AMX path) crashes on some CPUs.

    `Llama()` has no argument for it, so the default-params factory it calls is wrapped
    for the duration of the load only.
    """
    import llama_cpp.llama_cpp as lib

    original = lib.llama_model_default_params

    def patched():  # type: ignore[no-untyped-def]
        params = original()
        if hasattr(params, "use_extra_bufts"):
            params.use_extra_bufts = False
        return params

    lib.llama_model_default_params = patched
    try:
        yield
    finally:
        lib.llama_model_default_params = original


# llama.cpp's cache types (ggml_type values); a block-type V cache needs its flash attention
_CACHE_TYPES = {"f16": 1, "f32": 0, "q8_0": 8}


def _cache_options(kv_type: str) -> dict[str, Any]:
    if kv_type == "auto":
        return {}
    if kv_type not in _CACHE_TYPES:
        raise ModelError(f"llama backend: kv_type must be auto or one of {', '.join(_CACHE_TYPES)}")
    cache = _CACHE_TYPES[kv_type]
    return {"type_k": cache, "type_v": cache, "flash_attn": kv_type == "q8_0"}


class LlamaModel(LocalModel):
    kind = "llama"

    def _load(self, context: int | None, threads: int) -> None:
        try:
            import llama_cpp
        except ImportError as exc:
            raise ModelError(f"llama backend needs llama-cpp-python ({exc})") from None
        _check_file(self.path)
        trained = gguf_context_length(self.path) or DEFAULT_MAX_CONTEXT
        n_ctx = min(context or DEFAULT_MAX_CONTEXT, trained)
        try:
            with _without_extra_buffers():
                self._llm = llama_cpp.Llama(
                    str(self.path),
                    n_ctx=n_ctx,
                    n_threads=threads,
                    n_threads_batch=threads,
                    seed=self.seed,
                    verbose=False,
                    **_cache_options(self.kv_type),
                )
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"llama backend: cannot load {self.path}: {exc}") from None
        self.context_window = self._llm.n_ctx()
        self.n_params = self._llm._model.n_params()
        self._formatter = self._make_formatter()

    def _make_formatter(self) -> Any:
        from engine.api import ChatTemplate
        from engine.errors import EngineError

        llm = self._llm
        eos = llm.token_eos()
        bos = llm.token_bos()
        self.eos_text = llm._model.token_get_text(eos) if eos != -1 else ""
        self.bos_text = llm._model.token_get_text(bos) if bos != -1 else ""
        self._add_bos = llm.metadata.get("tokenizer.ggml.add_bos_token", "false") == "true"
        try:
            return ChatTemplate(llm.metadata.get("tokenizer.chat_template") or _CHATML)
        except EngineError as exc:
            raise ModelError(f"{self.path.name}: {exc}") from None

    def _render(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
        from engine.errors import EngineError

        try:
            return self._formatter.render(
                messages=messages,
                tools=tools,
                add_generation_prompt=True,
                bos_token=self.bos_text,
                eos_token=self.eos_text,
            )
        except EngineError as exc:
            raise ModelError(f"{self.path.name}: {exc}") from None

    def tokenize(self, prompt: str) -> list[int]:
        add_bos = self._add_bos and bool(self.bos_text) and not prompt.startswith(self.bos_text)
        return self._llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)

    def _generate(self, ids: list[int], request: Request, max_tokens: int) -> Reply:
        cached = min(self._cached_prefix(ids), len(ids) - 1)
        progress = request.on_progress
        self._prefill(ids, (lambda done, total: progress("prompt", done, total)) if progress else None)
        pieces: list[str] = []
        finish = "length"
        stream = self._llm.create_completion(
            prompt=ids,
            max_tokens=max_tokens,
            temperature=request.temperature,
            top_p=0.95,
            top_k=40,
            min_p=0.05,
            repeat_penalty=1.0,
            seed=self.seed,
            stop=request.stop or [],
            stream=True,
        )
        for chunk in stream:
            choice = chunk["choices"][0]
            if choice.get("text"):
                pieces.append(choice["text"])
                if request.on_text:
                    request.on_text(choice["text"])
            if choice.get("finish_reason"):
                finish = choice["finish_reason"]
            if request.should_stop and request.should_stop():
                finish = "cancelled"
                stream.close()
                break
        text = "".join(pieces)
        n_out = len(self._llm.tokenize(text.encode(), add_bos=False, special=True)) if text else 0
        usage = Usage(prompt_tokens=len(ids), completion_tokens=n_out, cached_tokens=max(cached, 0))
        return Reply(content=text, finish_reason=finish, usage=usage)

    def _cached_prefix(self, ids: list[int]) -> int:
        return common_prefix(self._llm._input_ids[: self._llm.n_tokens], ids)

    # -- prefill and the prompt cache (models.local) ------------------------------------------

    def _prefill(self, ids: list[int], progress: Any) -> None:
        """Make the KV cache hold exactly `ids` (the common prefix kept), PREFILL_CHUNK at a time."""
        llm = self._llm
        keep = self._cached_prefix(ids)
        if keep == len(ids) and llm.n_tokens == keep and not llm._requires_eval:
            return  # all there, with live logits: create_completion samples at once
        keep = min(keep, len(ids) - 1)  # at least one token evaluated: its logits are needed
        llm.n_tokens = keep
        for start in range(keep, len(ids), PREFILL_CHUNK):
            llm.eval(ids[start : start + PREFILL_CHUNK])
            if progress is not None:
                progress(min(start + PREFILL_CHUNK, len(ids)), len(ids))

    def _cached_tokens(self) -> int:
        return int(self._llm.n_tokens)

    def _save_state(self, path: Path) -> None:
        import llama_cpp

        n = int(self._llm.n_tokens)
        tokens = (llama_cpp.llama_token * n)(*self._llm._input_ids[:n])
        written = llama_cpp.llama_state_seq_save_file(self._llm._ctx.ctx, str(path).encode(), 0, tokens, n)
        if not written:
            raise ModelError(f"llama backend: could not save the prompt state to {path}")

    def _load_state(self, path: Path) -> list[int]:
        import ctypes

        import llama_cpp

        llm = self._llm
        self._reset_state()
        capacity = llm.n_ctx()
        tokens = (llama_cpp.llama_token * capacity)()
        count = ctypes.c_size_t(0)
        read = llama_cpp.llama_state_seq_load_file(
            llm._ctx.ctx, str(path).encode(), 0, tokens, capacity, ctypes.byref(count)
        )
        if not read or count.value > capacity:
            self._reset_state()
            raise ModelError(f"llama backend: {path} is not a prompt state for this model")
        loaded = list(tokens[: count.value])
        llm.input_ids[: len(loaded)] = loaded
        llm.n_tokens = len(loaded)
        llm._requires_eval = True  # the KV is there, the logits are not
        return loaded

    def _reset_state(self) -> None:
        self._llm.reset()
        self._llm._ctx.kv_cache_clear()

    def _cache_settings(self) -> str:
        import llama_cpp

        return f"llama-seq-state|{llama_cpp.__version__}|ctx{self._llm.n_ctx()}|kv{self.kv_type}"


def _check_file(path: Path) -> None:
    """The engine's header and hyperparameter checks before llama.cpp sees the file: llama.cpp
    aborts the whole process on some hostile values (block_count 0 or 2^31)."""
    from engine.api import check_header
    from engine.errors import EngineError

    try:
        check_header(path)
    except EngineError as exc:
        raise ModelError(f"llama backend: {exc}") from None
