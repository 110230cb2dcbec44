"""Fixtures for the reference-model tests: tiny HF configs and random weights built in memory.

The tensor names are written out here from plt-model.md §2, independently of the code under
test, so a reference that expected other names would fail to load them.
"""

from __future__ import annotations

import pytest
import torch
from engine_helpers import TINY_SHAPE, llama_layer

# plt-model.md §6.1: a tiny config, with hidden_scale 0.5 so that the CLP path is loud.
TINY_PLT = {
    "architectures": ["IQuestPLTCoderForCausalLM"],
    "model_type": "iquestpltcoder",
    **TINY_SHAPE,
    "plt_num_loops": 2,
    "plt_window_size": [4, 0],
    "plt_normalize_per_loop": True,
    "plt_emb_scale": 0.707,
    "plt_hidden_scale": 0.5,
    "plt_gate_use_hidden_states": True,
}
PLT_KEYS = [k for k in TINY_PLT if k.startswith("plt_")]


def _hf_config(llama: bool = False, **overrides) -> dict:
    cfg = dict(TINY_PLT)
    if llama:
        for key in PLT_KEYS:
            del cfg[key]
        cfg["architectures"], cfg["model_type"] = ["LlamaForCausalLM"], "llama"
    cfg.update(overrides)
    return cfg


def _random_tensors(hf: dict, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights with the §2 names: matrices N(0, 0.2^2), norms 1 + N(0, 0.1^2)."""
    gen = torch.Generator().manual_seed(seed)
    d, v = hf["hidden_size"], hf["vocab_size"]
    heads, hd = hf["num_attention_heads"], hf["head_dim"]

    def mat(*shape: int) -> torch.Tensor:
        return 0.2 * torch.randn(*shape, generator=gen)

    def norm(n: int) -> torch.Tensor:
        return 1 + 0.1 * torch.randn(n, generator=gen)

    out = {"model.embed_tokens.weight": mat(v, d), "model.norm.weight": norm(d)}
    if not hf.get("tie_word_embeddings"):
        out["lm_head.weight"] = mat(v, d)
    looped = "plt_num_loops" in hf and hf["plt_num_loops"] > 1
    hidden_gate = hf.get("plt_gate_use_hidden_states", True)
    for j in range(hf["num_hidden_layers"]):
        p = f"model.layers.{j}."
        out |= llama_layer(p, hf, mat, norm)
        if looped:
            out[p + "self_attn.plt_gate.weight"] = mat(heads, d if hidden_gate else hd)
            out[p + "self_attn.plt_gate.bias"] = 0.5 * torch.randn(heads, generator=gen)
            if hidden_gate:
                out[p + "self_attn.plt_gate.gate_norm.weight"] = norm(d)
    return out


@pytest.fixture
def hf_config():
    """Factory: hf_config(llama=False, **overrides) -> a tiny HF config.json dict."""
    return _hf_config


@pytest.fixture
def random_tensors():
    """Factory: random_tensors(hf_config_dict, seed=0) -> {HF name: float32 tensor}."""
    return _random_tensors


@pytest.fixture(scope="session")
def smollm2_checkpoints(smollm2_gguf, tmp_path_factory):
    """HF checkpoints rebuilt from SmolLM2: {"llama", "plt", "v1"} -> dir (tests/engine/realistic.py)."""
    from realistic import write_checkpoint

    root = tmp_path_factory.mktemp("smollm2")
    return {
        kind: write_checkpoint(smollm2_gguf, root / kind, plt=kind == "plt", v1=kind == "v1")
        for kind in ("llama", "plt", "v1")
    }
