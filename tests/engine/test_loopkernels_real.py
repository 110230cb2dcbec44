"""The loop kernels against ggml's on a real small LM (SmolLM2-135M), in whole models.

Each multiplication agrees with ggml's to float rounding (test_loopkernels.py), but a model
re-quantizes its activations to 8 bits before every matrix, so a rounding difference can
flip one 8-bit code and, 30 layers on, move a logit visibly; ggml's own kernels do the same
to each other (its one-row decode path against its 64-row prefill path). So the checks are:
- the next token is identical wherever ggml's own top-2 margin is at least 0.5 (a near tie
  within rounding noise may go either way), which is most positions;
- the largest logit difference is within 3x of ggml's own path-to-path difference, measured
  on the same model in the same run (a wrong scale or block would be far outside).
Covered: llama.cpp's Q8_0 and Q4_K_M of SmolLM2 (Q8_0, Q4_K, Q6_K weights, one row per
step) and a 2-loop PLT made from it in Q8_0 (two rows per fused step).
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from converters.convert import convert
from engine import api, loopkernels

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(loopkernels.best_isa() is None, reason="libpltk.so is not built"),
]

TEXT = (
    "<|im_start|>user\nWrite a Python function that checks whether a string is a palindrome, "
    "ignoring case and spaces.<|im_end|>\n<|im_start|>assistant\nHere is a short version:\n\n"
    "```python\ndef is_palindrome(s):\n    t = ''.join(s.lower().split())\n    return t == t[::-1]\n```\n"
)


def _llama_quantized(smollm2_gguf, tmp_path, ftype: int):
    import llama_cpp as L

    out = tmp_path / f"smol-{ftype}.gguf"
    params = L.llama_model_quantize_default_params()
    params.ftype, params.allow_requantize, params.quantize_output_tensor = ftype, True, True
    assert L.llama_model_quantize(str(smollm2_gguf).encode(), str(out).encode(), ctypes.byref(params)) == 0
    return out


def _logits(path, kernels: str, chunk: int = 0) -> np.ndarray:
    with api.load(path, n_ctx=256, threads=2, kernels=kernels, kv_type="f32") as m:
        assert m.runner.kernels.name == kernels
        ids = m.tokenizer.encode(TEXT)
        if chunk:
            return m.runner.prefill(ids, chunk=chunk, all_logits=True)
        return np.stack([m.runner.decode(t) for t in ids])


def _check(path) -> None:
    theirs, ours = _logits(path, "ggml"), _logits(path, "loop")
    theirs_gemm = _logits(path, "ggml", chunk=64)  # ggml's other kernel path: its own noise
    top2 = np.sort(theirs, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] >= 0.5
    assert clear.mean() >= 0.6  # most positions: the check below is not vacuous
    assert (ours.argmax(1) == theirs.argmax(1))[clear].all()
    noise = float(np.abs(theirs_gemm - theirs).max())
    assert float(np.abs(ours - theirs).max()) <= 3 * max(noise, 1e-3)


@pytest.mark.parametrize(("name", "ftype"), [("q8_0", 7), ("q4_k_m", 15)])
def test_loop_kernels_pick_ggml_tokens_on_a_real_llama(smollm2_gguf, tmp_path, name, ftype):
    _check(_llama_quantized(smollm2_gguf, tmp_path, ftype))


def test_loop_kernels_pick_ggml_tokens_in_a_fused_plt_step(smollm2_checkpoints, tmp_path):
    _check(convert(smollm2_checkpoints["plt"], tmp_path / "plt-q8.gguf", "q8_0").output)
