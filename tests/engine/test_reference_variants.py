"""The differential tests of plt-model.md §6: each wrong reading of the spec changes the logits.

Each test builds the wrong variant from the same weights and asserts that its logits differ
from the spec's by far more than the paths' rounding (5e-5), and, where the spec lets us derive
it, *where* they must and must not differ. The tiny config uses hidden_scale 0.5 (§6.1), so CLP
is loud. If a variant made no difference, the test could not tell the engine's right from wrong.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from engine.arch import config_from_hf
from engine.reference import Reference, Variant

T = 24  # > 3 * W + 1 with W = 4
CLEAR = 0.05  # a difference 1000x the fp32 agreement of the paths


def tokens(n: int = T, seed: int = 2) -> torch.Tensor:
    return torch.randint(0, 64, (n,), generator=torch.Generator().manual_seed(seed))


@pytest.fixture
def pair(hf_config, random_tensors):
    """Factory: (spec model, wrong-variant model) on the same random weights."""

    def make(variant: Variant, **overrides):
        hf = hf_config(**overrides)
        cfg, tensors = config_from_hf(hf), random_tensors(hf)
        return Reference(cfg, tensors), Reference(cfg, tensors, variant=variant)

    return make


def per_position_gap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).abs().amax(dim=-1)


def test_clp_shift_matters_from_position_zero(pair):
    spec, wrong = pair(Variant(clp_shift=False))
    gap = per_position_gap(spec.logits(tokens()), wrong.logits(tokens()))
    # position 0: the shifted input is a*e_0 (zero carry), the unshifted one adds b*h^(0)_0
    assert gap[0] > CLEAR
    assert gap.max() > 10 * CLEAR
    with pytest.raises(ValueError, match="fused"):
        wrong.logits(tokens(), mode="decode")


@pytest.mark.parametrize("loops", [2, 3])
def test_window_of_w_keys_differs_exactly_from_position_w(pair, loops):
    """W+1 vs W local keys: positions t < W see all of 0..t either way; t = W is the first where
    the W-key window drops position 0."""
    spec, wrong = pair(Variant(local_w_plus_1=False), plt_num_loops=loops)
    gap = per_position_gap(spec.logits(tokens()), wrong.logits(tokens()))
    assert gap[:4].max() < 1e-6
    assert gap[4] > CLEAR
    assert gap[4:].min() > 1e-3


@pytest.mark.parametrize("hidden", [True, False])
def test_gate_weighting_local_instead_of_global(pair, hidden):
    spec, wrong = pair(Variant(gate_weights_global=False), plt_gate_use_hidden_states=hidden)
    gap = per_position_gap(spec.logits(tokens()), wrong.logits(tokens()))
    assert gap.max() > 10 * CLEAR
    assert gap[1:].min() > 1e-3


@pytest.mark.parametrize("gate_input", ["normed", "query", "query_prerope"])
def test_hidden_gate_reading_anything_but_the_layer_input(pair, gate_input):
    """The release gate reads the residual before input_layernorm, not z or the query (§3.4.5)."""
    spec, wrong = pair(Variant(gate_input=gate_input))
    gap = per_position_gap(spec.logits(tokens()), wrong.logits(tokens()))
    assert gap.max() > CLEAR


def test_query_gate_reading_the_query_before_rope(pair):
    """Query mode reads the post-RoPE query; at position 0 RoPE is the identity, so the two
    readings agree there and only there."""
    spec, wrong = pair(Variant(gate_input="query_prerope"), plt_gate_use_hidden_states=False)
    gap = per_position_gap(spec.logits(tokens()), wrong.logits(tokens()))
    assert gap[0] < 1e-6
    assert gap.max() > CLEAR
    assert gap[1:].min() > 1e-4


def test_query_mode_weights_cannot_read_a_hidden_input(pair):
    with pytest.raises(ValueError, match="query-mode"):
        pair(Variant(gate_input="residual"), plt_gate_use_hidden_states=False)


def test_norm_between_loops_present_vs_absent(hf_config, random_tensors):
    hf = hf_config()
    cfg, tensors = config_from_hf(hf), random_tensors(hf)
    assert cfg.normalize_per_loop
    spec = Reference(cfg, tensors).logits(tokens())
    wrong = Reference(dataclasses.replace(cfg, normalize_per_loop=False), tensors).logits(tokens())
    assert per_position_gap(spec, wrong)[1:].min() > 1e-3  # position 0 reads the zero carry only
    assert per_position_gap(spec, wrong).max() > CLEAR


@pytest.mark.parametrize("loops", [2, 3])
def test_global_branch_reading_its_own_loop(pair, loops):
    spec, wrong = pair(Variant(global_from_loop0=False), plt_num_loops=loops)
    gap = per_position_gap(spec.logits(tokens()), wrong.logits(tokens()))
    assert gap.min() > 1e-3
    assert gap.max() > 10 * CLEAR


def test_carry_reset_for_a_new_sequence(pair):
    spec, wrong = pair(Variant(reset_carry=False))
    first, second = tokens(seed=5), tokens(seed=6)
    fresh = spec.logits(second)
    for model, must_match in ((spec, True), (wrong, False)):
        for mode in ("chunks", "decode"):
            cache = model.new_cache()
            model.logits(first, mode=mode, chunk=7, cache=cache)
            assert cache.carry.abs().max() > 0
            cache.reset()
            again = model.logits(second, mode=mode, chunk=7, cache=cache)
            if must_match:
                torch.testing.assert_close(again, fresh, atol=5e-5, rtol=0)
            else:
                assert per_position_gap(again, fresh)[0] > CLEAR


VARIANTS_WITH_DECODE = [
    Variant(local_w_plus_1=False),
    Variant(gate_weights_global=False),
    Variant(gate_input="normed"),
    Variant(gate_input="query"),
    Variant(global_from_loop0=False),
]


@pytest.mark.parametrize("variant", VARIANTS_WITH_DECODE, ids=repr)
def test_wrong_variants_are_wired_into_every_path(pair, variant):
    """So that a wrong engine can be matched against the variant it implements, in any mode."""
    _, wrong = pair(variant, plt_num_loops=3)
    full = wrong.logits(tokens())
    torch.testing.assert_close(wrong.logits(tokens(), mode="chunks", chunk=5), full, atol=5e-5, rtol=0)
    torch.testing.assert_close(wrong.logits(tokens(), mode="decode"), full, atol=5e-5, rtol=0)
