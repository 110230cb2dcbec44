"""The ggml engine against the PyTorch reference, on converted tiny checkpoints.

Parity targets (issue 3): F32 GGUF max error / largest |logit| <= 1e-4 in full, decode and
chunked modes; F16 <= 1e-2; Q8_0 top-1 agreement >= 98%. Prompts are longer than 3x the
window so ring eviction and carries are exercised.
"""

from __future__ import annotations

import pytest
from engine_helpers import engine_logits, random_ids, rel_err

from engine.reference import reference_logits

N_TOKENS = 37  # > 3 * (W + 1) for the default W = 4 and for W = 6 below


def _ids(n: int = N_TOKENS, seed: int = 0, vocab: int = 384) -> list[int]:
    return random_ids(n, seed, vocab)


VARIANTS = [
    pytest.param({}, id="release-L2-hidden-gate"),
    pytest.param({"loops": 3}, id="L3"),
    pytest.param({"gate": "query"}, id="query-gate"),
    pytest.param({"normalize_per_loop": False}, id="no-norm-between-loops"),
    pytest.param(
        {"window": 6, "kv_heads": 1, "emb_scale": None, "hidden_scale": 0.9, "seed": 3}, id="W6-MQA"
    ),
    pytest.param({"llama": True}, id="llama-1-loop"),
    pytest.param({"llama": True, "tied": True}, id="llama-tied"),
]


@pytest.mark.parametrize("options", VARIANTS)
@pytest.mark.parametrize("mode", ["full", "decode", "chunks:5", "chunks:16"])
def test_f32_gguf_matches_reference(tiny_checkpoint, tiny_gguf, options, mode):
    ids = _ids()
    ref = reference_logits(tiny_checkpoint(**options), ids)
    got = engine_logits(tiny_gguf("f32", **options), ids, mode)
    assert got.shape == ref.shape
    assert rel_err(got, ref) <= 1e-4


def test_serial_decode_equals_fused_decode(tiny_gguf):
    path, ids = tiny_gguf("f32", loops=3), _ids()
    fused = engine_logits(path, ids, "decode", decode_mode="fused")
    serial = engine_logits(path, ids, "decode", decode_mode="serial")
    assert rel_err(serial, fused) <= 1e-4  # same math; float sums in another order


def test_f16_gguf_within_1e_2(tiny_checkpoint, tiny_gguf):
    ids = _ids()
    ref = reference_logits(tiny_checkpoint(), ids)
    for mode in ("full", "decode", "chunks:7"):
        assert rel_err(engine_logits(tiny_gguf("f16"), ids, mode), ref) <= 1e-2


def test_wrong_model_is_detected_by_the_parity_check(tiny_checkpoint, tiny_gguf):
    """The comparison above can fail: another seed's weights are far from the reference."""
    ids = _ids()
    ref = reference_logits(tiny_checkpoint(), ids)
    assert rel_err(engine_logits(tiny_gguf("f32", seed=9), ids, "full"), ref) > 0.05
