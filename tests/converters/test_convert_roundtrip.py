"""HF -> GGUF round trips: every outtype read back with gguf.GGUFReader and compared with the source.

Expected values come from the checkpoint files (read with the `safetensors` library and torch)
and from the GGUF/ggml formats themselves, never from the converter's own output.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from gguf import GGMLQuantizationType, GGUFReader
from gguf import quants as gguf_quants
from typer.testing import CliRunner

from plt_agent.cli import app

torch = pytest.importorskip("torch")
from safetensors.torch import load_file  # noqa: E402

T = GGMLQuantizationType
# llama.cpp's LLAMA_FTYPE numbers (llama.h), as other GGUF readers interpret general.file_type.
FILE_TYPE = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 7, "q4_k": 14, "q6_k": 18, "bf16": 32}
HF_TO_GGUF_SUFFIX = {  # the llama.cpp naming, written out independently of engine.arch
    "input_layernorm.weight": "attn_norm.weight", "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight", "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight", "self_attn.plt_gate.weight": "plt_gate.weight",
    "self_attn.plt_gate.bias": "plt_gate.bias", "self_attn.plt_gate.gate_norm.weight": "plt_gate_norm.weight",
}  # fmt: skip
VECTOR_OR_GATE = ("norm.weight", "plt_gate.weight", "plt_gate.bias")
K_SHAPES = dict(hidden=256, heads=4, kv_heads=2, head_dim=64, intermediate=512)  # every row a multiple of 256


def gguf_of(hf_name: str) -> str:
    fixed = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
             "lm_head.weight": "output.weight"}  # fmt: skip
    if hf_name in fixed:
        return fixed[hf_name]
    _, _, j, rest = hf_name.split(".", 3)
    return f"blk.{j}.{HF_TO_GGUF_SUFFIX[rest]}"


def source_values(directory) -> dict[str, np.ndarray]:
    """GGUF name -> float32 source values, read with the reference safetensors loader."""
    out = {}
    for shard in sorted(directory.glob("*.safetensors")):
        out |= {gguf_of(k): v.float().numpy() for k, v in load_file(shard).items()}
    return out


def read_gguf(path) -> tuple[dict[str, tuple[GGMLQuantizationType, np.ndarray]], dict[str, object]]:
    reader = GGUFReader(path)
    tensors = {}
    for t in reader.tensors:
        values = gguf_quants.dequantize(np.asarray(t.data), t.tensor_type)
        tensors[t.name] = (t.tensor_type, values.reshape(tuple(int(d) for d in reversed(t.shape))))
    fields = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    return tensors, fields


def f16_step(v):
    """Largest rounding error of float16 at magnitude v (half an ulp, or half the subnormal spacing)."""
    return np.maximum(np.abs(v) * 2.0**-11, 2.0**-25)


def blocks(x, n):
    return np.abs(x).reshape(-1, n).max(axis=1, keepdims=True)


def assert_within(src: np.ndarray, got: np.ndarray, qtype: GGMLQuantizationType) -> None:
    """The format-derived bound per element (see the docstrings of ggml's block types)."""
    err = np.abs(got.astype(np.float64) - src.astype(np.float64))
    if qtype is T.F32 or qtype is T.BF16:  # the source is bf16: both represent it exactly
        np.testing.assert_array_equal(got, src)
        return
    if qtype is T.F16:
        np.testing.assert_array_equal(got, src.astype(np.float16).astype(np.float32))
        assert (err <= f16_step(src)).all()
        return
    if qtype is T.Q8_0:  # blocks of 32: q = round(x/d), d = amax/127 stored as f16
        d = blocks(src, 32) / 127
        bound = d / 2 + 127 * f16_step(d)
        shape = (-1, 32)
    elif qtype is T.Q4_0:  # blocks of 32: d = max/-8, codes 0..15 (the +8 end clips by one step)
        d = blocks(src, 32) / 8
        bound = d + 8 * f16_step(d)
        shape = (-1, 32)
    elif qtype is T.Q4_K:  # 256 = 8 x 32, 4-bit codes, 6-bit scales and mins
        amax = blocks(src, 256)
        bound, shape = amax * (2 / 15 + 1 / 63 + 1 / 126), (-1, 256)
    elif qtype is T.Q6_K:  # 256 = 16 x 16, 6-bit codes, 8-bit scales
        amax = blocks(src, 256)
        bound, shape = amax * (1 / 32 + 1 / 127), (-1, 256)
    else:
        raise AssertionError(f"unexpected type {qtype.name}")
    assert (err.reshape(shape) <= bound * (1 + 1e-5)).all(), f"{qtype.name}: max err {err.max()}"
    assert err.max() > 0  # it really was quantized


def convert_cli(src, out, outtype, *extra):
    result = CliRunner().invoke(app, ["convert", str(src), "-o", str(out), "--outtype", outtype, *extra])
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("outtype", ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q6_k"])
def test_every_outtype_round_trips_within_its_format_bound(tiny_checkpoint, tmp_path, outtype):
    src_dir = tiny_checkpoint(**K_SHAPES) if outtype in ("q4_k", "q6_k") else tiny_checkpoint()
    out = tmp_path / "m.gguf"
    convert_cli(src_dir, out, outtype)
    src = source_values(src_dir)
    tensors, fields = read_gguf(out)
    assert set(tensors) == set(src)
    want = {"f32": T.F32, "f16": T.F16, "bf16": T.BF16, "q8_0": T.Q8_0, "q4_0": T.Q4_0, "q4_k": T.Q4_K,
            "q6_k": T.Q6_K}[outtype]  # fmt: skip
    for name, (qtype, got) in tensors.items():
        assert got.shape == src[name].shape, name
        stays_f32 = src[name].ndim == 1 or name.endswith(VECTOR_OR_GATE)
        assert qtype is (T.F32 if stays_f32 else want), name
        assert_within(src[name], got, qtype)
    assert fields["general.file_type"] == FILE_TYPE[outtype]
    assert not list(tmp_path.glob(".*part"))


def test_numpy_quants_are_byte_identical_to_ggml(tiny_checkpoint, tmp_path):
    """Q8_0/Q4_0 are made in numpy; ggml's own quantizer must produce the same bytes."""
    from converters import ggml_quant

    src_dir = tiny_checkpoint()
    src = source_values(src_dir)
    for outtype, qtype in (("q8_0", T.Q8_0), ("q4_0", T.Q4_0)):
        out = tmp_path / f"{outtype}.gguf"
        convert_cli(src_dir, out, outtype)
        for t in GGUFReader(out).tensors:
            if t.tensor_type is qtype:
                assert np.array_equal(np.asarray(t.data), ggml_quant.quantize(src[t.name], qtype)), t.name


def test_metadata_matches_config_json(tiny_checkpoint, tmp_path):
    src_dir = tiny_checkpoint()
    out = tmp_path / "m.gguf"
    convert_cli(src_dir, out, "q8_0")
    cfg = json.loads((src_dir / "config.json").read_text())
    tok_cfg = json.loads((src_dir / "tokenizer_config.json").read_text())
    _, f = read_gguf(out)
    a = "pltcoder"
    assert f["general.architecture"] == a
    assert f["general.name"]
    expect_int = {
        "context_length": cfg["max_position_embeddings"], "embedding_length": cfg["hidden_size"],
        "feed_forward_length": cfg["intermediate_size"], "block_count": cfg["num_hidden_layers"],
        "vocab_size": cfg["vocab_size"], "attention.head_count": cfg["num_attention_heads"],
        "attention.head_count_kv": cfg["num_key_value_heads"], "attention.key_length": cfg["head_dim"],
        "attention.value_length": cfg["head_dim"], "plt.loop_count": cfg["plt_num_loops"],
        "plt.window_size": cfg["plt_window_size"][0],
    }  # fmt: skip
    for key, value in expect_int.items():
        assert f[f"{a}.{key}"] == value, key
    expect_float = {
        "attention.layer_norm_rms_epsilon": cfg["rms_norm_eps"], "rope.freq_base": cfg["rope_theta"],
        "plt.emb_scale": cfg["plt_emb_scale"], "plt.hidden_scale": cfg["plt_hidden_scale"],
        "plt.gate_norm_epsilon": cfg["rms_norm_eps"],
    }  # fmt: skip
    for key, value in expect_float.items():
        assert f[f"{a}.{key}"] == pytest.approx(value, rel=1e-6), key
    assert f[f"{a}.plt.normalize_per_loop"] is True
    assert f[f"{a}.plt.gate_mode"] == "hidden"
    assert f[f"{a}.eos_token_ids"] == cfg["eos_token_id"]
    assert f["tokenizer.ggml.eos_token_id"] == cfg["eos_token_id"][0]
    assert f["tokenizer.ggml.bos_token_id"] == cfg["bos_token_id"]
    assert f["tokenizer.ggml.add_bos_token"] is tok_cfg["add_bos_token"]
    assert f["tokenizer.chat_template"] == tok_cfg["chat_template"]
    assert f["tokenizer.huggingface.json"] == (src_dir / "tokenizer.json").read_text()


def test_embedded_tokenizer_encodes_like_the_file(tiny_checkpoint, tmp_path):
    from tokenizers import Tokenizer

    src_dir = tiny_checkpoint()
    out = tmp_path / "m.gguf"
    convert_cli(src_dir, out, "f16")
    embedded = Tokenizer.from_str(read_gguf(out)[1]["tokenizer.huggingface.json"])
    original = Tokenizer.from_file(str(src_dir / "tokenizer.json"))
    text = "<|im_start|>user\nfix the bug in loop.py<|im_end|>\n"
    assert embedded.encode(text).ids == original.encode(text).ids


def test_generation_config_eos_ids_are_merged(tiny_checkpoint, tmp_path):
    src_dir = tmp_path / "ck"
    shutil.copytree(tiny_checkpoint(), src_dir)
    gen_path = src_dir / "generation_config.json"
    gen = json.loads(gen_path.read_text())
    gen["eos_token_id"] = gen["eos_token_id"] + [7]
    gen_path.write_text(json.dumps(gen))
    out = tmp_path / "m.gguf"
    convert_cli(src_dir, out, "f32")
    cfg = json.loads((src_dir / "config.json").read_text())
    assert read_gguf(out)[1]["pltcoder.eos_token_ids"] == cfg["eos_token_id"] + [7]


def test_llama_checkpoint_becomes_one_loop_without_gate(tiny_checkpoint, tmp_path):
    src_dir = tiny_checkpoint(llama=True, tied=True, shards=1)
    out = tmp_path / "llama.gguf"
    convert_cli(src_dir, out, "f32")
    tensors, f = read_gguf(out)
    assert f["general.architecture"] == "pltcoder"
    assert f["pltcoder.plt.loop_count"] == 1
    assert f["pltcoder.plt.gate_mode"] == "none"
    assert "output.weight" not in tensors
    assert not [n for n in tensors if "plt_gate" in n]
    src = source_values(src_dir)
    assert set(tensors) == set(src)
    for name, (_, got) in tensors.items():
        np.testing.assert_array_equal(got, src[name])


def test_k_quant_fallback_is_reported_and_fits_the_block(tiny_checkpoint, tmp_path):
    src_dir = tiny_checkpoint(hidden=48, heads=4, kv_heads=2, head_dim=12, intermediate=96)
    result = convert_cli(src_dir, tmp_path / "a.gguf", "q4_k")
    tensors, _ = read_gguf(tmp_path / "a.gguf")
    # rows of 48 fit neither 256 nor 32 -> f16; rows of 96 (ffn_down) fit 32 -> q8_0.
    assert tensors["blk.0.attn_q.weight"][0] is T.F16
    assert tensors["blk.0.ffn_down.weight"][0] is T.Q8_0
    flat = " ".join(result.output.split())
    assert "stored as f16 instead of q4_k" in flat
    assert "stored as q8_0 instead of q4_k" in flat
    src = source_values(src_dir)
    for name, (qtype, got) in tensors.items():
        assert_within(src[name], got, qtype)


@pytest.mark.parametrize("outtype", ["f32", "q8_0"])
def test_unseen_shapes_convert_with_f32_tensors_equal_to_the_source(tmp_path, outtype):
    """A checkpoint unlike the fixtures: GQA 8:1, 3 loops, window 7, other scales, query gate, 4 shards."""
    from converters.tiny import make_tiny

    src_dir = make_tiny(tmp_path / "odd", seed=11, loops=3, layers=3, hidden=96, heads=8, kv_heads=1,
                        head_dim=8, intermediate=160, vocab=333, window=7, emb_scale=0.3, hidden_scale=0.053,
                        gate="query", normalize_per_loop=False, shards=4)  # fmt: skip
    out = tmp_path / "odd.gguf"
    convert_cli(src_dir, out, outtype, "--check")
    tensors, f = read_gguf(out)
    src = source_values(src_dir)
    assert set(tensors) == set(src)
    n_f32 = 0
    for name, (qtype, got) in tensors.items():
        if qtype is T.F32:
            n_f32 += 1
            np.testing.assert_array_equal(got, src[name])
    assert n_f32 == (len(tensors) if outtype == "f32" else 2 * 3 + 1 + 2 * 3)  # norms + gate weight/bias
    assert (f["pltcoder.attention.head_count"], f["pltcoder.attention.head_count_kv"]) == (8, 1)
    assert (f["pltcoder.plt.loop_count"], f["pltcoder.plt.window_size"], f["pltcoder.plt.gate_mode"]) == (
        3, 7, "query")  # fmt: skip
    assert f["pltcoder.plt.normalize_per_loop"] is False
    assert f["pltcoder.plt.emb_scale"] == pytest.approx(0.3)
    assert f["pltcoder.plt.hidden_scale"] == pytest.approx(0.053)


def test_check_reports_every_tensor_and_passes(tiny_checkpoint, tmp_path):
    result = convert_cli(tiny_checkpoint(), tmp_path / "m.gguf", "q4_0", "--check")
    assert "check passed: 27 tensors" in " ".join(result.output.split())


def test_check_catches_a_corrupted_file(tiny_checkpoint, tmp_path):
    from converters.check import check_gguf

    src_dir = tiny_checkpoint()
    out = tmp_path / "m.gguf"
    convert_cli(src_dir, out, "q8_0")
    reader = GGUFReader(out)
    norm = next(t for t in reader.tensors if t.name == "blk.1.ffn_norm.weight")
    q = next(t for t in reader.tensors if t.name == "blk.0.ffn_up.weight")
    offsets = (norm.data_offset, q.data_offset + 2)  # a norm value, and a code of q's first block
    del reader
    raw = bytearray(out.read_bytes())
    for off in offsets:
        raw[off + 1] ^= 0x40
    out.write_bytes(bytes(raw))
    bad = {r.name for r in check_gguf(src_dir, out) if not r.ok}
    assert bad == {"blk.1.ffn_norm.weight", "blk.0.ffn_up.weight"}


def test_check_failure_exits_non_zero_through_the_cli(tiny_checkpoint, tmp_path, monkeypatch):
    """A converter bug (one norm off by 1e-6) must fail `--check`."""
    from converters import quant

    real = quant.encode

    def off_by_a_little(rows, qtype, name=""):
        out = real(rows, qtype, name)
        return out + np.float32(1e-6) if name == "model.layers.1.input_layernorm.weight" else out

    monkeypatch.setattr(quant, "encode", off_by_a_little)
    result = CliRunner().invoke(
        app, ["convert", str(tiny_checkpoint()), "-o", str(tmp_path / "m.gguf"), "--check"]
    )
    assert result.exit_code != 0
    assert "check failed: 1 tensor(s)" in result.output
    assert "blk.1.attn_norm.weight" in result.output


def test_ggml_k_quants_are_row_wise_so_streaming_in_chunks_is_exact():
    """The converter quantizes row chunks (and ggml threads split rows): whole == row by row."""
    from converters import ggml_quant

    x = np.random.default_rng(4).standard_normal((40, 512)).astype(np.float32)
    for qtype in (T.Q4_K, T.Q6_K):
        whole = ggml_quant.quantize(x, qtype)
        rows = np.concatenate([ggml_quant.quantize(x[i : i + 1], qtype) for i in range(len(x))])
        assert np.array_equal(whole, rows)
        assert whole.shape == (40, 512 // 256 * {T.Q4_K: 144, T.Q6_K: 210}[qtype])  # ggml block sizes


def _rename_in_checkpoint(directory, rename: dict[str, str], add: dict[str, np.ndarray]):
    """Rename tensors in a sharded checkpoint and add some to its first shard; keep the index true."""
    from converters.safetensors_io import SafetensorsFile, write_safetensors

    index_path = directory / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    shards = sorted(set(index["weight_map"].values()))
    for shard in shards:
        with SafetensorsFile(directory / shard) as f:
            values = {rename.get(n, n): f.read(n) for n in f.names()}
        write_safetensors(directory / shard, values | (add if shard == shards[0] else {}), "BF16")
    weight_map = {rename.get(n, n): s for n, s in index["weight_map"].items()} | dict.fromkeys(add, shards[0])
    index_path.write_text(json.dumps({**index, "weight_map": weight_map}))


def test_vendor_alias_names_and_harmless_extras_are_accepted(tiny_checkpoint, tmp_path):
    src_dir = tmp_path / "ck"
    shutil.copytree(tiny_checkpoint(), src_dir)
    before = source_values(src_dir)
    rename = {
        f"model.layers.{j}.self_attn.plt_gate.{part}": f"model.layers.{j}.self_attn.loop_gate_proj.{part}"
        for j in range(2)
        for part in ("weight", "bias", "gate_norm.weight")
    }
    inv_freq = {"model.layers.0.self_attn.rotary_emb.inv_freq": np.ones(8, np.float32)}
    _rename_in_checkpoint(src_dir, rename, add=inv_freq)
    result = convert_cli(src_dir, tmp_path / "m.gguf", "f32")
    assert "rotary_emb.inv_freq: skipped" in " ".join(result.output.split())
    tensors, _ = read_gguf(tmp_path / "m.gguf")
    assert set(tensors) == set(before)
    for name, (_, got) in tensors.items():
        np.testing.assert_array_equal(got, before[name])


def test_tied_checkpoint_that_still_ships_lm_head(tiny_checkpoint, tmp_path):
    src_dir = tmp_path / "ck"
    shutil.copytree(tiny_checkpoint(), src_dir)
    cfg = json.loads((src_dir / "config.json").read_text())
    cfg["tie_word_embeddings"] = True
    (src_dir / "config.json").write_text(json.dumps(cfg))
    result = convert_cli(src_dir, tmp_path / "m.gguf", "f32")
    assert "lm_head.weight: skipped" in " ".join(result.output.split())
    tensors, _ = read_gguf(tmp_path / "m.gguf")
    assert "output.weight" not in tensors
    assert "token_embd.weight" in tensors
