"""The GGUF loader's rules one by one (issue 10), in-process, with a one-line reason each.

The fuzz suite finds classes of problems; these pin the individual rules: what llama.cpp
refuses we refuse, and a file laid out differently but consistently still loads the same.
Cases that used to abort the process run in the fuzz suite's subprocesses instead.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from gguf_raw import ARRAY, F32, STRING, U32, U64, TensorInfo, parse

from engine import api
from engine.errors import EngineError
from engine.gguf_file import open_model


@pytest.fixture
def base(tiny_gguf):
    return parse(tiny_gguf("f32").read_bytes())


def _write(tmp_path, g, name="m.gguf"):
    path = tmp_path / name
    path.write_bytes(g.to_bytes() if not isinstance(g, bytes) else g)
    return path


def _logits(path):
    with api.load(path, n_ctx=8, threads=1) as m:
        return m.runner.prefill([1, 2, 3], all_logits=True)


def test_a_consistent_relayout_loads_the_same_model(base, tmp_path, tiny_gguf):
    reference = _logits(tiny_gguf("f32"))
    for align in (1, 64):
        moved = base.copy().relayout(align, list(range(len(base.tensors)))[::-1])
        np.testing.assert_array_equal(_logits(_write(tmp_path, moved, f"a{align}.gguf")), reference)


@pytest.mark.parametrize(
    ("vtype", "value", "message"),
    [
        (U32, 3, "power of two"),
        (U32, 0, "power of two"),
        (STRING, "32", "power of two stored as uint32"),
        (U64, 32, "stored as uint32"),
        (U32, 1, "starts at data offset"),  # a declaration that does not describe the layout
        (U32, 64, "starts at data offset"),
    ],
)
def test_general_alignment(base, tmp_path, vtype, value, message):
    with pytest.raises(EngineError, match=message):
        open_model(_write(tmp_path, base.set("general.alignment", vtype, value)))


@pytest.mark.parametrize(
    ("shift", "message"), [(1, "gap or is misaligned"), (-32, "overlaps the tensor before")]
)
def test_tensor_data_must_lie_back_to_back(base, tmp_path, shift, message):
    base.tensors[5].offset += shift
    with pytest.raises(EngineError, match=message):
        open_model(_write(tmp_path, base))


def test_swapped_offsets_are_caught(base, tmp_path):
    a, b = base.tensor("blk.0.ffn_gate.weight"), base.tensor("blk.0.ffn_up.weight")
    a.offset, b.offset = b.offset, a.offset
    with pytest.raises(EngineError, match="blk.0.ffn_(gate|up).weight starts at data offset"):
        open_model(_write(tmp_path, base))


def test_trailing_bytes_beyond_one_alignment_unit(base, tmp_path):
    with pytest.raises(EngineError, match="bytes follow the last tensor"):
        open_model(_write(tmp_path, base.to_bytes() + bytes(64)))


def test_duplicates_and_nested_arrays(base, tmp_path):
    dup = base.copy()
    dup.kvs.append(dup.find("pltcoder.block_count"))
    with pytest.raises(EngineError, match="pltcoder.block_count appears twice"):
        open_model(_write(tmp_path, dup, "d.gguf"))
    twice = base.copy()
    t = twice.tensor("output_norm.weight")
    twice.tensors.append(TensorInfo(t.name, list(t.ne), t.ttype, len(twice.data)))
    twice.data += twice.tensor_bytes(t)
    with pytest.raises(EngineError, match="tensor output_norm.weight appears twice"):
        open_model(_write(tmp_path, twice, "t.gguf"))
    nested = base.copy().set_raw("x.nested", ARRAY, struct.pack("<IQ", ARRAY, 1) + struct.pack("<IQ", U32, 0))
    with pytest.raises(EngineError, match="nested or unknown"):
        open_model(_write(tmp_path, nested, "n.gguf"))


@pytest.mark.parametrize(
    ("key", "vtype", "value", "message"),
    [
        ("pltcoder.block_count", U32, 0, "between 1 and 4096, got 0"),
        ("pltcoder.block_count", U32, 3000, "claims 3000 layers but holds only 27 tensors"),
        ("pltcoder.attention.head_count_kv", U32, 0, "head_count_kv must be between 1"),
        ("pltcoder.attention.head_count_kv", U32, 3, "not a multiple of num_kv_heads 3"),
        ("pltcoder.attention.layer_norm_rms_epsilon", F32, float("nan"), "must be a finite number, got nan"),
        ("pltcoder.plt.gate_norm_epsilon", F32, -1e-5, "between 1e-38 and 1"),
        ("pltcoder.rope.freq_base", F32, 0.0, r"freq_base must be between 1 and 1e\+30"),
        ("pltcoder.plt.emb_scale", F32, float("inf"), "emb_scale must be a finite number"),
        ("pltcoder.plt.hidden_scale", F32, 3e38, "hidden_scale must be between -1000 and 1000"),
        ("pltcoder.context_length", F32, 2.5, "must be an integer, got 2.5"),
        ("pltcoder.plt.window_size", U64, 2**63, "between 0 and 65536"),
        ("tokenizer.ggml.eos_token_id", STRING, "2", "must be a token id"),
        ("tokenizer.chat_template", U32, 5, "must be a string"),
    ],
)
def test_hyperparameters_are_checked_before_ggml(base, tmp_path, key, vtype, value, message):
    with pytest.raises(EngineError, match=message):
        open_model(_write(tmp_path, base.set(key, vtype, value)))


def test_nan_weights_are_refused(base, tmp_path):
    raw = bytearray(base.to_bytes())
    start = len(raw) - len(base.data)
    emb = base.tensor("token_embd.weight")
    struct.pack_into("<f", raw, start + emb.offset + 4 * (2 * 64 + 5), float("nan"))  # token 2
    path = _write(tmp_path, bytes(raw), "nan.gguf")
    with api.load(path, n_ctx=8, threads=1) as m:
        m.runner.prefill([1])  # token 1 is clean
        with pytest.raises(EngineError, match="NaN or infinite logits"):
            m.runner.prefill([2])
    norm = base.tensor("output_norm.weight")
    struct.pack_into("<f", raw, start + norm.offset, float("inf"))
    with pytest.raises(EngineError, match="output_norm.weight holds NaN or infinite values"):
        open_model(_write(tmp_path, bytes(raw), "inf.gguf"))


def test_names_from_the_file_are_escaped_and_short(base, tmp_path):
    base.tensors.append(TensorInfo(b"\x1b[2Jx" + b"y" * 50, [64], 99, len(base.data)))
    base.data += bytes(256)
    with pytest.raises(EngineError) as info:
        open_model(_write(tmp_path, base))
    assert "\\x1b[2Jxyyy" in str(info.value)
    assert "\x1b" not in str(info.value)
    long = parse(
        _write(tmp_path, base.set("general.architecture", STRING, "z" * 200_000), "l.gguf").read_bytes()
    )
    with pytest.raises(EngineError, match="characters cut") as info:
        open_model(_write(tmp_path, long, "l2.gguf"))
    assert len(str(info.value)) <= 600


def test_a_damaged_saved_session_is_an_error(tiny_gguf, tmp_path):
    path = tmp_path / "s.npz"
    with api.load(tiny_gguf("f32"), n_ctx=16, threads=1) as m:
        session = m.session()
        session.feed([1, 2, 3])
        session.save(path)
        data = dict(np.load(path))
        data["small0"] = data["small0"][:-4]
        np.savez(tmp_path / "bad.npz", **data)
        with pytest.raises(EngineError, match="does not match this model's state"):
            m.new_session().load(tmp_path / "bad.npz")
