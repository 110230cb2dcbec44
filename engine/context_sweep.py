"""The context sweep: decode and prefill speed per context length, ours and llama.cpp's.

For each context length c, on one set of weights (one memory map):
- ours: a Runner sized for c (the memory check runs first: a length that does not fit is
  reported as such, not attempted), the cache brought to depth c, then `decode_tokens` decode
  steps (median step time);
- llama-cpp-python on the same file where it can load it (llama GGUFs), with the same cache
  type, run right after ours at the same c, so the ratio comes from one run.

How the cache reaches depth c (`fill`):
- `prefill`: a real prompt of c tokens, timed: prefill tok/s is c / that time, as a user sees it;
- `direct`: random K/V written straight into the cache (the step's cost does not depend on the
  values), then `chunk` tokens prefilled on top, timed: prefill tok/s at that depth. For
  real-shape models, whose 16k-token prefill would take an hour on a laptop CPU. llama.cpp has
  no such mode and is skipped.

Decode cost grows with c only through attention over the global cache, so the table shows
where a runtime's attention stops being small next to its weights. Reached through
`engine.api.context_sweep`; the table and the plot are the CLI's.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from engine.backend import Backend, Weights
from engine.errors import EngineError
from engine.gguf_file import open_model
from engine.memory import parse_bytes
from engine.runtime import Runner

FILLS = ("prefill", "direct")
LLAMA_CACHE_TYPES = {"f16": 1, "f32": 0, "q8_0": 8}  # ggml_type values


def parse_contexts(text: str) -> list[int]:
    """'512,2k,8k,32k' -> [512, 2048, 8192, 32768] (k = 1024)."""
    out = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        scale = 1024 if part[-1] in "kK" else 1
        try:
            value = int(float(part[:-1] if scale > 1 else part) * scale)
        except ValueError:
            raise ValueError(f"context lengths look like 512,2k,8k; got {part!r}") from None
        if value < 2:
            raise ValueError(f"a context length must be at least 2 tokens, got {part!r}")
        out.append(value)
    if not out:
        raise ValueError("no context lengths given")
    return sorted(set(out))


def _prompt(n: int, vocab: int, seed: int = 0) -> list[int]:
    return [int(x) for x in np.random.default_rng(seed).integers(10, min(vocab, 30000), size=n)]


def _decode_ms(step, token: int, steps: int) -> float:  # noqa: ANN001 - a callable token -> token
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        token = step(token)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def _ours(
    model,  # noqa: ANN001 - ModelFile
    backend: Backend,
    weights: Weights,
    c: int,
    kv_type: str,
    fill: str,
    chunk: int,
    steps: int,
    memory_limit: int | None,
    kernels: str | None,
) -> dict[str, Any]:
    prompt = _prompt(c, model.config.vocab_size)
    try:
        runner = Runner(
            model,
            n_ctx=c + steps + 1,
            kv_type=kv_type,
            backend=backend,
            weights=weights,
            memory_limit=memory_limit,
            kernels=kernels,
        )
    except EngineError as exc:
        return {"error": str(exc)}
    try:
        if fill == "prefill":
            runner.prefill(prompt[:16])  # warm-up: graphs of this size class, pages of the weights
            runner.reset()
            start = time.perf_counter()
            logits = runner.prefill(prompt, chunk=chunk)
            prefill_s, prefilled = time.perf_counter() - start, c
        else:
            part = min(chunk, c - 1)
            runner.state.fill_random(c - part)
            runner.prefill(prompt[:1])  # warm-up at this depth
            runner.state.n_past = c - part
            start = time.perf_counter()
            logits = runner.prefill(prompt[c - part :], chunk=chunk)
            prefill_s, prefilled = time.perf_counter() - start, part
        token = int(np.argmax(logits[-1]))
        ms = _decode_ms(lambda t: int(np.argmax(runner.decode(t))), token, steps)
        return {
            "decode_ms": ms,
            "decode_tok_s": 1e3 / ms,
            "prefill_tok_s": prefilled / prefill_s,
            "prefill_tokens": prefilled,
            "kv_bytes_per_token": runner.state.kv_bytes_per_token(),
            "kv_mib": runner.state.nbytes() / 2**20,
            "compute_mib": runner.compute_buffer_bytes() / 2**20,
        }
    finally:
        runner.close()


def _llama_cpp(
    path: Path, c: int, kv_type: str, threads: int, steps: int, vocab: int, gpu: bool
) -> dict[str, Any]:
    import llama_cpp

    # as engine.bench runs it: on a GPU every layer offloaded with flash attention
    offload = {"n_gpu_layers": -1, "flash_attn": True} if gpu else {}
    if kv_type == "q8_0":  # llama.cpp needs flash attention for a block-type V cache
        offload["flash_attn"] = True
    ll = llama_cpp.Llama(
        str(path),
        n_ctx=c + steps + 8,
        n_batch=512,
        n_threads=threads,
        n_threads_batch=threads,
        type_k=LLAMA_CACHE_TYPES[kv_type],
        type_v=LLAMA_CACHE_TYPES[kv_type],
        verbose=False,
        **offload,  # on the CPU llama.cpp needs flash attention for a block-type V cache
    )
    try:
        n_vocab = ll.n_vocab()

        def last() -> int:
            return int(np.argmax(np.ctypeslib.as_array(ll._ctx.get_logits(), shape=(n_vocab,))))

        prompt = _prompt(c, vocab)
        ll.eval(prompt[:16])
        ll.reset()
        start = time.perf_counter()
        ll.eval(prompt)
        prefill_s = time.perf_counter() - start

        def step(token: int) -> int:
            ll.eval([token])
            return last()

        ms = _decode_ms(step, last(), steps)
        return {"decode_ms": ms, "decode_tok_s": 1e3 / ms, "prefill_tok_s": c / prefill_s}
    finally:
        ll.close()


def context_sweep(
    path: Path,
    contexts: list[int],
    *,
    kv_type: str = "f16",
    fill: str = "prefill",
    chunk: int = 512,
    decode_tokens: int = 16,
    threads: int | None = None,
    llama_cpp: bool = True,
    device: str = "auto",
    memory_limit: int | str | None = None,
    kernels: str | None = None,
    progress=None,  # noqa: ANN001 - callable(str) or None
) -> dict[str, Any]:
    """The sweep's figures (module doc); `memory_limit` (bytes or text like "8G") stands in for
    the machine's available memory in the check that marks a length that does not fit."""
    if fill not in FILLS:
        raise ValueError(f"fill must be one of {', '.join(FILLS)}, got {fill!r}")
    if isinstance(memory_limit, str):
        memory_limit = parse_bytes(memory_limit)
    model = open_model(path)
    cfg = model.config
    backend = Backend(device, threads)
    weights = Weights(model, backend)
    with_llama = llama_cpp and fill == "prefill" and cfg.arch == "llama" and kv_type in LLAMA_CACHE_TYPES
    rows = []
    try:
        for c in contexts:
            if progress:
                progress(f"context {c}: ours")
            row: dict[str, Any] = {
                "context": c,
                "ours": _ours(
                    model, backend, weights, c, kv_type, fill, chunk, decode_tokens, memory_limit, kernels
                ),
            }
            if with_llama and "error" not in row["ours"]:
                if progress:
                    progress(f"context {c}: llama-cpp-python")
                theirs = _llama_cpp(
                    path, c, kv_type, backend.threads, decode_tokens, cfg.vocab_size, not backend.is_cpu
                )
                row["llama_cpp"] = theirs
                row["decode_ratio"] = row["ours"]["decode_tok_s"] / theirs["decode_tok_s"]
                row["prefill_ratio"] = row["ours"]["prefill_tok_s"] / theirs["prefill_tok_s"]
            rows.append(row)
    finally:
        weights.close()
        backend.close()
    return {
        "model": str(path),
        "arch": cfg.arch,
        "loops": cfg.loops,
        "layers": cfg.num_layers,
        "trained_context": cfg.context_length,
        "kv_type": kv_type,
        "fill": fill,
        "chunk": chunk,
        "threads": backend.threads,
        "decode_tokens": decode_tokens,
        "rows": rows,
    }
