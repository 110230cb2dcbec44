"""The engine on a real small LM (SmolLM2-135M-Instruct): against llama.cpp and the reference.

- As a llama.cpp `llama` GGUF, the engine and llama-cpp-python pick the same next token at
  >= 95% of positions (they differ only in attention kernels and float order).
- Rebuilt as an HF checkpoint and made a 2-loop PLT or V1-Loop (tests/engine/realistic.py), converted
  to Q8_0: the engine's top-1 agrees with the float reference at >= 98% of the positions
  where the reference is not torn between two tokens (top-2 logit margin >= 0.5). Over all
  positions this 135M model loses a few percent to Q8_0 in any runtime (ggml quantizes the
  activations to 8 bits too): llama.cpp's own Q8_0 of the same weights is the yardstick.
  The V1-Loop rebuild runs the 30-layer stack twice on the raw, un-normed residual stream
  (which SmolLM2 was never trained to read back), and 8-bit activations compound over those
  60 layer applications: measured 81/83 decided positions kept (flips at margins 0.60 and
  1.14), where weight-only Q8_0 in the reference keeps 83/83; so V1's bar is 0.97.
"""

from __future__ import annotations

import numpy as np
import pytest

from converters.convert import convert
from engine import api
from engine.reference import reference_logits

pytestmark = pytest.mark.slow

TEXT = (
    "<|im_start|>user\nWrite a Python function that returns the n-th Fibonacci number, "
    "and explain how it works.<|im_end|>\n<|im_start|>assistant\nHere is a simple iterative version:\n\n"
    "```python\ndef fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n"
    "        a, b = b, a + b\n    return a\n```\n\n"
    "The loop keeps the last two numbers of the sequence and moves them forward one step at a time, "
    "so after n steps `a` holds the n-th number."
)


def _tokens(model_path) -> list[int]:
    with api.load(model_path, n_ctx=64, threads=2) as m:
        return m.tokenizer.encode(TEXT)


def test_next_token_agrees_with_llama_cpp(smollm2_gguf):
    import llama_cpp

    ids = _tokens(smollm2_gguf)
    assert len(ids) > 100
    with api.load(smollm2_gguf, n_ctx=256, threads=2) as m:
        ours = m.runner.prefill(ids, chunk=64, all_logits=True)
    ll = llama_cpp.Llama(str(smollm2_gguf), n_ctx=256, logits_all=True, verbose=False, n_threads=2)
    ll.eval(ids)
    theirs = np.array(ll.scores[: len(ids)])
    agreement = float((ours.argmax(1) == theirs.argmax(1)).mean())
    assert agreement >= 0.95


def test_engine_tokenizer_matches_llama_cpp(smollm2_gguf):
    import llama_cpp

    ll = llama_cpp.Llama(str(smollm2_gguf), vocab_only=True, verbose=False)
    assert _tokens(smollm2_gguf) == ll.tokenize(TEXT.encode(), add_bos=False, special=True)


def _q8_0_logits(checkpoint, tmp_path) -> tuple[list[int], np.ndarray]:
    gguf = convert(checkpoint, tmp_path / "q8.gguf", "q8_0").output
    with api.load(gguf, n_ctx=256, threads=2) as m:
        ids = m.tokenizer.encode(TEXT)
        return ids, np.stack([m.runner.decode(t) for t in ids])  # the fused decode path (V1: two passes)


def _llama_cpp_q8_0_logits(smollm2_gguf, ids, tmp_path) -> np.ndarray:
    import ctypes

    import llama_cpp as L

    out = tmp_path / "llama-q8.gguf"
    params = L.llama_model_quantize_default_params()
    params.ftype, params.allow_requantize, params.quantize_output_tensor = 7, True, True  # MOSTLY_Q8_0
    assert L.llama_model_quantize(str(smollm2_gguf).encode(), str(out).encode(), ctypes.byref(params)) == 0
    ll = L.Llama(str(out), n_ctx=256, logits_all=True, verbose=False, n_threads=2)
    ll.eval(ids)
    return np.array(ll.scores[: len(ids)])


@pytest.mark.parametrize("kind", ["llama", "plt", "v1"])
def test_q8_0_top1_agrees_with_the_reference(smollm2_checkpoints, smollm2_gguf, tmp_path, kind):
    ids, got = _q8_0_logits(smollm2_checkpoints[kind], tmp_path)
    ref = reference_logits(smollm2_checkpoints[kind], ids)
    top2 = np.sort(ref, axis=1)[:, -2:]
    confident = top2[:, 1] - top2[:, 0] >= 0.5
    agree = got.argmax(1) == ref.argmax(1)
    assert confident.mean() > 0.6  # most positions; the check below must not be vacuous
    assert float(agree[confident].mean()) >= (0.97 if kind == "v1" else 0.98)
    if kind == "llama":  # the same quantization done by llama.cpp, measured side by side
        theirs = _llama_cpp_q8_0_logits(smollm2_gguf, ids, tmp_path)
        assert float(agree.mean()) >= float((theirs.argmax(1) == ref.argmax(1)).mean()) - 0.03


@pytest.mark.parametrize("kind", ["plt", "v1"])
def test_f32_plt_from_a_real_model_matches_the_reference(smollm2_checkpoints, tmp_path, kind):
    checkpoint = smollm2_checkpoints[kind]
    gguf = convert(checkpoint, tmp_path / "f32.gguf", "f32").output
    with api.load(gguf, n_ctx=256, threads=2) as m:
        ids = m.tokenizer.encode(TEXT)
        got = m.runner.prefill(ids, chunk=48, all_logits=True)
    ref = reference_logits(checkpoint, ids)
    assert float(np.abs(got - ref).max() / np.abs(ref).max()) <= 1e-4


def test_bench_compares_with_llama_cpp_on_a_llama_file(smollm2_gguf):
    from engine.bench import bench_engine

    result = bench_engine(smollm2_gguf, threads=1, prompt_tokens=16, decode_tokens=2, rounds=1)
    assert set(result["variants"]) == {"fused"}  # one loop: nothing to fuse
    ours, theirs = result["variants"]["fused"], result["llama_cpp"]
    assert result["ours_over_llamacpp"] == pytest.approx(ours["decode_tok_s"] / theirs["decode_tok_s"])
    assert theirs["decode_tok_s"] > 0
    assert theirs["prefill_tok_s"] > 0


def _long_code_ids(m, n: int) -> list[int]:
    """n tokens of real code: this repository's engine sources."""
    from pathlib import Path

    import engine

    text = "".join(p.read_text() for p in sorted(Path(engine.__file__).parent.glob("*.py")))
    ids = m.tokenizer.encode(text)
    assert len(ids) >= n
    return ids[:n]


def _prefill_then_decode(gguf, kv_type: str, n: int, cut: int) -> np.ndarray:
    """Logits of every position: a chunked prefill of the first `cut` tokens, then decode steps."""
    with api.load(gguf, n_ctx=n + 8, threads=2, kv_type=kv_type) as m:
        ids = _long_code_ids(m, n)
        head = m.runner.prefill(ids[:cut], chunk=512, all_logits=True)
        return np.concatenate([head, np.stack([m.runner.decode(t) for t in ids[cut:]])])


def test_q8_0_cache_keeps_the_decided_tokens_of_a_real_plt(smollm2_checkpoints, tmp_path):
    """1,400 positions of real code through the rebuilt SmolLM2 PLT (window 16: ~80x over;
    prefill across 3 chunk boundaries, then 80 decode steps): where the f16 cache's next
    token is decided (top-2 margin >= 0.5), the q8_0 cache picks the same one."""
    gguf = convert(smollm2_checkpoints["plt"], tmp_path / "q8.gguf", "q8_0").output
    n, cut = 1400, 1320
    f16 = _prefill_then_decode(gguf, "f16", n, cut)
    q8 = _prefill_then_decode(gguf, "q8_0", n, cut)
    top2 = np.sort(f16, axis=1)[:, -2:]
    decided = top2[:, 1] - top2[:, 0] >= 0.5
    agree = q8.argmax(1) == f16.argmax(1)
    assert decided[:cut].mean() > 0.5  # most positions; neither check below is vacuous
    assert decided[cut:].mean() > 0.4
    assert float(agree[:cut][decided[:cut]].mean()) >= 0.99  # prefill (q8_0 widened to F32)
    assert float(agree[cut:][decided[cut:]].mean()) >= 0.97  # decode (ggml rounds q to q8_0)
