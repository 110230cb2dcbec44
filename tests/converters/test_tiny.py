"""`make_tiny` / `plt-agent debug make-tiny`: the published layout, real tokenizer, chat template."""

from __future__ import annotations

import json
import math
import re
import struct
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from converters.errors import ConvertError
from converters.tiny import make_tiny
from plt_agent.cli import app

# plt-model.md §1, written out here: every field a tiny config.json must carry.
SECTION_1_FIELDS = [
    "architectures",
    "model_type",
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "hidden_act",
    "max_position_embeddings",
    "initializer_range",
    "rms_norm_eps",
    "use_cache",
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
    "tie_word_embeddings",
    "rope_theta",
    "rope_scaling",
    "attention_bias",
    "mlp_bias",
    "attention_dropout",
    "torch_dtype",
    "plt_num_loops",
    "plt_window_size",
    "plt_normalize_per_loop",
    "plt_emb_scale",
    "plt_hidden_scale",
    "plt_gate_use_hidden_states",
]
LAYER_SUFFIXES = [
    "input_layernorm.weight",
    "self_attn.q_proj.weight",
    "self_attn.k_proj.weight",
    "self_attn.v_proj.weight",
    "self_attn.o_proj.weight",
    "post_attention_layernorm.weight",
    "mlp.gate_proj.weight",
    "mlp.up_proj.weight",
    "mlp.down_proj.weight",
]
GATE_SUFFIXES = (
    "self_attn.plt_gate.weight",
    "self_attn.plt_gate.bias",
    "self_attn.plt_gate.gate_norm.weight",
)


def _headers(directory) -> dict[str, dict]:
    """Parse every shard's header by hand: {tensor: entry + its file}."""
    out = {}
    for path in sorted(directory.glob("*.safetensors")):
        raw = path.read_bytes()
        (n,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8 : 8 + n])
        assert n % 8 == 0
        assert header.pop("__metadata__") == {"format": "pt"}
        for name, entry in header.items():
            out[name] = {**entry, "file": path.name, "data_bytes": len(raw) - 8 - n}
    return out


def test_default_layout_matches_the_release(tiny_checkpoint):
    d = tiny_checkpoint()
    files = sorted(p.name for p in d.iterdir())
    assert files == [
        "config.json", "generation_config.json", "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors", "model.safetensors.index.json", "tokenizer.json",
        "tokenizer_config.json",
    ]  # fmt: skip
    cfg = json.loads((d / "config.json").read_text())
    assert set(SECTION_1_FIELDS) <= set(cfg)
    assert "auto_map" not in cfg
    assert cfg["architectures"] == ["IQuestPLTCoderForCausalLM"]
    assert cfg["model_type"] == "iquestpltcoder"
    # plt-model.md §6 defaults.
    expected = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, head_dim=16, plt_num_loops=2, plt_window_size=[4, 0],
                    plt_emb_scale=0.707, plt_hidden_scale=0.5, plt_gate_use_hidden_states=True,
                    plt_normalize_per_loop=True, tie_word_embeddings=False)  # fmt: skip
    assert cfg["torch_dtype"] == "bfloat16"
    assert {k: cfg[k] for k in expected} == expected


def test_index_is_consistent_with_the_shards(tiny_checkpoint):
    d = tiny_checkpoint(shards=3)
    index = json.loads((d / "model.safetensors.index.json").read_text())
    headers = _headers(d)
    assert index["weight_map"] == {name: h["file"] for name, h in headers.items()}
    assert sorted(set(index["weight_map"].values())) == [
        f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)
    ]
    assert index["metadata"]["total_size"] == sum(2 * math.prod(h["shape"]) for h in headers.values())
    assert all(h["dtype"] == "BF16" for h in headers.values())
    for shard in set(h["file"] for h in headers.values()):
        in_shard = [h for h in headers.values() if h["file"] == shard]
        assert sum(h["data_offsets"][1] - h["data_offsets"][0] for h in in_shard) == in_shard[0]["data_bytes"]


def test_tensor_names_and_shapes_follow_section_2(tiny_checkpoint):
    d = tiny_checkpoint()
    shapes = {name: tuple(h["shape"]) for name, h in _headers(d).items()}
    expected = {
        "model.embed_tokens.weight": (384, 64),
        "model.norm.weight": (64,),
        "lm_head.weight": (384, 64),
    }
    per_layer = dict(zip(LAYER_SUFFIXES, [(64,), (64, 64), (32, 64), (32, 64), (64, 64), (64,), (128, 64),
                                         (128, 64), (64, 128)], strict=False))  # fmt: skip
    per_layer |= dict(zip(GATE_SUFFIXES, [(4, 64), (4,), (64,)], strict=False))
    for j in range(2):
        expected |= {f"model.layers.{j}.{s}": shape for s, shape in per_layer.items()}
    assert shapes == expected


def test_query_gate_llama_and_tied_variants(tiny_checkpoint):
    q = _headers(tiny_checkpoint(gate="query"))
    assert tuple(q["model.layers.1.self_attn.plt_gate.weight"]["shape"]) == (4, 16)
    assert "model.layers.1.self_attn.plt_gate.gate_norm.weight" not in q
    assert (
        json.loads((tiny_checkpoint(gate="query") / "config.json").read_text())["plt_gate_use_hidden_states"]
        is False
    )

    llama_dir = tiny_checkpoint(llama=True, tied=True, shards=1)
    assert (llama_dir / "model.safetensors").is_file()
    assert not (llama_dir / "model.safetensors.index.json").exists()
    cfg = json.loads((llama_dir / "config.json").read_text())
    assert cfg["architectures"] == ["LlamaForCausalLM"]
    assert cfg["tie_word_embeddings"] is True
    assert not [k for k in cfg if k.startswith("plt_")]
    names = set(_headers(llama_dir))
    assert "lm_head.weight" not in names
    assert not [n for n in names if "plt_gate" in n]


def test_weights_have_the_recipe_statistics(tiny_checkpoint):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    d = tiny_checkpoint(layers=4, hidden=128, intermediate=256, head_dim=32)
    values = {}
    for shard in d.glob("*.safetensors"):
        values |= {k: v.float().numpy() for k, v in load_file(shard).items() if v.dtype == torch.bfloat16}
    mats = np.concatenate(
        [v.ravel() for k, v in values.items() if k.endswith("proj.weight") and "gate.w" not in k]
    )
    norms = np.concatenate([v.ravel() for k, v in values.items() if k.endswith("norm.weight")])
    gate = 1 / (1 + np.exp(-np.concatenate([v for k, v in values.items() if k.endswith("plt_gate.bias")])))
    assert abs(mats.std() - 0.2) < 0.01
    assert abs(mats.mean()) < 0.01
    assert abs(norms.mean() - 1.0) < 0.02
    assert abs(norms.std() - 0.1) < 0.01
    assert gate.min() > 0.2
    assert gate.max() < 0.8
    assert gate.std() > 0.05


def test_same_seed_same_bytes_other_seed_other_values(tmp_path):
    a, b, c = (make_tiny(tmp_path / n, seed=s) for n, s in (("a", 5), ("b", 5), ("c", 6)))
    shard = "model-00001-of-00002.safetensors"
    assert (a / shard).read_bytes() == (b / shard).read_bytes()
    assert (a / shard).read_bytes() != (c / shard).read_bytes()
    assert (a / "tokenizer.json").read_text() == (c / "tokenizer.json").read_text()


def test_generation_is_fast(tmp_path):
    make_tiny(tmp_path / "warm")  # trains and caches the tokenizer
    start = time.perf_counter()
    for i in range(5):
        make_tiny(tmp_path / str(i), seed=i)
    assert (time.perf_counter() - start) / 5 < 0.5


def test_tokenizer_is_a_real_bpe_of_exactly_vocab_size(tiny_checkpoint):
    from tokenizers import Tokenizer

    for vocab in (None, 300, 512):
        d = tiny_checkpoint(vocab=vocab) if vocab else tiny_checkpoint()
        cfg = json.loads((d / "config.json").read_text())
        tok = Tokenizer.from_file(str(d / "tokenizer.json"))
        assert tok.get_vocab_size(with_added_tokens=True) == cfg["vocab_size"] == (vocab or cfg["vocab_size"])
        assert json.loads((d / "tokenizer.json").read_text())["model"]["type"] == "BPE"
        text = 'def f(x):\n    return {"a": x}  # naïve 漢字 ✓\t\r\n  '
        ids = tok.encode(text).ids
        assert tok.decode(ids, skip_special_tokens=False) == text
        assert len(ids) < len(text.encode())  # merges were learned, not bytes only
        assert all(0 <= i < cfg["vocab_size"] for i in ids)


def test_special_ids_exist_and_eos_is_a_list(tiny_checkpoint):
    from tokenizers import Tokenizer

    d = tiny_checkpoint()
    cfg = json.loads((d / "config.json").read_text())
    gen = json.loads((d / "generation_config.json").read_text())
    tok_cfg = json.loads((d / "tokenizer_config.json").read_text())
    tok = Tokenizer.from_file(str(d / "tokenizer.json"))
    assert isinstance(cfg["eos_token_id"], list)
    assert len(cfg["eos_token_id"]) >= 3
    assert gen["eos_token_id"] == cfg["eos_token_id"]
    assert tok.token_to_id("<s>") == cfg["bos_token_id"] == 1
    assert tok.token_to_id("</s>") == cfg["eos_token_id"][0] == 2
    assert tok.token_to_id(tok_cfg["eos_token"]) in cfg["eos_token_id"]
    assert tok.token_to_id("<|im_end|>") in cfg["eos_token_id"]
    for token in ("<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", "<tool_response>"):
        assert tok.encode(f"x{token}y").tokens.count(token) == 1


def _render(template: str, **kwargs) -> str:
    """Render the way transformers does: sandboxed, trim/lstrip blocks, tojson without HTML escaping."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = lambda v: json.dumps(v, ensure_ascii=False)
    return env.from_string(template).render(**kwargs)


def test_chat_template_renders_chatml_with_tools(tiny_checkpoint):
    from tokenizers import Tokenizer

    d = tiny_checkpoint()
    tok_cfg = json.loads((d / "tokenizer_config.json").read_text())
    tool = {"type": "function", "function": {"name": "view", "parameters": {"type": "object"}}}
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Open a.py"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "view", "arguments": {"path": "a.py"}}}]},
        {"role": "tool", "content": "print(1)"},
        {"role": "tool", "content": "second"},
    ]  # fmt: skip
    text = _render(tok_cfg["chat_template"], messages=messages, tools=[tool], add_generation_prompt=True)
    assert text.startswith("<|im_start|>system\nBe brief.")
    assert json.dumps(tool) in text
    assert "<|im_start|>user\nOpen a.py<|im_end|>\n" in text
    assert '<tool_call>\n{"name": "view", "arguments": {"path": "a.py"}}\n</tool_call><|im_end|>' in text
    # Consecutive tool results share one user turn.
    turn = re.search(r"<\|im_start\|>user\n<tool_response>.*?<\|im_end\|>", text, re.S).group(0)
    assert turn.count("<tool_response>") == 2
    assert "print(1)" in turn
    assert "second" in turn
    assert text.endswith("<|im_start|>assistant\n")
    tok = Tokenizer.from_file(str(d / "tokenizer.json"))
    assert tok.decode(tok.encode(text).ids, skip_special_tokens=False) == text

    plain = _render(tok_cfg["chat_template"], messages=[{"role": "user", "content": "hi"}])
    assert plain == "<|im_start|>user\nhi<|im_end|>\n"


def test_bad_options_are_one_clear_error(tmp_path):
    with pytest.raises(ConvertError, match="heads 6 is not a multiple of kv_heads 4"):
        make_tiny(tmp_path, heads=6, kv_heads=4)
    with pytest.raises(ConvertError, match="vocab must be between"):
        make_tiny(tmp_path, vocab=100)
    with pytest.raises(TypeError, match="hiden"):
        make_tiny(tmp_path, hiden=3)


def test_cli_make_tiny_writes_the_requested_shapes(tmp_path):
    out = tmp_path / "ck"
    args = ["debug", "make-tiny", str(out), "--seed", "3", "--loops", "3", "--layers", "3", "--hidden", "48",
            "--heads", "6", "--kv-heads", "3", "--head-dim", "8", "--intermediate", "96", "--vocab", "320",
            "--window", "7", "--emb-scale", "0.25", "--hidden-scale", "0.125", "--gate", "query",
            "--no-normalize-per-loop", "--shards", "4"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    cfg = json.loads((out / "config.json").read_text())
    sizes = ("num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads", "head_dim")
    assert [cfg[k] for k in sizes] == [3, 48, 6, 3, 8]
    plt = ("plt_num_loops", "plt_window_size", "plt_emb_scale", "plt_hidden_scale")
    assert [cfg[k] for k in plt] == [3, [7, 0], 0.25, 0.125]
    assert cfg["plt_normalize_per_loop"] is False
    assert cfg["plt_gate_use_hidden_states"] is False
    assert cfg["vocab_size"] == 320
    assert len(list(out.glob("model-*-of-00004.safetensors"))) == 4
    assert tuple(_headers(out)["model.layers.2.self_attn.plt_gate.weight"]["shape"]) == (6, 8)

    bad = CliRunner().invoke(app, ["debug", "make-tiny", str(tmp_path / "x"), "--shards", "999"])
    assert bad.exit_code != 0
    assert "cannot split" in bad.output
