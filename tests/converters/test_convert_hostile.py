"""Bad input to `plt-agent convert`: one clear line naming the culprit, a non-zero exit, and no
OUT.gguf (nor temporary file) left behind. Every case runs through the real CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from converters.safetensors_io import SafetensorsFile, write_safetensors
from plt_agent.cli import app

INDEX = "model.safetensors.index.json"


@pytest.fixture
def ckpt(tiny_checkpoint, tmp_path):
    """A private copy of the default tiny checkpoint, free to damage."""
    dst = tmp_path / "ck"
    shutil.copytree(tiny_checkpoint(), dst)
    return dst


def run_convert(src, out, *extra):
    return CliRunner().invoke(app, ["convert", str(src), "-o", str(out), *extra])


def assert_fails_cleanly(result, out, *culprits):
    assert result.exit_code != 0
    line = result.output.strip()
    assert line.startswith("error:"), result.output
    assert "\n" not in line, result.output
    for c in culprits:
        assert c in line, (c, line)
    assert not out.exists()
    if out.parent.is_dir():
        assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]


def shard_of(directory, tensor):
    return directory / json.loads((directory / INDEX).read_text())["weight_map"][tensor]


def rewrite_shard(directory, tensor, change):
    """Rewrite the shard holding `tensor`; `change(values, dtypes)` edits the dicts in place."""
    path = shard_of(directory, tensor)
    with SafetensorsFile(path) as f:
        values = {n: f.read(n) for n in f.names()}
        dtypes = {n: f.entries[n].dtype for n in f.names()}
    change(values, dtypes)
    write_safetensors(path, values, dtypes)
    return path


def test_missing_shard(ckpt, tmp_path):
    shard = shard_of(ckpt, "lm_head.weight")
    shard.unlink()
    assert_fails_cleanly(
        run_convert(ckpt, tmp_path / "o.gguf"), tmp_path / "o.gguf", shard.name, INDEX, "missing"
    )


def test_truncated_shard_names_file_and_tensor(ckpt, tmp_path):
    shard = shard_of(ckpt, "lm_head.weight")
    shard.write_bytes(shard.read_bytes()[:-100])
    result = run_convert(ckpt, tmp_path / "o.gguf")
    assert_fails_cleanly(result, tmp_path / "o.gguf", shard.name, "truncated", "tensor ")


def test_tensor_missing_from_checkpoint(ckpt, tmp_path):
    name = "model.layers.1.mlp.up_proj.weight"
    rewrite_shard(ckpt, name, lambda values, dtypes: (values.pop(name), dtypes.pop(name)))
    index = json.loads((ckpt / INDEX).read_text())
    del index["weight_map"][name]
    (ckpt / INDEX).write_text(json.dumps(index))
    assert_fails_cleanly(run_convert(ckpt, tmp_path / "o.gguf"), tmp_path / "o.gguf", name, "missing")


def test_index_names_a_tensor_its_shard_lacks(ckpt, tmp_path):
    name = "model.layers.0.mlp.down_proj.weight"
    path = rewrite_shard(ckpt, name, lambda values, dtypes: (values.pop(name), dtypes.pop(name)))
    assert_fails_cleanly(run_convert(ckpt, tmp_path / "o.gguf"), tmp_path / "o.gguf", path.name, name)


def test_shape_mismatch_against_config(ckpt, tmp_path):
    name = "model.layers.1.self_attn.k_proj.weight"

    def transpose(values, dtypes):
        values[name] = values[name].T.copy()

    path = rewrite_shard(ckpt, name, transpose)
    result = run_convert(ckpt, tmp_path / "o.gguf")
    assert_fails_cleanly(result, tmp_path / "o.gguf", path.name, name, "[64, 32]", "[32, 64]")


def test_dtype_mismatch_against_config(ckpt, tmp_path):
    name = "model.layers.0.mlp.gate_proj.weight"
    rewrite_shard(ckpt, name, lambda values, dtypes: dtypes.__setitem__(name, "F16"))
    result = run_convert(ckpt, tmp_path / "o.gguf")
    assert_fails_cleanly(result, tmp_path / "o.gguf", name, "F16", "bfloat16")


def test_unexpected_tensor(ckpt, tmp_path):
    name = "model.layers.0.self_attn.q_proj.weight"

    def add(values, dtypes):
        values["model.extra.weight"], dtypes["model.extra.weight"] = np.ones(3), "BF16"

    shard = rewrite_shard(ckpt, name, add)
    index = json.loads((ckpt / INDEX).read_text())
    index["weight_map"]["model.extra.weight"] = shard.name
    (ckpt / INDEX).write_text(json.dumps(index))
    assert_fails_cleanly(run_convert(ckpt, tmp_path / "o.gguf"), tmp_path / "o.gguf", "model.extra.weight")


@pytest.mark.parametrize("key", ["hidden_size", "num_hidden_layers", "plt_num_loops", "plt_window_size"])
def test_config_missing_a_key(ckpt, tmp_path, key):
    cfg = json.loads((ckpt / "config.json").read_text())
    del cfg[key]
    (ckpt / "config.json").write_text(json.dumps(cfg))
    assert_fails_cleanly(
        run_convert(ckpt, tmp_path / "o.gguf"), tmp_path / "o.gguf", "config.json", repr(key)
    )


def test_unknown_architecture_names_the_supported_ones(ckpt, tmp_path):
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["architectures"] = ["MistralForCausalLM"]
    (ckpt / "config.json").write_text(json.dumps(cfg))
    result = run_convert(ckpt, tmp_path / "o.gguf")
    assert_fails_cleanly(
        result, tmp_path / "o.gguf", "MistralForCausalLM", "IQuestPLTCoderForCausalLM", "LlamaForCausalLM"
    )


@pytest.mark.parametrize("name", ["config.json", "tokenizer.json"])
def test_missing_config_or_tokenizer(ckpt, tmp_path, name):
    (ckpt / name).unlink()
    assert_fails_cleanly(run_convert(ckpt, tmp_path / "o.gguf"), tmp_path / "o.gguf", name, "not found")


def test_eos_id_outside_the_vocab(ckpt, tmp_path):
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["eos_token_id"] = [2, 100000]
    (ckpt / "config.json").write_text(json.dumps(cfg))
    assert_fails_cleanly(run_convert(ckpt, tmp_path / "o.gguf"), tmp_path / "o.gguf", "100000", "config.json")


def test_output_directory_missing_or_not_a_directory(ckpt, tmp_path):
    assert_fails_cleanly(
        run_convert(ckpt, tmp_path / "nope" / "o.gguf"), tmp_path / "nope" / "o.gguf", "does not exist"
    )
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_convert(ckpt, blocker / "o.gguf")
    assert result.exit_code != 0
    assert str(blocker) in result.output
    assert blocker.read_text() == "x"


def test_unwritable_output_directory(ckpt):
    """/proc accepts no new files, even from root (CI runs as root, so chmod would not do)."""
    out = Path("/proc/o.gguf")
    result = run_convert(ckpt, out)
    assert result.exit_code != 0
    assert "cannot write to directory /proc" in result.output
    assert not out.exists()


def test_failure_while_writing_removes_the_temp_file_and_keeps_an_old_output(ckpt, tmp_path):
    """A value beyond the F16 range is found only while streaming, after the header is written."""
    name = "model.layers.1.mlp.down_proj.weight"

    def huge(values, dtypes):
        values[name][3, 5] = 1e6

    rewrite_shard(ckpt, name, huge)
    out = tmp_path / "o.gguf"
    out.write_bytes(b"previous")
    result = run_convert(ckpt, out, "--outtype", "f16")
    assert result.exit_code != 0
    assert name in result.output
    assert "F16 range" in result.output
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck", "o.gguf"]


def test_interrupt_removes_the_temp_file(ckpt, tmp_path, monkeypatch):
    from converters import quant

    calls = []
    real = quant.encode

    def interrupt_on_fifth(rows, qtype, name=""):
        calls.append(name)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(rows, qtype, name)

    monkeypatch.setattr(quant, "encode", interrupt_on_fifth)
    out = tmp_path / "o.gguf"
    result = run_convert(ckpt, out, "--outtype", "q8_0")
    assert result.exit_code == 130
    assert len(calls) == 5
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]
