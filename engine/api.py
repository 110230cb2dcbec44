"""The engine's public face: load a GGUF model, tokenize, render chats, generate with reuse.

    model = engine.api.load("model.gguf")
    session = model.session()
    ids = model.tokenizer.encode(model.tokenizer.render_chat(messages))
    result = session.generate(ids, SamplingParams(temperature=0), max_tokens=256)

One `Model` runs one sequence at a time: `session()` returns the model's session (a fresh
one after `new_session()`). `bench` is the engine benchmark (`engine.bench`), `context_sweep` its
speed per context length (`engine.context_sweep`);
`use_ggml_library` points the engine at another ggml build. The engine reads no environment
variable: its callers pass settings. Everything else in `engine` is an implementation detail.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from engine.arch import PLTConfig
from engine.chat_template import ChatTemplate
from engine.gguf_file import ModelFile, check_header, open_model
from engine.memory import parse_bytes
from engine.runtime import Runner
from engine.sampling import SamplingParams
from engine.session import Generation, Session
from engine.tokenizer import Tokenizer, from_model_file

__all__ = [
    "ChatTemplate",
    "Generation",
    "Model",
    "SamplingParams",
    "Session",
    "bench",
    "check_header",
    "context_sweep",
    "load",
    "parse_contexts",
    "show_ggml_debug_log",
    "use_ggml_library",
]


def _kv_type_for(model: ModelFile, kv_type: str) -> str:
    """`auto`: an F32 cache for F32 weights (exact parity), F16 otherwise (half the memory);
    or f16, f32, q8_0 as asked."""
    if kv_type != "auto":
        return kv_type
    from engine import ggml
    from engine.arch import Tensors

    return "f32" if model.tensors[Tensors.ATTN_Q.format(i=0)].ggml_type == ggml.TYPE_F32 else "f16"


class Model:
    def __init__(self, file: ModelFile, runner: Runner, tokenizer: Tokenizer):
        self.file, self.runner, self.tokenizer = file, runner, tokenizer
        self._session: Session | None = None

    @property
    def path(self) -> Path:
        return self.file.path

    @property
    def config(self) -> PLTConfig:
        return self.runner.config

    @property
    def n_ctx(self) -> int:
        return self.runner.n_ctx

    def session(self) -> Session:
        if self._session is None:
            self._session = Session(self.runner)
        return self._session

    def new_session(self) -> Session:
        self._session = Session(self.runner)
        return self._session

    def generate(
        self,
        prompt_ids: Sequence[int],
        params: SamplingParams | None = None,
        *,
        max_tokens: int = 256,
        stop: Sequence[str] = (),
        on_text: Callable[[str], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        on_prefill: Callable[[int, int], None] | None = None,
    ) -> Generation:
        """Generate after `prompt_ids` (reusing the session's common prefix); `on_prefill(done,
        total)` reports the prompt's progress through the cache, `on_text` streams the reply."""
        return self.session().generate(
            prompt_ids,
            params or SamplingParams(),
            self.tokenizer,
            max_tokens=max_tokens,
            stop=stop,
            on_text=on_text,
            should_stop=should_stop,
            on_prefill=on_prefill,
        )

    def close(self) -> None:
        self.runner.close()

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load(
    path: str | Path,
    *,
    n_ctx: int | None = None,
    threads: int | None = None,
    device: str = "auto",
    kv_type: str = "auto",
    decode_mode: str = "fused",
    loops: int | None = None,
    memory_limit: int | str | None = None,
    kernels: str | None = None,
) -> Model:
    """Open and validate a GGUF model. The context defaults to the model's trained length, or
    the longest that fits in this machine's memory (or in `memory_limit`: bytes, or text like
    "8G"); an explicit `n_ctx` that does not fit is refused (EngineError) before the cache is
    allocated, with what would fit. `kernels`: auto (default), ggml or loop (see
    engine.loopkernels)."""
    file = open_model(path)
    tokenizer = from_model_file(
        file.path, file.config.arch, file.metadata, file.config.eos_token_ids, file.config.bos_token_id
    )
    runner = Runner(
        file,
        n_ctx=n_ctx,
        fit_context=n_ctx is None,
        threads=threads,
        device=device,
        kv_type=_kv_type_for(file, kv_type),
        decode_mode=decode_mode,
        loops=loops,
        memory_limit=parse_bytes(memory_limit) if isinstance(memory_limit, str) else memory_limit,
        kernels=kernels,
    )
    return Model(file, runner, tokenizer)


def bench(path: str | Path, **options: object) -> dict:
    """The engine benchmark's figures for a GGUF file (`engine.bench.bench_engine`)."""
    from engine.bench import bench_engine

    return bench_engine(Path(path), **options)  # type: ignore[arg-type]


def context_sweep(path: str | Path, contexts: list[int], **options: object) -> dict:
    """Decode and prefill speed per context length, ours and llama.cpp's
    (`engine.context_sweep.context_sweep`)."""
    from engine.context_sweep import context_sweep as sweep

    return sweep(Path(path), contexts, **options)  # type: ignore[arg-type]


def parse_contexts(text: str) -> list[int]:
    """'512,2k,8k,32k' -> [512, 2048, 8192, 32768] (ValueError on anything else)."""
    from engine.context_sweep import parse_contexts as parse

    return parse(text)


def show_ggml_debug_log(on: bool) -> None:
    """Print ggml's debug and info lines too (by default only its warnings and errors)."""
    from engine import ggml

    ggml.show_debug_log(on)


def use_ggml_library(libdir: str | Path | None) -> None:
    """Open ggml from `libdir` instead of llama-cpp-python's own (before loading a model)."""
    from engine import ggml

    ggml.use_library_dir(libdir)
