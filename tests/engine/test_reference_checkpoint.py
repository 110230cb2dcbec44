"""Loading an HF checkpoint directory gives the same model as the tensors built in memory.

Checkpoints are written here with `safetensors.torch.save_file` (sharded BF16 with an index,
vendor alias names, a single F32 file with tied embeddings) and by `converters.tiny.make_tiny`
through the shared `tiny_checkpoint` fixture. Bad directories raise EngineError naming the
file, key or tensor.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from engine.arch import config_from_hf
from engine.errors import EngineError
from engine.reference import Reference, load_checkpoint, reference_logits

IDS = [5, 9, 0, 63, 17, 17, 2, 40, 33, 8, 1, 60, 12, 7, 7, 50]


def write_checkpoint(directory: Path, hf: dict, tensors: dict, shards: int = 2, dtype=torch.bfloat16) -> Path:
    """config.json plus `tensors` in `shards` safetensors files (with an index when > 1)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(hf))
    stored = {name: t.to(dtype).contiguous() for name, t in tensors.items()}
    if shards == 1:
        save_file(stored, str(directory / "model.safetensors"), metadata={"format": "pt"})
        return directory
    names = sorted(stored)
    weight_map = {}
    for i in range(shards):
        file = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        part = {n: stored[n] for n in names[i::shards]}
        save_file(part, str(directory / file), metadata={"format": "pt"})
        weight_map |= dict.fromkeys(part, file)
    total = sum(t.numel() * t.element_size() for t in stored.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (directory / "model.safetensors.index.json").write_text(json.dumps(index))
    return directory


def with_vendor_alias(tensors: dict, layer: int) -> dict:
    """Rename one layer's gate to the `loop_gate_proj` alias the vendor loader accepts (§2)."""
    old = f"model.layers.{layer}.self_attn.plt_gate."
    new = f"model.layers.{layer}.self_attn.loop_gate_proj."
    return {name.replace(old, new): t for name, t in tensors.items()}


def test_bf16_shards_with_aliases_load_like_memory(tmp_path, hf_config, random_tensors):
    hf = hf_config(plt_num_loops=3)
    tensors = random_tensors(hf)
    path = write_checkpoint(tmp_path / "ckpt", hf, with_vendor_alias(tensors, layer=1), shards=3)
    rounded = {name: t.to(torch.bfloat16).to(torch.float32) for name, t in tensors.items()}
    expected = Reference(config_from_hf(hf), rounded).logits(IDS)

    loaded = Reference.from_checkpoint(path)
    torch.testing.assert_close(loaded.logits(IDS), expected, atol=0, rtol=0)
    torch.testing.assert_close(loaded.logits(IDS, mode="decode"), expected, atol=5e-5, rtol=0)
    unrounded = Reference(config_from_hf(hf), tensors).logits(IDS)
    assert (unrounded - expected).abs().max() > 1e-4  # the BF16 rounding was really applied

    as_numpy = reference_logits(path, IDS, mode="chunks", chunk=5)
    assert as_numpy.dtype == np.float32
    assert as_numpy.shape == (len(IDS), 64)
    np.testing.assert_allclose(as_numpy, expected.numpy(), atol=5e-5, rtol=0)


def test_single_f32_file_with_tied_embeddings(tmp_path, hf_config, random_tensors):
    hf = hf_config(tie_word_embeddings=True)
    tensors = random_tensors(hf)
    assert "lm_head.weight" not in tensors
    path = write_checkpoint(tmp_path / "ckpt", hf, tensors, shards=1, dtype=torch.float32)
    cfg, loaded = load_checkpoint(path)
    assert cfg.tied_embeddings
    expected = Reference(config_from_hf(hf), tensors).logits(IDS)
    torch.testing.assert_close(Reference(cfg, loaded).logits(IDS), expected, atol=0, rtol=0)
    # tied means the output matrix is the embedding matrix
    record: dict = {}
    Reference(cfg, loaded).forward(IDS, record=record)
    manual = record["outputs"][-1] @ tensors["model.embed_tokens.weight"].T
    torch.testing.assert_close(expected, manual, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "options",
    [{}, {"loops": 3, "gate": "query", "shards": 3}, {"llama": True, "tied": True, "shards": 1}],
    ids=["release-like", "L3-query", "llama-tied"],
)
def test_make_tiny_checkpoints_load(tiny_checkpoint, options):
    """The converter's tiny checkpoints, read by our loader and by the converter's own numpy reader."""
    from converters.safetensors_io import Checkpoint

    path = tiny_checkpoint(**options)
    hf = json.loads((path / "config.json").read_text())
    with Checkpoint(path) as ckpt:
        tensors = {name: torch.from_numpy(np.array(ckpt.read(name))) for name in ckpt.names()}
    ids = list(range(3, 19))  # 16 tokens > 3 * W + 1 for the tiny window W = 4
    expected = Reference(config_from_hf(hf), tensors).logits(ids)

    model = Reference.from_checkpoint(path)
    assert model.cfg.loops == options.get("loops", 1 if options.get("llama") else 2)
    torch.testing.assert_close(model.logits(ids), expected, atol=0, rtol=0)
    torch.testing.assert_close(model.logits(ids, mode="decode"), expected, atol=5e-5, rtol=0)


# ---- bad checkpoints -----------------------------------------------------------------------


@pytest.fixture
def good(tmp_path, hf_config, random_tensors):
    hf = hf_config()
    return tmp_path / "ckpt", hf, random_tensors(hf)


def test_missing_tensor_is_named(good):
    path, hf, tensors = good
    del tensors["model.layers.1.self_attn.plt_gate.gate_norm.weight"]
    write_checkpoint(path, hf, tensors)
    with pytest.raises(
        EngineError, match=r"missing tensor 'model\.layers\.1\.self_attn\.plt_gate\.gate_norm"
    ):
        Reference.from_checkpoint(path)


def test_wrong_shape_is_named(good):
    path, hf, tensors = good
    tensors["model.layers.0.mlp.up_proj.weight"] = torch.zeros(65, 32)
    write_checkpoint(path, hf, tensors)
    with pytest.raises(EngineError, match=r"up_proj\.weight.*\[65, 32\].*\[64, 32\]"):
        Reference.from_checkpoint(path)


def test_unexpected_tensor_is_named(good):
    path, hf, tensors = good
    tensors["model.layers.0.self_attn.q_norm.weight"] = torch.ones(8)
    write_checkpoint(path, hf, tensors)
    with pytest.raises(EngineError, match="q_norm"):
        Reference.from_checkpoint(path)


def test_shard_named_by_the_index_but_absent(good):
    path, hf, tensors = good
    write_checkpoint(path, hf, tensors, shards=2)
    (path / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(EngineError, match="model-00002-of-00002.safetensors"):
        Reference.from_checkpoint(path)


def test_truncated_shard(good):
    path, hf, tensors = good
    write_checkpoint(path, hf, tensors, shards=2)
    shard = path / "model-00001-of-00002.safetensors"
    shard.write_bytes(shard.read_bytes()[:-100])
    with pytest.raises(EngineError, match="model-00001-of-00002.safetensors"):
        Reference.from_checkpoint(path)


def test_config_missing_key_and_no_weights(good):
    path, hf, tensors = good
    write_checkpoint(path, {k: v for k, v in hf.items() if k != "plt_window_size"}, tensors)
    with pytest.raises(EngineError, match=r"config\.json.*plt_window_size"):
        Reference.from_checkpoint(path)
    (path / "config.json").write_text(json.dumps(hf))
    for file in path.glob("model*"):
        file.unlink()
    with pytest.raises(EngineError, match="model.safetensors"):
        Reference.from_checkpoint(path)
