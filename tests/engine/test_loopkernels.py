"""The loop-aware kernels (engine/kernels, libpltk.so) against ggml's own mul_mat.

Each case multiplies random quantized weights with 1..4 random F32 rows twice on the same
backend, once with `ggml_mul_mat` and once with our two custom ops (quantize, matvec), for
every weight type, every instruction set this CPU has, ragged row counts and every thread
count up to the cores. Both quantize the activations with ggml's quantizer, so the integer
dot products are identical and only float summation order may differ: the results must
agree to float rounding (max |diff| <= 1e-5 x max |result|).
"""

from __future__ import annotations

import ctypes as C
import os

import numpy as np
import pytest

from engine import ggml, loopkernels
from engine.backend import Backend, tensor_to_numpy

pytestmark = pytest.mark.skipif(loopkernels.best_isa() is None, reason="libpltk.so is not built")

TYPES = {"q4_k": ggml.TYPE_Q4_K, "q6_k": ggml.TYPE_Q6_K, "q8_0": ggml.TYPE_Q8_0, "q4_0": ggml.TYPE_Q4_0}
SHAPES = [(37, 512), (129, 1280), (5, 256), (300, 2560)]  # (weight rows n, values per row k)
Q0_SHAPES = [(37, 32), (65, 96), (3, 160), (9, 192), (130, 2080)]  # block counts 4q+1, +2, +3
LONG_ROWS = [(19, 6944)]  # 54 quads + 1 block: packed rows of 10 KB each
# K-quant rows whose packed activations outgrow L1 together: at 6144 values 2-3 rows still fit
# (the Q4_K kernel pairs them), 4 do not; at 27,648 (LoopCoder-V2's FFN down) not even one
LONG_K_ROWS = [(23, 6144), (11, 27648)]


def _isas() -> list[str]:
    best = loopkernels.best_isa()
    return [] if best is None else list(loopkernels.ISAS[: loopkernels.ISAS.index(best) + 1])


def _threads() -> list[int]:
    return list(range(1, len(os.sched_getaffinity(0)) + 1))


class _Case:
    """Quantized random weights in a CPU buffer, plus graphs that multiply them."""

    def __init__(self, gtype: int, n: int, k: int, seed: int):
        self.g = g = ggml.lib()
        rng = np.random.default_rng(seed)
        values = (rng.standard_normal((n, k)) * rng.uniform(0.2, 2.0, size=(n, 1))).astype(np.float32)
        size = int(g.ggml_row_size(gtype, k)) * n
        self.raw = np.zeros(size + 64, dtype=np.uint8)
        self.data = self.raw[(-self.raw.ctypes.data) % 64 :][:size]
        done = g.ggml_quantize_chunk(
            gtype, values.ctypes.data_as(C.POINTER(C.c_float)), self.data.ctypes.data, 0, n, k, None
        )
        assert done == size
        self.ctx = g.ggml_init(ggml.ggml_init_params(4 * g.ggml_tensor_overhead(), None, True))
        self.w = g.ggml_new_tensor_2d(self.ctx, gtype, k, n)
        self.buf = g.ggml_backend_cpu_buffer_from_ptr(self.data.ctypes.data, size)
        g.ggml_backend_tensor_alloc(self.buf, self.w, self.data.ctypes.data)
        self.n, self.k = n, k

    def run(self, backend: Backend, x: np.ndarray, kernels: loopkernels.Kernels) -> tuple[np.ndarray, int]:
        g, rows = self.g, x.shape[0]
        ctx = g.ggml_init(
            ggml.ggml_init_params(
                32 * g.ggml_tensor_overhead() + g.ggml_graph_overhead_custom(32, False), None, True
            )
        )
        try:
            xt = g.ggml_new_tensor_2d(ctx, ggml.TYPE_F32, self.k, rows)
            out = kernels.matmul(ctx, self.w, xt, {})
            graph = g.ggml_new_graph_custom(ctx, 32, False)
            g.ggml_build_forward_expand(graph, out)
            alloc = g.ggml_gallocr_new(g.ggml_backend_get_default_buffer_type(backend.handle))
            try:
                assert g.ggml_gallocr_alloc_graph(alloc, graph)
                arr = np.ascontiguousarray(x, dtype=np.float32)
                g.ggml_backend_tensor_set(xt, arr.ctypes.data, 0, arr.nbytes)
                backend.compute(graph)
                op = out.contents.op
                return tensor_to_numpy(out).reshape(rows, self.n), op
            finally:
                g.ggml_gallocr_free(alloc)
        finally:
            g.ggml_free(ctx)

    def close(self) -> None:
        self.g.ggml_backend_buffer_free(self.buf)
        self.g.ggml_free(self.ctx)


def _random_rows(rows: int, k: int) -> np.ndarray:
    return np.random.default_rng(100 + rows).standard_normal((rows, k)).astype(np.float32)


def _check(name: str, shapes: list[tuple[int, int]], make_x=_random_rows) -> None:
    gtype = TYPES[name]
    for threads in _threads():
        backend = Backend("cpu", threads)
        try:
            for s, (n, k) in enumerate(shapes):
                case = _Case(gtype, n, k, seed=s)
                try:
                    for rows in range(1, loopkernels.MAX_ROWS + 1):
                        x = make_x(rows, k)
                        want, op = case.run(backend, x, loopkernels.GGML)
                        assert op == ggml.OP_MUL_MAT
                        for isa in _isas():
                            got, op = case.run(backend, x, loopkernels.Kernels("loop", isa))
                            assert op == ggml.OP_CUSTOM  # ours ran, not a silent ggml fallback
                            err = float(np.abs(got - want).max() / np.abs(want).max())
                            assert err <= 1e-5, (
                                f"{name} {isa} n={n} k={k} rows={rows} threads={threads}: {err:.2e}"
                            )
                finally:
                    case.close()
        finally:
            backend.close()


@pytest.mark.parametrize("name", ["q4_k", "q6_k"])
def test_k_quant_kernels_match_ggml_mul_mat(name):
    _check(name, SHAPES + LONG_K_ROWS)


@pytest.mark.parametrize("name", ["q8_0", "q4_0"])
def test_32_value_kernels_match_ggml_mul_mat(name):
    _check(name, Q0_SHAPES + SHAPES[:2] + LONG_ROWS)


def _extreme_rows(rows: int, k: int) -> np.ndarray:
    """Rows whose 8-bit values are all +-127 (each block's largest value is its scale): one of
    +1s, one of -1s, one whose sign flips every 16 values, one of -3s."""
    i = np.arange(k)
    table = np.stack([np.ones(k), -np.ones(k), np.where(i // 16 % 2, -2.0, 2.0), np.full(k, -3.0)])
    return table[:rows].astype(np.float32)


def test_32_value_kernels_at_the_largest_block_sums():
    """The packed 8-bit rows at their extremes: every block's sum at +-32 x 127 (the VNNI
    kernels start a block's accumulator at -128 times it), and every activation at +-127, so
    that where a weight is +-127 too the 16-bit pair sums of the kernels without VNNI reach
    their bound."""
    for name in ("q8_0", "q4_0"):
        _check(name, [(37, 160), (21, 2560)], _extreme_rows)


def test_weights_sharing_one_quantized_input_each_get_their_rows():
    """q/k/v-style: several weights read one input, quantized once; past 8 of them the row
    chunks are split evenly instead of handed out. Every one must give ggml's result, on a
    second run too (the quantize op re-zeroes the chunk counters)."""
    g = ggml.lib()
    cases = [_Case(ggml.TYPE_Q4_K, 40 + 13 * i, 512, seed=i) for i in range(10)]
    x = np.random.default_rng(7).standard_normal((2, 512)).astype(np.float32)
    backend = Backend("cpu", len(os.sched_getaffinity(0)))
    size = 64 * g.ggml_tensor_overhead() + g.ggml_graph_overhead_custom(64, False)
    ctx = g.ggml_init(ggml.ggml_init_params(size, None, True))
    try:
        xt = g.ggml_new_tensor_2d(ctx, ggml.TYPE_F32, 512, 2)
        g.ggml_set_input(xt)
        memo: dict = {}
        kernels = loopkernels.Kernels("loop", loopkernels.best_isa())
        outs = [kernels.matmul(ctx, c.w, xt, memo) for c in cases]
        assert len(memo) == 1  # one quantize node for all ten
        graph = g.ggml_new_graph_custom(ctx, 64, False)
        for out in outs:
            g.ggml_set_output(out)
            g.ggml_build_forward_expand(graph, out)
        alloc = g.ggml_gallocr_new(g.ggml_backend_get_default_buffer_type(backend.handle))
        assert g.ggml_gallocr_alloc_graph(alloc, graph)
        for _ in range(2):
            g.ggml_backend_tensor_set(xt, x.ctypes.data, 0, x.nbytes)  # inputs are set every run
            backend.compute(graph)
            for case, out in zip(cases, outs, strict=True):
                want, _op = case.run(backend, x, loopkernels.GGML)
                got = tensor_to_numpy(out).reshape(2, case.n)
                assert float(np.abs(got - want).max() / np.abs(want).max()) <= 1e-5
        g.ggml_gallocr_free(alloc)
    finally:
        g.ggml_free(ctx)
        for case in cases:
            case.close()
        backend.close()
