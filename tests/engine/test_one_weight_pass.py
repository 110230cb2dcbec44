"""A fused decode step reads every weight matrix ONCE, for all loops' rows together.

The parity tests cannot see this: a graph that ran the loops one after another over the
weights (a silently serial step) computes the same logits. So this test reads the built
decode graph itself and counts, for each weight matrix, the nodes that multiply it (ggml's
MUL_MAT or the loop kernels' CUSTOM mat-vec) and the activation rows each one carries. The
same count on the serial step's graph (one-token prefill, the vendor's layout) finds L
passes: the check can fail.
"""

from __future__ import annotations

import ctypes as C
from collections import defaultdict

import pytest

from engine import ggml, loopkernels
from engine.arch import Tensors
from engine.gguf_file import open_model
from engine.graph import Plan
from engine.runtime import Runner

KERNELS = ["ggml"] + (["loop"] if loopkernels.best_isa() else [])


def _passes(runner: Runner, plan: Plan) -> dict[str, list[int]]:
    """weight name -> the row count of every graph node that multiplies that weight."""
    g = ggml.lib()
    names = {C.addressof(t.contents): name for name, t in runner.weights.tensors.items()}
    built = runner.builder.build(plan)
    try:
        found: dict[str, list[int]] = defaultdict(list)
        for i in range(g.ggml_graph_n_nodes(built.graph)):
            node = g.ggml_graph_node(built.graph, i).contents
            if node.op not in (ggml.OP_MUL_MAT, ggml.OP_CUSTOM) or not node.src[0]:
                continue
            name = names.get(node.src[0])
            if name is not None:
                found[name].append(int(node.ne[1]))
        return found
    finally:
        g.ggml_free(built.ctx)


def _matrices(cfg) -> list[str]:  # noqa: ANN001 - PLTConfig
    per_layer = (Tensors.ATTN_Q, Tensors.ATTN_K, Tensors.ATTN_V, Tensors.ATTN_OUT)
    per_layer += (Tensors.FFN_GATE, Tensors.FFN_UP, Tensors.FFN_DOWN)
    return [t.format(i=j) for j in range(cfg.num_layers) for t in per_layer]


@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize("outtype", ["q8_0", "f32"])
@pytest.mark.parametrize("loops", [2, 3])
def test_fused_decode_reads_each_weight_once_for_all_loops(tiny_gguf, outtype, loops, kernels):
    model = open_model(tiny_gguf(outtype, loops=loops))
    with Runner(model, n_ctx=64, threads=1, kernels=kernels) as runner:
        found = _passes(runner, Plan("decode", 1, 64))
        if kernels == "loop" and outtype == "q8_0":  # the loop kernels did run here
            assert runner.kernels.name == "loop"
    cfg = model.config
    for name in _matrices(cfg):
        assert found[name] == [loops], f"{name}: passes with rows {found[name]}, expected one pass of {loops}"
    for j in range(cfg.num_layers):  # the gate reads the rows of loops 1..L-1, once
        assert found[Tensors.PLT_GATE.format(i=j)] == [loops - 1]
    assert found[Tensors.OUTPUT] == [1]  # logits of the last loop only


@pytest.mark.parametrize("kernels", KERNELS)
def test_the_count_sees_a_serial_step(tiny_gguf, kernels):
    """The vendor's serial step (a one-token prefill) reads each matrix L times, one row each."""
    model = open_model(tiny_gguf("q8_0", loops=3))
    with Runner(model, n_ctx=64, threads=1, kernels=kernels) as runner:
        found = _passes(runner, Plan("prefill", 1, 64, all_logits=True))
    for name in _matrices(model.config):
        assert found[name] == [1, 1, 1]
