"""The reference model's three paths agree, and its caches hold what plt-model.md §4 says.

Full forward == chunked prefill == fused token-by-token decode (§3.8: about 5e-5 in fp32), for
prompts longer than 3x the window, L = 2 and 3, both gate modes, normalize on and off, chunk
sizes that do and do not divide the length, and a plain Llama config.
"""

from __future__ import annotations

import pytest
import torch

from engine.arch import config_from_hf
from engine.errors import EngineError
from engine.reference import Reference

FP32_TOL = 5e-5  # plt-model.md §3.8
FP64_TOL = 1e-11
T = 24  # > 3 * W + 1 with W = 4, so the local ring evicts many times


def tokens(n: int = T, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 64, (n,), generator=torch.Generator().manual_seed(seed))


def build(hf_config, random_tensors, dtype=torch.float32, **overrides) -> Reference:
    hf = hf_config(**overrides)
    return Reference(config_from_hf(hf), random_tensors(hf), dtype=dtype)


PLT_CASES = [
    pytest.param(
        dict(plt_num_loops=loops, plt_gate_use_hidden_states=hidden, plt_normalize_per_loop=norm),
        id=f"L{loops}-{'hidden' if hidden else 'query'}-{'norm' if norm else 'nonorm'}",
    )
    for loops in (2, 3)
    for hidden in (True, False)
    for norm in (True, False)
]


@pytest.mark.parametrize("overrides", PLT_CASES)
def test_full_chunked_and_decode_agree_in_fp32(hf_config, random_tensors, overrides):
    model = build(hf_config, random_tensors, **overrides)
    ids = tokens()
    full = model.logits(ids, mode="full")
    assert full.shape == (T, 64)
    for chunk in (1, 3, 5, 7, T):
        chunked = model.logits(ids, mode="chunks", chunk=chunk)
        torch.testing.assert_close(chunked, full, atol=FP32_TOL, rtol=0, msg=f"chunk {chunk}")
    torch.testing.assert_close(model.logits(ids, mode="decode"), full, atol=FP32_TOL, rtol=0)


@pytest.mark.parametrize("loops", [2, 3])
def test_paths_agree_to_rounding_in_fp64(hf_config, random_tensors, loops):
    model = build(hf_config, random_tensors, dtype=torch.float64, plt_num_loops=loops)
    ids = tokens(30)
    full = model.logits(ids)
    assert full.dtype == torch.float64
    torch.testing.assert_close(model.logits(ids, mode="chunks", chunk=4), full, atol=FP64_TOL, rtol=0)
    torch.testing.assert_close(model.logits(ids, mode="decode"), full, atol=FP64_TOL, rtol=0)


def test_llama_config_paths_agree(hf_config, random_tensors):
    model = build(hf_config, random_tensors, llama=True)
    assert model.cfg.loops == 1
    ids = tokens()
    full = model.logits(ids)
    torch.testing.assert_close(model.logits(ids, mode="chunks", chunk=5), full, atol=FP32_TOL, rtol=0)
    torch.testing.assert_close(model.logits(ids, mode="decode"), full, atol=FP32_TOL, rtol=0)


def test_prefill_then_decode_continues_the_same_sequence(hf_config, random_tensors):
    """The engine's pattern: prefill a prompt in chunks, then decode one token at a time."""
    model = build(hf_config, random_tensors, plt_num_loops=3)
    ids = tokens()
    cache = model.new_cache()
    prompt = model.logits(ids[:11], mode="chunks", chunk=4, cache=cache)
    rest = model.logits(ids[11:], mode="decode", cache=cache)
    torch.testing.assert_close(torch.cat([prompt, rest]), model.logits(ids), atol=FP32_TOL, rtol=0)
    # and back: decode a few tokens, then prefill the rest in one chunk
    cache = model.new_cache()
    head = model.logits(ids[:6], mode="decode", cache=cache)
    tail = model.logits(ids[6:], mode="chunks", chunk=100, cache=cache)
    torch.testing.assert_close(torch.cat([head, tail]), model.logits(ids), atol=FP32_TOL, rtol=0)


@pytest.mark.parametrize("mode", ["chunks", "decode"])
def test_cache_holds_global_kv_ring_and_carries(hf_config, random_tensors, mode):
    """§4.1: G keeps every position, each ring the last W+1, carry l = h^(l) at the last position."""
    model = build(hf_config, random_tensors, plt_num_loops=3)
    ids = tokens()
    record: dict = {}
    model.forward(ids, record=record)
    cache = model.new_cache()
    model.logits(ids, mode=mode, chunk=5, cache=cache)
    assert cache.pos == T
    assert all(len(store) == T for store in cache.global_kv)
    for loop in (1, 2):
        for store in cache.rings[loop]:
            assert store.kv.pos.tolist() == list(range(T - 5, T))  # W + 1 = 5 newest positions
    for loop in (0, 1):
        torch.testing.assert_close(cache.carry[loop], record["outputs"][loop][-1], atol=1e-5, rtol=0)


def test_fresh_cache_per_call_gives_identical_results(hf_config, random_tensors):
    model = build(hf_config, random_tensors)
    ids = tokens()
    first = model.logits(ids, mode="decode")
    assert torch.equal(model.logits(ids, mode="decode"), first)


def test_bad_inputs_are_refused(hf_config, random_tensors):
    model = build(hf_config, random_tensors)
    with pytest.raises(EngineError, match="64"):
        model.logits([1, 64])
    with pytest.raises(ValueError, match="chunk"):
        model.logits([1, 2], mode="chunks")
    with pytest.raises(ValueError, match="mode"):
        model.logits([1, 2], mode="sideways")
    with pytest.raises(ValueError, match="dtype"):
        Reference(model.cfg, {}, dtype=torch.float16)
