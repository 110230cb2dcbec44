"""Realistic test checkpoints made from a real small LM (SmolLM2-135M-Instruct, Q4_1 GGUF).

Random tiny models have flat, chaotic logits: any rounding flips their argmax, so they
cannot test quantized types. A real LM has peaked next-token distributions. This module
turns the llama.cpp GGUF back into an HF checkpoint (dequantized weights, Q/K rows
un-permuted to HF's rotate-half layout, the tokenizer rebuilt from the GGUF vocabulary), as
a plain Llama or as a 2-loop PLT model: the same stack plus a gate per layer (bias +2, so
g ~ 0.88 as in V1), window 16, and the release's emb/hidden scales; or (`v1=True`) as a
2-loop IQuest-Coder-V1-Loop model: the same stack, `model.gate_projections.{j}` query gates
(bias +2.0 as released, small weights) and loop_window_size 16.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize

from converters.safetensors_io import write_safetensors
from engine.arch import HF_TO_GGUF

PLT_WINDOW = 16


def _unpermute(w: np.ndarray, heads: int) -> np.ndarray:
    """Undo llama.cpp's Q/K row permutation (interleaved pairs -> rotate-half halves)."""
    rows = w.shape[0]
    return w.reshape(heads, rows // heads // 2, 2, -1).swapaxes(1, 2).reshape(w.shape)


def _field(reader: GGUFReader, key: str):  # noqa: ANN202 - any GGUF value
    return reader.fields[key].contents()


def _tokenizer_json(reader: GGUFReader) -> str:
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    tokens = _field(reader, "tokenizer.ggml.tokens")
    merges = [tuple(m.split(" ", 1)) for m in _field(reader, "tokenizer.ggml.merges")]
    types = _field(reader, "tokenizer.ggml.token_type")
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(
        [AddedToken(t, special=True) for t, kind in zip(tokens, types, strict=True) if kind == 3]
    )
    return tok.to_str()


def write_checkpoint(gguf_path: Path, out: Path, *, plt: bool, seed: int = 0, v1: bool = False) -> Path:
    reader = GGUFReader(gguf_path)
    heads, kv_heads = (int(_field(reader, f"llama.attention.head_count{s}")) for s in ("", "_kv"))
    gguf_to_hf = {g.format(i=i): h.format(i=i) for h, g in HF_TO_GGUF.items() for i in range(64)}
    tensors: dict[str, np.ndarray] = {}
    for t in reader.tensors:
        shape = [int(x) for x in reversed(t.shape.tolist())]
        w = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float32).reshape(shape)
        if t.name.endswith("attn_q.weight"):
            w = _unpermute(w, heads)
        elif t.name.endswith("attn_k.weight"):
            w = _unpermute(w, kv_heads)
        tensors[gguf_to_hf[t.name]] = w
    hidden = int(_field(reader, "llama.embedding_length"))
    layers = int(_field(reader, "llama.block_count"))
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": tensors["model.embed_tokens.weight"].shape[0],
        "hidden_size": hidden,
        "intermediate_size": int(_field(reader, "llama.feed_forward_length")),
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "head_dim": hidden // heads,
        "max_position_embeddings": int(_field(reader, "llama.context_length")),
        "rms_norm_eps": float(_field(reader, "llama.attention.layer_norm_rms_epsilon")),
        "rope_theta": float(_field(reader, "llama.rope.freq_base")),
        "hidden_act": "silu",
        "tie_word_embeddings": "lm_head.weight" not in tensors,
        "bos_token_id": 1,
        "eos_token_id": [2],
        "rope_scaling": None,
    }
    if plt:
        config.update(
            architectures=["IQuestPLTCoderForCausalLM"],
            model_type="iquestpltcoder",
            plt_num_loops=2,
            plt_window_size=[PLT_WINDOW, 0],
            plt_normalize_per_loop=True,
            plt_emb_scale=0.707,
            plt_hidden_scale=0.053,
            plt_gate_use_hidden_states=True,
        )
        rng = np.random.default_rng(seed)
        for j in range(layers):
            p = f"model.layers.{j}.self_attn.plt_gate"
            tensors[f"{p}.weight"] = rng.normal(0, 0.02, size=(heads, hidden)).astype(np.float32)
            tensors[f"{p}.bias"] = np.full(heads, 2.0, dtype=np.float32)
            tensors[f"{p}.gate_norm.weight"] = np.ones(hidden, dtype=np.float32)
    if v1:
        config.update(
            architectures=["IQuestLoopCoderForCausalLM"],
            model_type="iquestloopcoder",
            loop_num=2,
            loop_window_size=PLT_WINDOW,
        )
        rng = np.random.default_rng(seed)
        for j in range(layers):
            p = f"model.gate_projections.{j}"
            tensors[f"{p}.weight"] = rng.normal(0, 0.02, size=(heads, hidden // heads)).astype(np.float32)
            tensors[f"{p}.bias"] = np.full(heads, 2.0, dtype=np.float32)
    out.mkdir(parents=True, exist_ok=True)
    write_safetensors(out / "model.safetensors", tensors, "F32")
    (out / "config.json").write_text(json.dumps(config, indent=1))
    (out / "tokenizer.json").write_text(_tokenizer_json(reader))
    template = _field(reader, "tokenizer.chat_template")
    (out / "tokenizer_config.json").write_text(
        json.dumps({"chat_template": template, "bos_token": "<|im_start|>", "eos_token": "<|im_end|>"})
    )
    return out
