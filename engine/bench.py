"""The engine benchmark: fused vs serial vs single-loop on the same weights, and vs llama.cpp.

All variants share one copy of the weights (one memory map) and run side by side in one
process. In each round every variant prefills the prompt, then they decode step by step in
turn (variant A's step 1, B's step 1, ..., A's step 2, ...), so each step of one variant has a
step of every other next to it in time. A ratio between two variants is the median over the
steps of these neighbours' ratios: a shared machine's speed drifts over seconds (on the 2-core
development VM by 10-20% between whole runs), far slower than one step, so the paired ratios
hold where the absolute figures move. Decode cost is the median time of one step after a
prompt (`steps_ms` lists them all); prefill is tokens per second over the whole prompt.

Figures (JSON keys):
- `fused_over_single`: decode step time, fused L-loop / one loop (PLT's promise: ~1.1-1.3x);
- `serial_over_fused`: decode step time, serial L-loop / fused (what fusion saves, ~L x);
- `ours_over_llamacpp`: decode tokens/s, our single loop / llama-cpp-python (llama files
  only; medians: llama-cpp-python runs its own rounds after ours, not paired);
- `rows_over_single`: L tokens pushed through the single loop in one pass / one token: the
  cost of L rows through these weights on this machine, which a fused step cannot beat
  (medians: the passes run after the round's steps, not paired);
- `yardstick`: one of the model's own FFN matrices multiplied by L columns vs one column, on
  the same backend: the least a fused step can cost relative to a single-loop one on this
  hardware and this ggml (a compute-bound kernel pays ~L x, a bandwidth-bound one much less);
- KV bytes per token for each variant (equal: the rings are a constant), peak RSS.

IQuest-Coder-V1-Loop files (plt-model.md §5) have no fused step: loop 1 at step t needs loop
0's output at step t, so their decode is two passes over the weights. Their variants are
`serial` and `single`, the figure is `serial_over_single`, and `note` says so; every variant
reports `decode_passes`.

Kernels (`kernels`: auto, ggml or loop, see engine.loopkernels): the variants above run on the
chosen kernels, reported under `kernels` (and per variant). With `kernels="loop"` ggml's run
side by side as `fused_ggml` and `single_ggml`, giving `fused_speedup_over_ggml` and
`single_speedup_over_ggml` (ggml's step time / ours) and `fused_over_single_ggml`, and
`yardstick_loop` repeats the yardstick with our kernels.
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
from engine.loopkernels import GGML, Kernels
from engine.runtime import Runner


@dataclass
class Variant:
    name: str
    runner: Runner
    prefill_s: list[float] = field(default_factory=list)
    step_s: list[float] = field(default_factory=list)
    rows: int = 0  # also time pushing this many tokens at once through the weights (one pass)
    rows_s: list[float] = field(default_factory=list)


def _ids(n: int, vocab: int, seed: int = 0) -> list[int]:
    return [int(x) for x in np.random.default_rng(seed).integers(10, min(vocab, 30000), size=n)]


def _round(variants: list[Variant], prompt: list[int], steps: int) -> None:
    """One round: each variant prefills `prompt`, then they decode `steps` tokens in turn."""
    tokens = []
    for v in variants:
        v.runner.reset()
        start = time.perf_counter()
        logits = v.runner.prefill(prompt, chunk=512)
        v.prefill_s.append(time.perf_counter() - start)
        tokens.append(int(np.argmax(logits[-1])))
    for _ in range(steps):
        for i, v in enumerate(variants):
            start = time.perf_counter()
            tokens[i] = int(np.argmax(v.runner.decode(tokens[i])))
            v.step_s.append(time.perf_counter() - start)
    for v, token in zip(variants, tokens, strict=True):
        if v.rows:
            times = []
            for _ in range(steps):
                start = time.perf_counter()
                v.runner.prefill([token] * v.rows)
                times.append(time.perf_counter() - start)
            v.rows_s.append(statistics.median(times))


def _paired(a: Variant, b: Variant) -> float:
    """Median over the steps of a's step time / b's step time next to it."""
    return statistics.median(x / y for x, y in zip(a.step_s, b.step_s, strict=True))


def _llama_cpp(
    path: Path,
    prompt: list[int],
    steps: int,
    threads: int,
    rounds: int,
    ctx: int,
    kv_type: str = "f16",
    gpu: bool = False,
) -> dict[str, float]:
    import llama_cpp

    from engine.context_sweep import LLAMA_CACHE_TYPES

    cache = LLAMA_CACHE_TYPES[kv_type]
    # on a GPU: every layer offloaded and flash attention, as our engine runs there
    offload = {"n_gpu_layers": -1, "flash_attn": True} if gpu else {}
    if kv_type == "q8_0":  # llama.cpp needs flash attention for a block-type V cache
        offload["flash_attn"] = True
    ll = llama_cpp.Llama(
        str(path),
        n_ctx=ctx,
        n_batch=512,
        n_threads=threads,
        n_threads_batch=threads,
        type_k=cache,
        type_v=cache,
        verbose=False,
        **offload,
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


def _matvec_ms(backend: Backend, w, cols: int, repeats: int, kernels: Kernels) -> list[float]:  # noqa: ANN001
    g = ggml.lib()
    ctx = g.ggml_init(
        ggml.ggml_init_params(
            8 * g.ggml_tensor_overhead() + g.ggml_graph_overhead_custom(8, False), None, True
        )
    )
    x = g.ggml_new_tensor_2d(ctx, ggml.TYPE_F32, w.contents.ne[0], cols)
    g.ggml_set_input(x)
    graph = g.ggml_new_graph_custom(ctx, 8, False)
    g.ggml_build_forward_expand(graph, kernels.matmul(ctx, w, x, {}))
    alloc = g.ggml_gallocr_new(g.ggml_backend_get_default_buffer_type(backend.handle))
    try:
        g.ggml_gallocr_alloc_graph(alloc, graph)
        values = np.full(w.contents.ne[0] * cols, 0.01, dtype=np.float32)
        g.ggml_backend_tensor_set(x, values.ctypes.data, 0, values.nbytes)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            backend.compute(graph)
            times.append(time.perf_counter() - start)
        return times
    finally:
        g.ggml_gallocr_free(alloc)
        g.ggml_free(ctx)


def _yardstick(
    backend: Backend, weights: Weights, cols: int, kernels: Kernels = GGML, rounds: int = 5
) -> dict[str, Any]:
    """One FFN matrix times `cols` columns vs one column, interleaved; medians in ms."""
    name = "blk.0.ffn_up.weight"
    w = weights.get(name)
    one: list[float] = []
    many: list[float] = []
    for _ in range(rounds):
        one += _matvec_ms(backend, w, 1, 10, kernels)
        many += _matvec_ms(backend, w, cols, 10, kernels)
    t1, tn = statistics.median(one) * 1e3, statistics.median(many) * 1e3
    kind = ggml.lib().ggml_type_name(w.contents.type).decode()
    shape = [int(w.contents.ne[1]), int(w.contents.ne[0])]
    return {
        "matrix": name,
        "type": kind,
        "shape": shape,
        "columns": cols,
        "one_col_ms": round(t1, 4),
        "cols_ms": round(tn, 4),
        "ratio": tn / t1,
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
    kv_type: str = "f16",
    kernels: str | None = None,
    progress=None,  # noqa: ANN001
) -> dict[str, Any]:
    model = open_model(path)
    cfg = model.config
    backend = Backend(device, threads)
    weights = Weights(model, backend)
    ctx = prompt_tokens + decode_tokens * (1 + cfg.loops) + 8

    def runner(**options: Any) -> Runner:
        return Runner(model, n_ctx=ctx, backend=backend, weights=weights, kv_type=kv_type, **options)

    first = "serial" if cfg.is_v1 else "fused"  # V1 has no fused step: its runner decodes serially
    variants = [Variant(first, runner(kernels=kernels))]
    chosen = variants[0].runner.kernels
    if cfg.loops > 1 and not cfg.is_v1:
        variants.append(Variant("serial", runner(decode_mode="serial", kernels=kernels)))
    if cfg.loops > 1:
        variants.append(Variant("single", runner(loops=1, kernels=kernels), rows=cfg.loops))
    if kernels == "loop":  # ggml's kernels side by side, on the same weights
        variants.append(Variant(f"{first}_ggml", runner(kernels="ggml")))
        if cfg.loops > 1:
            variants.append(Variant("single_ggml", runner(loops=1, kernels="ggml")))
    prompt = _ids(prompt_tokens, cfg.vocab_size)
    _round(variants, prompt[:16], 2)  # warm-up: page the weights in, build every graph
    for v in variants:
        v.prefill_s.clear()
        v.step_s.clear()
        v.rows_s.clear()
    for i in range(rounds):
        if progress:
            progress(f"round {i + 1}/{rounds}: " + ", ".join(v.name for v in variants))
        _round(variants[i % len(variants) :] + variants[: i % len(variants)], prompt, decode_tokens)
    result = _summary(path, cfg, backend, variants, prompt_tokens)
    result["kernels"] = chosen.describe()
    if cfg.loops > 1:
        result["yardstick"] = _yardstick(backend, weights, cfg.loops)
        if kernels == "loop":
            result["yardstick_loop"] = _yardstick(backend, weights, cfg.loops, chosen)
    if llama_cpp and cfg.arch == "llama":
        if progress:
            progress("llama-cpp-python on the same file")
        theirs = _llama_cpp(
            path, prompt, decode_tokens, backend.threads, rounds, ctx, kv_type, gpu=not backend.is_cpu
        )
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
        "family": cfg.family,
        "loops": cfg.loops,
        "layers": cfg.num_layers,
        "hidden": cfg.hidden_size,
        "weights_mib": round(path.stat().st_size / 2**20, 1),
        "kv_type": variants[0].runner.state.kv_type_name,
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
            "decode_passes": v.runner.decode_passes,
            "kernels": v.runner.kernels.name,
            "decode_step_ms": round(step * 1e3, 3),
            "decode_tok_s": 1 / step,
            "steps_ms": [round(t * 1e3, 5) for t in v.step_s],
            "prefill_tok_s": prompt_tokens / statistics.median(v.prefill_s),
            "kv_bytes_per_token": v.runner.state.kv_bytes_per_token(),
            "constant_state_bytes": v.runner.state.constant_bytes(),
        }
    vs = out["variants"]
    by = {v.name: v for v in variants}
    if cfg.is_v1:
        out["note"] = (
            f"IQuest-Coder-V1-Loop: decode is {cfg.loops} passes over the weights per step "
            "(loop 1 needs loop 0's output at the same step; no fused step exists)"
        )
        out["serial_over_single"] = _paired(by["serial"], by["single"])
    elif "single" in by:
        out["fused_over_single"] = _paired(by["fused"], by["single"])
        out["serial_over_fused"] = _paired(by["serial"], by["fused"])
    if "single" in by:
        # the same weights, one loop, L tokens in one pass: what L rows cost here, PLT or not
        rows_ms = statistics.median(by["single"].rows_s) * 1e3
        out["rows_over_single"] = rows_ms / vs["single"]["decode_step_ms"]
    for name in ("fused", "serial", "single"):
        if f"{name}_ggml" in by:
            out[f"{name}_speedup_over_ggml"] = _paired(by[f"{name}_ggml"], by[name])
    if "single_ggml" in by and "fused_ggml" in by:
        out["fused_over_single_ggml"] = _paired(by["fused_ggml"], by["single_ggml"])
    return out
