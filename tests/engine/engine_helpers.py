"""What the engine tests share: the tiny configs' common shape, token ids, the engine's logits
in each mode, the relative error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from engine import api

# The shape every tiny test config shares (plt-model.md §6.1); each family adds its own keys.
TINY_SHAPE = {
    "vocab_size": 64,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 8,
    "max_position_embeddings": 256,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "hidden_act": "silu",
    "tie_word_embeddings": False,
    "bos_token_id": 1,
    "eos_token_id": [2, 3],
}


def random_ids(n: int, seed: int = 0, vocab: int = 384) -> list[int]:
    return [int(x) for x in np.random.default_rng(seed).integers(0, vocab, size=n)]


def engine_logits(path, ids, mode: str, **load) -> np.ndarray:
    """Logits of every position: mode "full" (one prefill), "chunks:N" or "decode" (token by token)."""
    with api.load(path, n_ctx=64, threads=1, **load) as m:
        r = m.runner
        if mode == "full":
            return r.prefill(ids, chunk=len(ids), all_logits=True)
        if mode.startswith("chunks:"):
            return r.prefill(ids, chunk=int(mode.split(":")[1]), all_logits=True)
        return np.stack([r.decode(t) for t in ids])


def rel_err(a: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(a - ref).max() / np.abs(ref).max())


def llama_layer(prefix: str, hf: dict, mat: Callable[..., Any], norm: Callable[[int], Any]) -> dict:
    """The HF tensors of one Llama-style layer (plt-model.md §2), drawn in this order."""
    d, f = hf["hidden_size"], hf["intermediate_size"]
    heads, kv, hd = hf["num_attention_heads"], hf["num_key_value_heads"], hf["head_dim"]
    return {
        prefix + "input_layernorm.weight": norm(d),
        prefix + "self_attn.q_proj.weight": mat(heads * hd, d),
        prefix + "self_attn.k_proj.weight": mat(kv * hd, d),
        prefix + "self_attn.v_proj.weight": mat(kv * hd, d),
        prefix + "self_attn.o_proj.weight": mat(d, heads * hd),
        prefix + "post_attention_layernorm.weight": norm(d),
        prefix + "mlp.gate_proj.weight": mat(f, d),
        prefix + "mlp.up_proj.weight": mat(f, d),
        prefix + "mlp.down_proj.weight": mat(d, f),
    }
