"""Synthetic benchmark models: sized ones and the real-shape preset (LoopCoder-V2)."""

from __future__ import annotations

import pytest

from converters.errors import ConvertError
from converters.synthetic import preset_config, synthetic_config, write_synthetic
from engine import ggml
from engine.gguf_file import open_model


def test_the_loopcoder_preset_has_the_release_shape():
    cfg = preset_config("loopcoder-v2")
    # plt-model.md §1, written out here independently of the preset table
    assert (cfg.hidden_size, cfg.num_layers, cfg.intermediate_size) == (5120, 14, 27648)
    assert cfg.vocab_size == 76800
    assert (cfg.num_heads, cfg.num_kv_heads, cfg.head_dim) == (40, 8, 128)
    assert (cfg.loops, cfg.window, cfg.local_keys) == (2, 64, 65)
    assert (cfg.emb_scale, cfg.hidden_scale, cfg.gate_mode) == (0.707, 0.053, "hidden")
    assert cfg.rope_theta == 500000.0
    # Q4_K matrices (144 bytes per 256 values): about 4.1 GB in all
    values = sum(
        a * b for name, (a, *rest) in cfg.tensor_shapes().items() for b in rest if "plt_gate" not in name
    )
    assert 4.1e9 < values * 144 / 256 < 4.4e9
    assert preset_config("loopcoder-v2", loops=3).loops == 3


def test_an_unknown_preset_is_a_clear_error():
    with pytest.raises(ConvertError, match="unknown synthetic preset 'loopcoder-v9'"):
        preset_config("loopcoder-v9")


@pytest.mark.parametrize("qtype", ["q4_k", "q8_0"])
def test_a_small_synthetic_model_loads_with_its_matrix_type(tmp_path, qtype):
    cfg = synthetic_config(40 << 20, loops=3, qtype=qtype)
    path = write_synthetic(tmp_path / "s.gguf", cfg, qtype=qtype)
    model = open_model(path)
    assert model.config.loops == 3
    want = {"q4_k": ggml.TYPE_Q4_K, "q8_0": ggml.TYPE_Q8_0}[qtype]
    assert model.tensors["blk.0.ffn_up.weight"].ggml_type == want
    assert model.tensors["blk.0.attn_norm.weight"].ggml_type == ggml.TYPE_F32
