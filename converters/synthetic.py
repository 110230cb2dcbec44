"""Random-weight PLT GGUF files for benchmarks, written straight to GGUF (no HF checkpoint).

A benchmark of decode speed needs a model large enough to be bound by memory bandwidth, as
the real 7B is: `write_synthetic(path, target_bytes)` picks a LoopCoder-like shape (head_dim
128, GQA 5:1, SwiGLU ~2.7x, 2 loops, window 64) with enough layers to reach the target size
in the chosen block type (Q8_0 by default; Q4_0, Q4_K, Q6_K), and fills the matrices with
random blocks whose scales are small and finite, so no quantization work is needed and 1.5 GB
is written in seconds. The numbers are noise; the
shapes, types and byte counts are the real thing. Carries a small real tokenizer so the file
loads everywhere a converted model does.

Named presets (`PRESETS`, e.g. "loopcoder-v2") have exactly a real model's shape instead of a
target size: `preset_config(name, qtype)`. Files are written tensor by tensor, so memory
stays at about the largest tensor whatever the model's size.

`FAMILIES["v1-40b-loop"]` (`bench engine --synthetic SIZE --preset v1-40b-loop`) is
IQuest-Coder-V1-40B-Loop's real width (hidden 5120, 40/8 heads, head_dim 128, SwiGLU 27648,
vocab 76800, window 64 keys, gate biases +2.0, an `iquestloopcoder` file); its 80 layers
(~41 GB in Q8_0) are reduced to what the target size holds, and `synthetic_config` says how
many in `num_layers`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFValueType, GGUFWriter

from converters import tiny_tokenizer
from converters.errors import ConvertError
from engine.arch import ARCH, ARCH_V1, F32_ONLY, Keys, PLTConfig, config_to_metadata


@dataclass(frozen=True)
class BlockFormat:
    """A ggml block type: values and bytes per block, and where its f16 scales sit."""

    qtype: GGMLQuantizationType
    values: int
    nbytes: int
    scales: tuple[int, ...]  # byte offsets of f16 scale fields inside a block
    file_type: int  # general.file_type (llama.cpp's LLAMA_FTYPE_MOSTLY_*)


FORMATS = {
    "q8_0": BlockFormat(GGMLQuantizationType.Q8_0, 32, 34, (0,), 7),
    "q4_0": BlockFormat(GGMLQuantizationType.Q4_0, 32, 18, (0,), 2),
    "q4_k": BlockFormat(GGMLQuantizationType.Q4_K, 256, 144, (0, 2), 15),
    "q6_k": BlockFormat(GGMLQuantizationType.Q6_K, 256, 210, (208,), 18),
}


@dataclass(frozen=True)
class Shape:
    hidden: int = 2560
    heads: int = 20
    kv_heads: int = 4
    intermediate: int = 6912
    vocab: int = 32000


@dataclass(frozen=True)
class Preset:
    """A real model's exact shape, for `--synthetic NAME`."""

    shape: Shape
    layers: int
    loops: int = 2
    context_length: int = 4096


# plt-model.md §1: LoopCoder-V2 (hidden 5120, 14 layers, FFN 27648, vocab 76800, 40/8 heads)
PRESETS = {
    "loopcoder-v2": Preset(
        Shape(hidden=5120, heads=40, kv_heads=8, intermediate=27648, vocab=76800),
        layers=14,
        context_length=131072,
    ),
}


@dataclass(frozen=True)
class Family:
    """A model family and width for size-targeted synthetic models (`--preset`)."""

    shape: Shape
    family: str  # "v2" (pltcoder) | "v1" (iquestloopcoder)
    real_layers: int | None = None  # the released model's layer count, when it is a real shape


FAMILIES = {
    "plt": Family(Shape(), "v2"),
    "v1-40b-loop": Family(
        Shape(hidden=5120, heads=40, kv_heads=8, intermediate=27648, vocab=76800), "v1", 80
    ),
}


def parse_size(text: str) -> int:
    """'1.5G', '800M', '2GB' or plain bytes -> bytes."""
    t = text.strip().upper().removesuffix("B")
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(t[-1:], 1)
    try:
        value = float(t[:-1] if scale > 1 else t)
    except ValueError:
        raise ConvertError(f"size must look like 1.5G or 800M, got {text!r}") from None
    if value <= 0:
        raise ConvertError(f"size must be positive, got {text!r}")
    return int(value * scale)


def synthetic_config(
    target_bytes: int, shape: Shape = Shape(), loops: int = 2, qtype: str = "q8_0", family: str = "v2"
) -> PLTConfig:
    fmt = _format(qtype)
    d, f, hd = shape.hidden, shape.intermediate, shape.hidden // shape.heads
    per_layer = (d * d * 2 + 2 * d * shape.kv_heads * hd + 3 * d * f) * fmt.nbytes // fmt.values
    fixed = 2 * shape.vocab * d * fmt.nbytes // fmt.values
    layers = max(1, round((target_bytes - fixed) / per_layer))
    if family == "v1":  # IQuest-Coder-V1-Loop: 64 keys incl. the current one, query gate, no CLP
        return PLTConfig(
            vocab_size=shape.vocab,
            hidden_size=d,
            intermediate_size=f,
            num_layers=layers,
            num_heads=shape.heads,
            num_kv_heads=shape.kv_heads,
            head_dim=hd,
            context_length=4096,
            rms_eps=1e-5,
            rope_theta=500000.0,
            loops=loops,
            window=63,
            normalize_per_loop=False,
            gate_mode="query",
            gate_norm_eps=1e-5,
            eos_token_ids=tuple(tiny_tokenizer.eos_ids(512)),
            arch=ARCH_V1,
        )
    return _config(shape, layers, loops, 4096)


def preset_config(name: str, loops: int | None = None) -> PLTConfig:
    """The config of preset `name` (loops: the preset's own unless given)."""
    if name not in PRESETS:
        raise ConvertError(f"unknown synthetic preset {name!r} (known: {', '.join(PRESETS)})")
    p = PRESETS[name]
    return _config(p.shape, p.layers, loops or p.loops, p.context_length)


def _config(shape: Shape, layers: int, loops: int, context_length: int) -> PLTConfig:
    d, hd = shape.hidden, shape.hidden // shape.heads
    return PLTConfig(
        vocab_size=shape.vocab,
        hidden_size=d,
        intermediate_size=shape.intermediate,
        num_layers=layers,
        num_heads=shape.heads,
        num_kv_heads=shape.kv_heads,
        head_dim=hd,
        context_length=context_length,
        rms_eps=1e-5,
        rope_theta=500000.0,
        loops=loops,
        window=64,
        emb_scale=0.707,
        hidden_scale=0.053,
        normalize_per_loop=True,
        gate_mode="hidden" if loops > 1 else "none",
        gate_norm_eps=1e-5,
        eos_token_ids=tuple(tiny_tokenizer.eos_ids(512)),
    )


def _format(qtype: str) -> BlockFormat:
    if qtype not in FORMATS:
        raise ConvertError(f"synthetic models come in {', '.join(FORMATS)}, not {qtype!r}")
    return FORMATS[qtype]


def _random_rows(rng: np.random.Generator, fmt: BlockFormat, rows: int, cols: int) -> np.ndarray:
    """Random blocks whose f16 scales are small and finite (values of about +-0.02)."""
    blocks = rng.integers(0, 256, size=(rows * cols // fmt.values, fmt.nbytes), dtype=np.uint8)
    scale = np.frombuffer(np.float16(0.02 / 127).tobytes(), dtype=np.uint8)
    for offset in fmt.scales:
        blocks[:, offset : offset + 2] = scale
    return blocks.reshape(rows, cols // fmt.values * fmt.nbytes)


def write_synthetic(path: Path, cfg: PLTConfig, seed: int = 0, qtype: str = "q8_0") -> Path:
    """Write a random-weight `pltcoder` (or `iquestloopcoder`) GGUF of config `cfg` (matrices
    `qtype`, vectors F32)."""
    fmt = _format(qtype)
    arch = cfg.arch if cfg.arch in (ARCH, ARCH_V1) else ARCH
    return write_random_gguf(path, arch, cfg, fmt, seed, lambda w: _metadata(w, cfg, fmt))


def write_random_gguf(
    path: Path,
    arch: str,
    cfg: PLTConfig,
    fmt: BlockFormat,
    seed: int,
    add_metadata: Callable[[GGUFWriter], None],
) -> Path:
    """Every tensor of `cfg` with random values (matrices in `fmt`, vectors F32) after the
    metadata `add_metadata` writes, tensor by tensor into a temp file renamed at the end."""
    rng = np.random.default_rng(seed)
    shapes = cfg.tensor_shapes()
    tmp = path.with_name(f".{path.name}.part")
    writer = GGUFWriter(tmp, arch)
    try:
        add_metadata(writer)
        for name, shape in shapes.items():
            quantized = len(shape) == 2 and _template(name) not in F32_ONLY
            nbytes = shape[0] * shape[1] * fmt.nbytes // fmt.values if quantized else int(np.prod(shape)) * 4
            raw = fmt.qtype if quantized else GGMLQuantizationType.F32
            writer.add_tensor_info(name, shape, np.dtype(np.float32), nbytes, raw_dtype=raw)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for name, shape in shapes.items():
            writer.write_tensor_data(_values(rng, fmt, name, shape))
        writer.close()
        os.replace(tmp, path)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    return path


def _template(name: str) -> str:
    parts = name.split(".")
    return ".".join(["blk", "{i}", *parts[2:]]) if parts[0] == "blk" else name


def _values(rng: np.random.Generator, fmt: BlockFormat, name: str, shape: tuple[int, ...]) -> np.ndarray:
    template = _template(name)
    if len(shape) == 2 and template not in F32_ONLY:
        return _random_rows(rng, fmt, *shape)
    if template.endswith(("plt_gate.bias", "loop_gate.bias")):  # V1's released biases are all +2.0
        return np.full(shape, 2.0, dtype=np.float32)
    if len(shape) == 1:
        return np.ones(shape, dtype=np.float32)
    return rng.normal(0.0, 0.02, size=shape).astype(np.float32)


def _metadata(writer: GGUFWriter, cfg: PLTConfig, fmt: BlockFormat) -> None:
    writer.add_name("synthetic PLT (random weights, for benchmarks)")
    writer.add_file_type(fmt.file_type)
    for key, value in config_to_metadata(cfg).items():
        if key in (Keys.PLT_FORMAT_VERSION,):
            writer.add_uint32(key, int(value))
        elif isinstance(value, bool):
            writer.add_bool(key, value)
        elif isinstance(value, int):
            writer.add_uint32(key, value)
        elif isinstance(value, float):
            writer.add_float32(key, value)
        elif isinstance(value, str):
            writer.add_string(key, value)
        else:
            writer.add_array(key, list(value))  # type: ignore[arg-type]
    writer.add_key_value(Keys.TOKENIZER_HF_JSON, tiny_tokenizer.tokenizer_json(512), GGUFValueType.STRING)
    writer.add_key_value(Keys.CHAT_TEMPLATE, tiny_tokenizer.CHAT_TEMPLATE, GGUFValueType.STRING)
