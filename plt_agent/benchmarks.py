"""The engine benchmark: fused vs serial vs single-loop on the same weights, and vs llama.cpp.

All variants share one copy of the weights (one memory map) and run side by side in one
process, interleaved round by round, so ratios are robust to a noisy machine even when the
absolute figures are not. Decode cost is the median time of one step after a prompt;
prefill is tokens per second over the whole prompt.

Figures (JSON keys):
- `fused_over_single`: decode step time, fused L-loop / one loop (PLT's promise: ~1.1-1.3x);
- `serial_over_fused`: decode step time, serial L-loop / fused (what fusion saves, ~L x);
- `ours_over_llamacpp`: decode tokens/s, our single loop / llama-cpp-python (llama files only);
- KV bytes per token for each variant (equal: the rings are a constant), peak RSS.
"""

from __future__ import annotations

import resource
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine import ggml
from engine.backend import Backend, Weights
from engine.gguf_file import open_model
from engine.runtime import Runner


@dataclass
class Variant:
    name: str
    runner: Runner
    prefill_s: list[float] = field(default_factory=list)
    step_s: list[float] = field(default_factory=list)


def _ids(n: int, vocab: int, seed: int = 0) -> list[int]:
    return [int(x) for x in np.random.default_rng(seed).integers(10, min(vocab, 30000), size=n)]


def _measure(v: Variant, prompt: list[int], steps: int) -> None:
    r = v.runner
    r.reset()
    start = time.perf_counter()
    logits = r.prefill(prompt, chunk=512)
    v.prefill_s.append(time.perf_counter() - start)
    token = int(np.argmax(logits[-1]))
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        token = int(np.argmax(r.decode(token)))
        times.append(time.perf_counter() - start)
    v.step_s.append(statistics.median(times))


def _llama_cpp(
    path: Path, prompt: list[int], steps: int, threads: int, rounds: int, ctx: int
) -> dict[str, float]:
    import llama_cpp

    ll = llama_cpp.Llama(
        str(path), n_ctx=ctx, n_batch=512, n_threads=threads, n_threads_batch=threads, verbose=False
    )
    n_vocab = ll.n_vocab()

    def last_token() -> int:  # the last row of logits, read as ours are (without logits_all)
        return int(np.argmax(np.ctypeslib.as_array(ll._ctx.get_logits(), shape=(n_vocab,))))

    prefill, step = [], []
    for _ in range(rounds):
        ll.reset()
        start = time.perf_counter()
        ll.eval(prompt)
        prefill.append(time.perf_counter() - start)
        token, times = last_token(), []
        for _ in range(steps):
            start = time.perf_counter()
            ll.eval([token])
            token = last_token()
            times.append(time.perf_counter() - start)
        step.append(statistics.median(times))
    return {
        "prefill_tok_s": len(prompt) / statistics.median(prefill),
        "decode_tok_s": 1 / statistics.median(step),
    }


def bench_engine(
    path: Path,
    *,
    threads: int | None = None,
    prompt_tokens: int = 256,
    decode_tokens: int = 32,
    rounds: int = 3,
    llama_cpp: bool = True,
    device: str = "auto",
    progress=None,  # noqa: ANN001
) -> dict[str, Any]:
    model = open_model(path)
    cfg = model.config
    backend = Backend(device, threads)
    weights = Weights(model, backend)
    ctx = prompt_tokens + decode_tokens + 8
    variants = [Variant("fused", Runner(model, n_ctx=ctx, backend=backend, weights=weights))]
    if cfg.loops > 1:
        variants.append(
            Variant(
                "serial", Runner(model, n_ctx=ctx, backend=backend, weights=weights, decode_mode="serial")
            )
        )
        variants.append(
            Variant("single", Runner(model, n_ctx=ctx, backend=backend, weights=weights, loops=1))
        )
    prompt = _ids(prompt_tokens, cfg.vocab_size)
    _measure(variants[0], prompt[:16], 2)  # warm-up: page the weights in, build graphs
    variants[0].prefill_s.clear()
    variants[0].step_s.clear()
    for i in range(rounds):
        for v in variants[i % len(variants) :] + variants[: i % len(variants)]:  # rotate the order
            if progress:
                progress(f"round {i + 1}/{rounds}: {v.name}")
            _measure(v, prompt, decode_tokens)
    result = _summary(path, cfg, backend, variants, prompt_tokens)
    if llama_cpp and cfg.arch == "llama":
        if progress:
            progress("llama-cpp-python on the same file")
        theirs = _llama_cpp(path, prompt, decode_tokens, backend.threads, rounds, ctx)
        ours = result["variants"]["fused"]
        result["llama_cpp"] = theirs
        result["ours_over_llamacpp"] = ours["decode_tok_s"] / theirs["decode_tok_s"]
        result["ours_over_llamacpp_prefill"] = ours["prefill_tok_s"] / theirs["prefill_tok_s"]
    for v in variants:
        v.runner.close()
    weights.close()
    backend.close()
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _summary(
    path: Path, cfg, backend: Backend, variants: list[Variant], prompt_tokens: int
) -> dict[str, Any]:  # noqa: ANN001
    out: dict[str, Any] = {
        "model": str(path),
        "arch": cfg.arch,
        "loops": cfg.loops,
        "layers": cfg.num_layers,
        "hidden": cfg.hidden_size,
        "weights_mib": round(path.stat().st_size / 2**20, 1),
        "matrix_type": ggml.lib()
        .ggml_type_name(open_model(path).tensors["blk.0.attn_q.weight"].ggml_type)
        .decode(),
        "backend": backend.name,
        "threads": backend.threads,
        "prompt_tokens": prompt_tokens,
        "variants": {},
    }
    for v in variants:
        step = statistics.median(v.step_s)
        out["variants"][v.name] = {
            "loops": v.runner.loops,
            "decode_step_ms": round(step * 1e3, 3),
            "decode_tok_s": 1 / step,
            "prefill_tok_s": prompt_tokens / statistics.median(v.prefill_s),
            "kv_bytes_per_token": v.runner.state.kv_bytes_per_token(),
            "constant_state_bytes": v.runner.state.constant_bytes(),
        }
    vs = out["variants"]
    if "single" in vs:
        out["fused_over_single"] = vs["fused"]["decode_step_ms"] / vs["single"]["decode_step_ms"]
        out["serial_over_fused"] = vs["serial"]["decode_step_ms"] / vs["fused"]["decode_step_ms"]
    return out
