"""libpltk's decode attention (two custom ops: partial over key spans, then merge).

Each case runs the ops on random F32 queries and random F16 or Q8_0 caches (K and V as
position rows), with masked keys, one mask row shared by all query rows (a decode step) or a row per
query row (a short chunk), several head groupings, 1-4 rows, spans from one key to thousands
(so the key range is split into several spans per KV head) and every thread count up to the
cores, and compares with softmax(scale q.k + mask) v computed in float64 from the same F16
values: agreement to float rounding (1e-5 of the largest value).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from engine import ggml, loopkernels
from engine.backend import Backend, tensor_to_numpy

ISA = loopkernels.best_isa()
pytestmark = pytest.mark.skipif(
    ISA not in ("avx512", "avx512vnni"), reason="libpltk's decode attention needs AVX-512"
)
LOOP = loopkernels.Kernels("loop", ISA) if ISA else None


Q8_0 = np.dtype([("d", "<f2"), ("qs", "i1", 32)])  # one block of ggml's Q8_0, 34 bytes


def _q8_0(rng: np.random.Generator, shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Random Q8_0 cache rows [n, Hkv, d]: their values (float32, exact) and their blocks."""
    n = shape[0]
    blocks = np.empty((n, shape[1] * shape[2] // 32), dtype=Q8_0)
    blocks["d"] = rng.uniform(0.002, 0.03, blocks.shape)
    blocks["qs"] = rng.integers(-127, 128, (*blocks.shape, 32))
    values = blocks["d"].astype(np.float32)[..., None] * blocks["qs"]
    return values.reshape(shape), blocks


def _attend(backend: Backend, q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray, scale: float,
            n_ctx: int, blocks: tuple | None = None) -> tuple[np.ndarray, list[int]]:  # fmt: skip
    """q [L, H, d] F32, k and v [n_kv, Hkv, d] F16 (or with `blocks`, K's and V's Q8_0 blocks,
    a q8_0 cache), mask [n_kv] (shared) or [L, n_kv] -> ours [L, H, d] and the ops that ran."""
    g = ggml.lib()
    rows, heads, d = q.shape
    n_kv, hkv, _ = k.shape
    ctype = ggml.TYPE_F16 if blocks is None else ggml.TYPE_Q8_0
    ctx = g.ggml_init(
        ggml.ggml_init_params(
            16 * g.ggml_tensor_overhead() + g.ggml_graph_overhead_custom(16, False), None, True
        )
    )
    try:
        qt = g.ggml_new_tensor_3d(ctx, ggml.TYPE_F32, d, heads, rows)
        kt = g.ggml_new_tensor_2d(ctx, ctype, hkv * d, n_ctx)  # a cache longer than the span
        vt = g.ggml_new_tensor_2d(ctx, ctype, hkv * d, n_ctx)
        mt = g.ggml_new_tensor_2d(ctx, ggml.TYPE_F16, n_kv, 1 if mask.ndim == 1 else rows)
        out = LOOP.attend(ctx, qt, kt, vt, mt, scale)
        assert out is not None
        graph = g.ggml_new_graph_custom(ctx, 16, False)
        g.ggml_build_forward_expand(graph, out)
        alloc = g.ggml_gallocr_new(g.ggml_backend_get_default_buffer_type(backend.handle))
        try:
            assert g.ggml_gallocr_alloc_graph(alloc, graph)
            if blocks is None:  # NaN past the span: never read
                kc, vc = (np.full((n_ctx, hkv * d), np.nan, dtype=np.float16) for _ in range(2))
                kc[:n_kv], vc[:n_kv] = k.reshape(n_kv, hkv * d), v.reshape(n_kv, hkv * d)
            else:  # blocks with a NaN scale past the span
                kc, vc = (np.zeros((n_ctx, hkv * d // 32), dtype=Q8_0) for _ in range(2))
                kc["d"] = vc["d"] = np.nan
                kc[:n_kv], vc[:n_kv] = blocks
            m2 = np.ascontiguousarray(mask, dtype=np.float16)
            for t, arr in ((qt, np.ascontiguousarray(q, dtype=np.float32)), (kt, kc), (vt, vc), (mt, m2)):
                g.ggml_backend_tensor_set(t, arr.ctypes.data, 0, arr.nbytes)
            backend.compute(graph)
            src = out.contents.src[0]
            ops = [int(out.contents.op)] + ([int(ggml.ggml_tensor.from_address(src).op)] if src else [])
            return tensor_to_numpy(out).reshape(rows, heads, d), ops
        finally:
            g.ggml_gallocr_free(alloc)
    finally:
        g.ggml_free(ctx)


def _reference(q, k, v, mask, scale):  # noqa: ANN001, ANN202
    rows, heads, d = q.shape
    hkv = k.shape[1]
    mask = np.broadcast_to(mask, (rows, k.shape[0]))
    group = heads // hkv
    kf, vf = k.astype(np.float64), v.astype(np.float64)
    out = np.zeros((rows, heads, d))
    for hq in range(heads):
        h = hq // group
        s = q[:, hq].astype(np.float64) @ kf[:, h].T * scale + mask.astype(np.float64)  # [rows, n_kv]
        p = np.exp(s - s.max(axis=1, keepdims=True))
        out[:, hq] = (p / p.sum(axis=1, keepdims=True)) @ vf[:, h]
    return out


CASES = [  # (n_kv, heads, hkv, d, rows)
    (1, 4, 4, 64, 1),
    (17, 20, 4, 128, 2),
    (65, 40, 8, 128, 1),
    (100, 20, 4, 128, 3),
    (300, 8, 2, 64, 4),
    (2100, 10, 2, 128, 2),
    (700, 4, 1, 256, 1),
]


@pytest.mark.parametrize("cache", ["f16", "q8_0"])
@pytest.mark.parametrize("per_row", [False, True])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c)))
def test_attention_matches_float64(case, per_row, cache):
    n_kv, heads, hkv, d, rows = case
    rng = np.random.default_rng(n_kv * 7 + heads + rows)
    q = rng.standard_normal((rows, heads, d)).astype(np.float32) * 2
    k = rng.standard_normal((n_kv, hkv, d)).astype(np.float16)
    v = rng.standard_normal((n_kv, hkv, d)).astype(np.float16)
    blocks = None
    if cache == "q8_0":
        (k, kb), (v, vb) = _q8_0(rng, k.shape), _q8_0(rng, v.shape)
        blocks = (kb, vb)
    mask = np.zeros((rows, n_kv) if per_row else n_kv, dtype=np.float32)
    if n_kv > 1:  # some keys masked, the first never; with a row per query, causal-like too
        mask[..., 1:][rng.random(mask[..., 1:].shape) < 0.3] = -np.inf
        if per_row:
            for r in range(rows):
                mask[r, n_kv - rows + r + 1 :] = -np.inf
    scale = 1 / np.sqrt(d)
    want = _reference(q, k, v, mask, scale)
    for threads in range(1, len(os.sched_getaffinity(0)) + 1):
        backend = Backend("cpu", threads)
        try:
            got, ops = _attend(
                backend, q, k, v, mask.astype(np.float16), scale, n_ctx=n_kv + 37, blocks=blocks
            )
        finally:
            backend.close()
        assert ops == [ggml.OP_CUSTOM, ggml.OP_CUSTOM]
        err = np.abs(got - want).max() / np.abs(want).max()
        assert err <= 1e-5, f"{threads} threads: max rel diff {err:.2e}"


def test_a_masked_key_does_not_count():
    """The same keys with one of them masked give the result without that key."""
    # (the kernel skips keys every row masks; this checks the skip drops exactly that key)
    rng = np.random.default_rng(3)
    q = rng.standard_normal((2, 8, 64)).astype(np.float32)
    k = rng.standard_normal((40, 2, 64)).astype(np.float16)
    v = rng.standard_normal((40, 2, 64)).astype(np.float16)
    mask = np.zeros(40, dtype=np.float16)
    mask[7] = -np.inf
    backend = Backend("cpu", 2)
    try:
        got, _ = _attend(backend, q, k, v, mask, 0.125, n_ctx=64)
        without, _ = _attend(
            backend, q, np.delete(k, 7, 0), np.delete(v, 7, 0), np.delete(mask, 7), 0.125, n_ctx=64
        )
        full, _ = _attend(backend, q, k, v, np.zeros(40, dtype=np.float16), 0.125, n_ctx=64)
    finally:
        backend.close()
    np.testing.assert_allclose(got, without, rtol=0, atol=1e-5)
    assert np.abs(got - full).max() > 1e-3


def test_spans_split_each_head_and_fit_the_scratch():
    for n_kv, hkv, cols in [(1, 8, 10), (256, 4, 10), (16384, 8, 10), (5000, 1, 64), (100, 2, 40)]:
        chunks = loopkernels.attn_chunks(n_kv, hkv, cols)
        span = (-(-n_kv // chunks) + 15) // 16 * 16
        assert span * chunks >= n_kv
        assert span * cols <= loopkernels.ATTN_SCRATCH
        assert hkv * chunks >= min(loopkernels.ATTN_ITEMS, hkv * -(-n_kv // 16))


def test_not_taken_where_it_does_not_apply():
    """An F32 cache, a head size that is not a multiple of 16 (32 with q8_0), K and V of two
    types, too few mask rows, or ggml's kernels: None."""
    g = ggml.lib()
    ctx = g.ggml_init(ggml.ggml_init_params(16 * g.ggml_tensor_overhead(), None, True))
    try:
        q = g.ggml_new_tensor_3d(ctx, ggml.TYPE_F32, 64, 4, 1)
        k16 = g.ggml_new_tensor_2d(ctx, ggml.TYPE_F16, 128, 32)
        k32 = g.ggml_new_tensor_2d(ctx, ggml.TYPE_F32, 128, 32)
        m = g.ggml_new_tensor_2d(ctx, ggml.TYPE_F16, 32, 1)
        assert LOOP.attend(ctx, q, k16, k16, m, 0.1) is not None
        assert LOOP.attend(ctx, q, k32, k32, m, 0.1) is None
        assert loopkernels.GGML.attend(ctx, q, k16, k16, m, 0.1) is None
        q40 = g.ggml_new_tensor_3d(ctx, ggml.TYPE_F32, 40, 4, 1)
        k40 = g.ggml_new_tensor_2d(ctx, ggml.TYPE_F16, 80, 32)
        assert LOOP.attend(ctx, q40, k40, k40, m, 0.1) is None
        k8 = g.ggml_new_tensor_2d(ctx, ggml.TYPE_Q8_0, 128, 32)
        assert LOOP.attend(ctx, q, k8, k8, m, 0.1) is not None  # q8_0, head size 64
        assert LOOP.attend(ctx, q, k8, k16, m, 0.1) is None  # K and V of different types
        q16 = g.ggml_new_tensor_3d(ctx, ggml.TYPE_F32, 16, 4, 1)
        assert LOOP.attend(ctx, q16, k8, k8, m, 0.1) is None  # q8_0 blocks would straddle heads
        q3 = g.ggml_new_tensor_3d(ctx, ggml.TYPE_F32, 64, 4, 3)
        m2 = g.ggml_new_tensor_2d(ctx, ggml.TYPE_F16, 32, 2)
        assert LOOP.attend(ctx, q3, k16, k16, m2, 0.1) is None
    finally:
        g.ggml_free(ctx)


def test_a_decode_step_attends_through_ours(tiny_gguf):
    """The fused decode graph uses our attention for every layer's global cache and every later
    loop's window (a silent fall back to ggml's ops would still pass the parity tests), and
    `--kernels ggml` none of it. (q8_0: test_long_context's decode accuracy test.)"""
    from engine.gguf_file import open_model
    from engine.graph import Plan
    from engine.runtime import Runner

    model = open_model(tiny_gguf("q8_0", loops=3))
    cfg = model.config
    counts = {}
    for kernels in ("loop", "ggml"):
        with Runner(model, n_ctx=64, threads=1, kernels=kernels) as runner:  # f16 cache
            built = runner.builder.build(Plan("decode", 1, 64))
            g = ggml.lib()
            try:
                nodes = [
                    g.ggml_graph_node(built.graph, i).contents
                    for i in range(g.ggml_graph_n_nodes(built.graph))
                ]
                counts[kernels] = sum(
                    1 for n in nodes if n.op == ggml.OP_CUSTOM and n.src[3]
                )  # q, k, v, mask
                assert runner.state.v_trans == (kernels == "ggml")  # V as rows for ours
            finally:
                g.ggml_free(built.ctx)
    assert counts == {"loop": cfg.num_layers * 3, "ggml": 0}  # global + two windows per layer
