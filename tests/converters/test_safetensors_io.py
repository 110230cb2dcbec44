"""The numpy safetensors reader/writer, checked against the format itself and the `safetensors` library."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from safetensors.numpy import load_file as st_load_numpy
from safetensors.numpy import save_file as st_save_numpy

from converters.errors import ConvertError
from converters.safetensors_io import (
    Checkpoint,
    SafetensorsFile,
    f32_to_bf16,
    round_to_bf16,
    write_safetensors,
)


def _bf16_nearest_even(x: np.ndarray) -> np.ndarray:
    """Round float32 to bfloat16 by comparing the two bracketing bf16 values in float64."""
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    lo = (u & 0xFFFF0000).astype(np.uint32).view(np.float32).astype(np.float64)
    hi = ((u & 0xFFFF0000) + 0x10000).astype(np.uint32).view(np.float32).astype(np.float64)
    xd = x.astype(np.float64)
    d_lo, d_hi = np.abs(xd - lo), np.abs(hi - xd)
    lo_even = ((u >> 16) & 1) == 0
    pick_lo = (d_lo < d_hi) | ((d_lo == d_hi) & lo_even)
    return np.where(pick_lo, lo, hi).astype(np.float32)


def test_bf16_rounding_is_nearest_even():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(10000), rng.standard_normal(1000) * 1e-30, [0.0, -0.0, 3e38]])
    x = x.astype(np.float32)
    np.testing.assert_array_equal(round_to_bf16(x), _bf16_nearest_even(x))
    # Exact ties: 1 + 2^-8 sits halfway between 1 and 1 + 2^-7 and goes to the even mantissa (1.0);
    # 1 + 3*2^-8 sits between 1 + 2^-7 (odd) and 1 + 2^-6 (even) and goes up.
    ties = np.array([1 + 2**-8, 1 + 3 * 2**-8], dtype=np.float32)
    assert round_to_bf16(ties).tolist() == [1.0, 1 + 2**-6]
    assert np.isnan(round_to_bf16(np.array([np.nan], dtype=np.float32)))[0]
    assert f32_to_bf16(np.array([1.0], dtype=np.float32))[0] == 0x3F80


def test_written_file_layout_and_values_match_the_safetensors_library(tmp_path):
    rng = np.random.default_rng(1)
    tensors = {
        "a": rng.standard_normal((3, 5)).astype(np.float32),
        "b": rng.standard_normal(7).astype(np.float32),
    }
    path = tmp_path / "x.safetensors"
    write_safetensors(path, tensors, {"a": "F32", "b": "F16"})
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    assert n % 8 == 0
    assert header["__metadata__"] == {"format": "pt"}
    assert header["a"]["dtype"] == "F32"
    assert header["b"]["dtype"] == "F16"
    assert len(raw) == 8 + n + 3 * 5 * 4 + 7 * 2
    theirs = st_load_numpy(path)
    np.testing.assert_array_equal(theirs["a"], tensors["a"])
    np.testing.assert_array_equal(theirs["b"], tensors["b"].astype(np.float16))
    with SafetensorsFile(path) as f:
        np.testing.assert_array_equal(f.read("a"), tensors["a"])
        np.testing.assert_array_equal(f.read("b"), tensors["b"].astype(np.float16).astype(np.float32))
        np.testing.assert_array_equal(f.read_rows("a", 1, 3), tensors["a"][1:3])


def test_reads_files_written_by_the_safetensors_library(tmp_path):
    rng = np.random.default_rng(2)
    ref = {
        "w": rng.standard_normal((4, 6)).astype(np.float32),
        "h": rng.standard_normal(9).astype(np.float16),
    }
    st_save_numpy(ref, tmp_path / "ref.safetensors")
    with SafetensorsFile(tmp_path / "ref.safetensors") as f:
        np.testing.assert_array_equal(f.read("w"), ref["w"])
        np.testing.assert_array_equal(f.read("h"), ref["h"].astype(np.float32))


def test_bf16_values_read_back_through_torch(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    x = np.random.default_rng(3).standard_normal((8, 16)).astype(np.float32)
    write_safetensors(tmp_path / "b.safetensors", {"x": x}, "BF16")
    theirs = load_file(tmp_path / "b.safetensors")["x"]
    assert theirs.dtype == torch.bfloat16
    np.testing.assert_array_equal(theirs.float().numpy(), torch.from_numpy(x).bfloat16().float().numpy())
    with SafetensorsFile(tmp_path / "b.safetensors") as f:
        np.testing.assert_array_equal(f.read("x"), theirs.float().numpy())


def test_truncated_file_names_the_file_and_the_first_tensor_cut_off(tmp_path):
    path = tmp_path / "t.safetensors"
    write_safetensors(path, {"first": np.ones(16, np.float32), "second": np.ones(16, np.float32)}, "F32")
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ConvertError, match=r"t\.safetensors.*truncated.*tensor second"):
        SafetensorsFile(path)


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (b"\x01\x02", "not a safetensors file"),
        (struct.pack("<Q", 10**6) + b"{}", "header length"),
        (struct.pack("<Q", 4) + b"{bad", "not valid JSON"),
    ],
)
def test_malformed_headers_are_one_clear_error(tmp_path, content, pattern):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(ConvertError, match=pattern):
        SafetensorsFile(path)


def _raw_file(path, entries: dict, data: bytes) -> None:
    blob = json.dumps(entries).encode()
    blob += b" " * (-len(blob) % 8)
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + data)


def test_unsupported_dtype_and_inconsistent_offsets_are_rejected(tmp_path):
    _raw_file(
        tmp_path / "i.safetensors",
        {"ids": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]}},
        b"\0" * 16,
    )
    with pytest.raises(ConvertError, match=r"tensor ids has dtype I64"):
        SafetensorsFile(tmp_path / "i.safetensors")
    _raw_file(
        tmp_path / "o.safetensors", {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}, b"\0" * 8
    )
    with pytest.raises(ConvertError, match=r"tensor w is F32 \[4\] \(16 bytes\)"):
        SafetensorsFile(tmp_path / "o.safetensors")


def test_checkpoint_reads_shards_through_the_index(tmp_path):
    a, b = np.arange(6, dtype=np.float32).reshape(2, 3), np.arange(4, dtype=np.float32)
    write_safetensors(tmp_path / "s1.safetensors", {"a": a}, "F32")
    write_safetensors(tmp_path / "s2.safetensors", {"b": b}, "F32")
    index = {"metadata": {"total_size": 40}, "weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    with Checkpoint(tmp_path) as ckpt:
        assert sorted(ckpt.names()) == ["a", "b"]
        np.testing.assert_array_equal(ckpt.read("a"), a)
        np.testing.assert_array_equal(ckpt.read("b"), b)
        chunks = list(ckpt.iter_rows("a", max_elements=3))
        assert len(chunks) == 2
        np.testing.assert_array_equal(np.concatenate(chunks), a)


def test_checkpoint_with_a_missing_shard_names_it(tmp_path):
    write_safetensors(tmp_path / "s1.safetensors", {"a": np.ones(2, np.float32)}, "F32")
    index = {"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(
        ConvertError, match=r"s2\.safetensors: shard named in model\.safetensors\.index\.json"
    ):
        Checkpoint(tmp_path)


def test_checkpoint_index_naming_a_tensor_the_shard_lacks(tmp_path):
    write_safetensors(tmp_path / "s1.safetensors", {"a": np.ones(2, np.float32)}, "F32")
    (tmp_path / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"zz": "s1.safetensors"}})
    )
    with pytest.raises(
        ConvertError, match=r"tensor zz listed in model\.safetensors\.index\.json is not in it"
    ):
        Checkpoint(tmp_path)


def test_directory_without_weights(tmp_path):
    with pytest.raises(ConvertError, match="no model.safetensors.index.json and no model.safetensors"):
        Checkpoint(tmp_path)
