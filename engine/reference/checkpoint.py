"""Read an HF checkpoint directory into a PLTConfig and a dict of canonical HF-named tensors.

Reads `config.json` (parsed by `engine.arch.config_from_hf`) and the safetensors shards named by
`model.safetensors.index.json`, or a single `model.safetensors`. Vendor alias names
(`arch.HF_ALIASES`) are renamed to the canonical ones. `check_tensors` says which tensors a
config needs and verifies names and shapes. Tensors keep their stored dtype (BF16 stays BF16):
converting is the model's business. Knows nothing about the forward pass.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from engine.arch import HF_ALIASES, HF_TO_GGUF, ArchError, PLTConfig, config_from_hf
from engine.errors import EngineError

INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"
# Buffers some exporters write that carry no weights.
IGNORED_SUFFIXES = ("rotary_emb.inv_freq",)


def expected_shapes(cfg: PLTConfig) -> dict[str, tuple[int, ...]]:
    """Canonical HF tensor name -> shape [out, in] for every tensor the model needs."""
    gguf_shapes = cfg.tensor_shapes()
    out: dict[str, tuple[int, ...]] = {}
    for hf_template, gguf_template in HF_TO_GGUF.items():
        layers = range(cfg.num_layers) if "{i}" in hf_template else [None]
        for i in layers:
            gguf_name = gguf_template.format(i=i)
            if gguf_name in gguf_shapes:
                out[hf_template.format(i=i)] = gguf_shapes[gguf_name]
    return out


def check_tensors(cfg: PLTConfig, tensors: dict[str, torch.Tensor], source: str = "tensors") -> None:
    """Raise EngineError naming the first missing, misshapen or unexpected tensor."""
    expected = expected_shapes(cfg)
    for name, shape in expected.items():
        if name not in tensors:
            raise EngineError(f"{source}: missing tensor {name!r} (expected shape {list(shape)})")
        if tuple(tensors[name].shape) != shape:
            raise EngineError(
                f"{source}: tensor {name!r} has shape {list(tensors[name].shape)}, expected {list(shape)}"
            )
    tolerated = {"lm_head.weight"} if cfg.tied_embeddings else set()
    for name in tensors:
        if name not in expected and name not in tolerated and not name.endswith(IGNORED_SUFFIXES):
            raise EngineError(f"{source}: unexpected tensor {name!r} for this config")


def canonical_name(name: str) -> str:
    """Map a vendor alias (arch.HF_ALIASES) to the canonical HF name; others pass through."""
    for alias, canonical in HF_ALIASES.items():
        pattern = re.escape(alias).replace(re.escape("{i}"), r"(\d+)")
        match = re.fullmatch(pattern, name)
        if match:
            return canonical.format(i=match.group(1))
    return name


def read_config(path: Path) -> PLTConfig:
    config_file = path / "config.json"
    try:
        raw = json.loads(config_file.read_text())
    except FileNotFoundError:
        raise EngineError(f"{config_file}: not found") from None
    except json.JSONDecodeError as exc:
        raise EngineError(f"{config_file}: not valid JSON ({exc})") from None
    try:
        return config_from_hf(raw)
    except (ArchError, ValueError) as exc:
        raise EngineError(f"{config_file}: {exc}") from None


def shard_files(path: Path) -> list[Path]:
    """The shard files of a checkpoint: those named by the index, else the single file."""
    index = path / INDEX_FILE
    if index.exists():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise EngineError(f"{index}: no readable 'weight_map' ({exc})") from None
        return [path / name for name in sorted(set(weight_map.values()))]
    if (path / SINGLE_FILE).exists():
        return [path / SINGLE_FILE]
    raise EngineError(f"{path}: neither {INDEX_FILE} nor {SINGLE_FILE} found")


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Every tensor of every shard, under its canonical HF name, in its stored dtype."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    tensors: dict[str, torch.Tensor] = {}
    for shard in shard_files(path):
        if not shard.exists():
            raise EngineError(f"{shard}: shard named in {INDEX_FILE} is missing")
        try:
            loaded = load_file(shard)
        except (SafetensorError, OSError, RuntimeError) as exc:
            raise EngineError(f"{shard}: unreadable safetensors file ({exc})") from None
        for name, tensor in loaded.items():
            tensors[canonical_name(name)] = tensor
    return tensors


def load_checkpoint(path: str | Path) -> tuple[PLTConfig, dict[str, torch.Tensor]]:
    """Config and checked, canonically named tensors of the HF checkpoint directory `path`."""
    path = Path(path)
    cfg = read_config(path)
    tensors = read_tensors(path)
    check_tensors(cfg, tensors, source=str(path))
    return cfg, tensors
