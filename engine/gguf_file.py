"""Open and validate a GGUF model file: its config, tensor table and tokenizer data.

Everything the engine later hands to ggml is checked here first: the architecture, every
hyperparameter, each tensor's presence, shape, type and byte range inside the file. A file
that passes can be mapped into ggml without further checks; one that fails raises
EngineError naming the file and the key or tensor at fault.

Reads `pltcoder` files (our converter's) and `llama` files (llama.cpp's converter's).
Knows nothing about graphs or caches.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from engine import ggml
from engine.arch import (
    ARCH,
    ARCH_LLAMA,
    LLAMA_REQUIRED,
    METADATA,
    SUPPORTED_ARCHS,
    Keys,
    PLTConfig,
    Tensors,
)
from engine.errors import EngineError


@dataclass(frozen=True)
class TensorInfo:
    name: str
    ggml_type: int
    shape: tuple[int, ...]  # numpy order: [out, in]; GGUF ne is the reverse
    offset: int  # absolute byte offset of the data in the file
    nbytes: int


@dataclass
class ModelFile:
    """A validated GGUF model: config, tensors (by name), raw metadata, and the mapped bytes."""

    path: Path
    config: PLTConfig
    tensors: dict[str, TensorInfo]
    metadata: dict[str, Any]
    data: np.memmap  # the whole file, read-only

    @property
    def data_pointer(self) -> int:
        return int(self.data.ctypes.data)


def open_model(path: str | os.PathLike[str]) -> ModelFile:
    """Open, parse and validate `path`; raise EngineError with one line on any problem."""
    path = Path(path)
    if not path.is_file():
        raise EngineError(f"{path}: no such model file")
    data, metadata, infos, data_start = _read(path)
    arch = metadata.get(Keys.GENERAL_ARCH)
    if arch not in SUPPORTED_ARCHS:
        raise EngineError(
            f"{path}: architecture {arch!r} is not supported (supported: {', '.join(SUPPORTED_ARCHS)})"
        )
    tensors = _tensor_table(path, infos, data_start, len(data))
    config = _config(path, arch, metadata, tensors)
    _validate_tensors(path, config, tensors)
    return ModelFile(path=path, config=config, tensors=tensors, metadata=metadata, data=data)


_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9
_MAX_ARRAY_KEEP = 4096  # longer arrays (token lists, merges) are skipped, not decoded


class _Cursor:
    """Bounds-checked little-endian reads over the mapped file."""

    def __init__(self, path: Path, buf: np.memmap):
        self.path, self.size, self.pos = path, len(buf), 0
        self.mv = memoryview(buf)

    def _need(self, n: int) -> None:
        if self.pos + n > self.size:
            raise EngineError(f"{self.path}: GGUF header is truncated at byte {self.pos}")

    def take(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        self._need(size)
        (value,) = struct.unpack_from(fmt, self.mv, self.pos)
        self.pos += size
        return value

    def string(self) -> str:
        n = self.take("<Q")
        self._need(n)
        raw = bytes(self.mv[self.pos : self.pos + n])
        self.pos += n
        return raw.decode("utf-8", errors="replace")

    def value(self, vtype: int) -> Any:
        if vtype in _SCALARS:
            return self.take(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype != _ARRAY:
            raise EngineError(f"{self.path}: unknown GGUF value type {vtype} at byte {self.pos}")
        etype, count = self.take("<I"), self.take("<Q")
        if count > self.size:
            raise EngineError(f"{self.path}: a GGUF array of {count} items cannot fit in the file")
        if count <= _MAX_ARRAY_KEEP:
            return [self.value(etype) for _ in range(count)]
        self._skip(etype, count)
        return None

    def _skip(self, etype: int, count: int) -> None:
        if etype in _SCALARS:
            n = struct.calcsize(_SCALARS[etype]) * count
            self._need(n)
            self.pos += n
            return
        for _ in range(count):
            self.value(etype)


def _read(path: Path) -> tuple[np.memmap, dict[str, Any], list[tuple[str, tuple[int, ...], int, int]], int]:
    """Parse the header, metadata and tensor infos; returns (data, metadata, infos, data_start)."""
    try:
        data = np.memmap(path, mode="r")
    except (ValueError, OSError) as exc:
        raise EngineError(f"{path}: cannot map the file ({exc})") from None
    if len(data) < 24 or bytes(data[:4]) != b"GGUF":
        raise EngineError(f"{path}: not a GGUF file (bad magic)")
    cur = _Cursor(path, data)
    cur.pos = 4
    version, n_tensors, n_kv = cur.take("<I"), cur.take("<Q"), cur.take("<Q")
    if version not in (2, 3):
        raise EngineError(f"{path}: GGUF version {version} is not supported")
    if n_tensors > 100_000 or n_kv > 100_000:
        raise EngineError(f"{path}: GGUF header is corrupt ({n_tensors} tensors, {n_kv} keys)")
    metadata: dict[str, Any] = {}
    for _ in range(n_kv):
        key = cur.string()
        metadata[key] = cur.value(cur.take("<I"))
    infos = []
    for _ in range(n_tensors):
        name, n_dims = cur.string(), cur.take("<I")
        if not 1 <= n_dims <= 4:
            raise EngineError(f"{path}: tensor {name} has {n_dims} dimensions")
        ne = tuple(cur.take("<Q") for _ in range(n_dims))
        infos.append((name, ne, cur.take("<I"), cur.take("<Q")))
    align = int(metadata.get("general.alignment") or 32)
    return data, metadata, infos, (cur.pos + align - 1) // align * align


def _tensor_table(path: Path, infos: list, data_start: int, size: int) -> dict[str, TensorInfo]:
    g = ggml.lib()
    table: dict[str, TensorInfo] = {}
    for name, ne, gtype, rel in infos:
        if gtype not in ggml.WEIGHT_TYPES:
            raise EngineError(f"{path}: tensor {name} has unsupported ggml type {gtype}")
        if any(n <= 0 for n in ne) or ne[0] % int(g.ggml_blck_size(gtype)):
            raise EngineError(f"{path}: tensor {name} has an invalid shape {list(ne)}")
        rows = int(np.prod(ne[1:])) if len(ne) > 1 else 1
        nbytes = rows * int(g.ggml_row_size(gtype, ne[0]))
        offset = data_start + rel
        if offset + nbytes > size:
            raise EngineError(f"{path}: tensor {name} extends past the end of the file (truncated download?)")
        table[name] = TensorInfo(name, gtype, tuple(reversed(ne)), offset, nbytes)
    return table


def _get(path: Path, metadata: dict[str, Any], key: str, kind: type, default: Any = ...) -> Any:
    value = metadata.get(key, default)
    if value is ...:
        raise EngineError(f"{path}: missing metadata key {key}")
    if value is None or (kind is not str and isinstance(value, str)):
        raise EngineError(f"{path}: metadata key {key} has an unreadable value {value!r}")
    try:
        if kind is tuple:
            return tuple(int(v) for v in (value if isinstance(value, (list, tuple)) else [value]))
        return kind(value)
    except (TypeError, ValueError):
        raise EngineError(f"{path}: metadata key {key} should be {kind.__name__}, got {value!r}") from None


_KINDS = {
    "rms_eps": float,
    "rope_theta": float,
    "emb_scale": float,
    "hidden_scale": float,
    "gate_norm_eps": float,
    "normalize_per_loop": bool,
    "gate_mode": str,
    "eos_token_ids": tuple,
}


def _config(path: Path, arch: str, md: dict[str, Any], tensors: dict[str, TensorInfo]) -> PLTConfig:
    if arch == ARCH:
        values = {
            name: _get(path, md, Keys.of(key, ARCH), _KINDS.get(name, int)) for name, key in METADATA.items()
        }
        rope_neox = True
    else:
        values = _llama_values(path, md, tensors)
        rope_neox = False
    eos = tuple(values.pop("eos_token_ids", ()) or ())
    if not eos and md.get(Keys.EOS_ID) is not None:
        eos = (int(md[Keys.EOS_ID]),)
    bos = md.get(Keys.BOS_ID)
    try:
        cfg = PLTConfig(
            **values,
            rope_neox=rope_neox,
            tied_embeddings=Tensors.OUTPUT not in tensors,
            bos_token_id=None if bos is None else int(bos),
            eos_token_ids=eos,
            arch=arch,
        )
    except (TypeError, ValueError) as exc:
        raise EngineError(f"{path}: inconsistent hyperparameters: {exc}") from None
    return cfg


def _llama_values(path: Path, md: dict[str, Any], tensors: dict[str, TensorInfo]) -> dict[str, Any]:
    a = ARCH_LLAMA
    values = {name: _get(path, md, Keys.of(METADATA[name], a), int) for name in LLAMA_REQUIRED}
    values["num_kv_heads"] = _get(path, md, Keys.of(Keys.HEAD_COUNT_KV, a), int, values["num_heads"])
    values["head_dim"] = _get(
        path, md, Keys.of(Keys.KEY_LENGTH, a), int, values["hidden_size"] // values["num_heads"]
    )
    values["rms_eps"] = _get(path, md, Keys.of(Keys.RMS_EPS, a), float)
    values["rope_theta"] = _get(path, md, Keys.of(Keys.ROPE_FREQ_BASE, a), float, 10000.0)
    embd = tensors.get(Tensors.TOKEN_EMBD)
    if embd is None:
        raise EngineError(f"{path}: missing tensor {Tensors.TOKEN_EMBD}")
    values["vocab_size"] = _get(path, md, Keys.of(Keys.VOCAB_SIZE, a), int, embd.shape[0])
    scaling = md.get(f"{a}.rope.scaling.type")
    if (
        scaling not in (None, "none", "linear")
        or float(md.get(f"{a}.rope.scaling.factor", 1.0) or 1.0) != 1.0
    ):
        raise EngineError(f"{path}: RoPE scaling {scaling!r} is not supported")
    rot = md.get(f"{a}.rope.dimension_count")
    if rot is not None and int(rot) != values["head_dim"]:
        raise EngineError(f"{path}: partial RoPE (dimension_count {rot} != head_dim) is not supported")
    return dict(values, loops=1, gate_mode="none", gate_norm_eps=values["rms_eps"])


def _validate_tensors(path: Path, cfg: PLTConfig, tensors: dict[str, TensorInfo]) -> None:
    for name, shape in cfg.tensor_shapes().items():
        info = tensors.get(name)
        if info is None:
            raise EngineError(f"{path}: missing tensor {name}")
        if info.shape != shape:
            raise EngineError(f"{path}: tensor {name} has shape {list(info.shape)}, expected {list(shape)}")
        if len(shape) == 1 and info.ggml_type != ggml.TYPE_F32:
            raise EngineError(f"{path}: tensor {name} is a vector and must be F32")


def with_context(model: ModelFile, n_ctx: int | None) -> PLTConfig:
    """The model's config with a context size override (never above what it was trained for)."""
    if n_ctx is None:
        return model.config
    if n_ctx < 1:
        raise EngineError(f"context size must be positive, got {n_ctx}")
    return replace(model.config, context_length=min(int(n_ctx), model.config.context_length))
