"""Open and validate a GGUF model file: its config, tensor table and tokenizer data.

Everything the engine later hands to ggml is checked here first, as strictly as llama.cpp's
own reader: the header (no duplicate keys or tensor names, no nested arrays, every count and
length checked against the file before anything is read or allocated), `general.alignment`
(a uint32 power of two), every hyperparameter (type and range, see `engine.arch`), and each
tensor's presence, shape, type and bytes: back to back in info order, padded to the
alignment, the file ending within one alignment unit of the last tensor. F32 vectors must be
finite. A file that passes can be mapped into ggml without further checks; one that fails
raises EngineError naming the file and the key or tensor at fault (names escaped, see
`engine.errors`). `check_header` runs the checks that do not need the engine, for files
llama.cpp loads itself.

Reads `pltcoder` (LoopCoder-V2) and `iquestloopcoder` (IQuest-Coder-V1-Loop) files, our
converter's, and `llama` files (llama.cpp's converter's). A file holding another family's
metadata keys or gate tensors (a relabelled file, or the llama.cpp fork's V1-Loop GGUF) is
refused.
Knows nothing about graphs or caches.
"""

from __future__ import annotations

import math
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
    ARCH_V1,
    LAYER_TENSORS,
    LLAMA_REQUIRED,
    METADATA,
    SUPPORTED_ARCHS,
    V1_METADATA,
    Keys,
    PLTConfig,
    Tensors,
    check_config,
)
from engine.errors import EngineError, brief, shown
from engine.limits import FLOAT_LIMITS, field_problem


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
    data, metadata, infos, header_end = _read(path)
    arch = metadata.get(Keys.GENERAL_ARCH)
    if arch not in SUPPORTED_ARCHS:
        raise EngineError(
            f"{path}: architecture {shown(arch)} is not supported (supported: {', '.join(SUPPORTED_ARCHS)})"
        )
    tensors = _tensor_table(path, infos, _alignment(path, metadata), header_end, len(data))
    _check_family(path, arch, metadata, tensors)
    config = _config(path, arch, metadata, {name: t.shape for name, t in tensors.items()})
    _validate_tensors(path, config, tensors)
    _check_vectors(path, data, tensors)
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
_STRING, _ARRAY, _UINT32 = 8, 9, 4
_MAX_ARRAY_KEEP = 4096  # longer arrays (token lists, merges) are skipped, not decoded
_MAX_RECORDS = 100_000  # keys or tensors in one file
_MAX_DIM = 2**62  # one tensor dimension; products are checked against the file size too
DEFAULT_ALIGNMENT = 32


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

    def raw_string(self) -> bytes:
        n = self.take("<Q")
        self._need(n)
        raw = bytes(self.mv[self.pos : self.pos + n])
        self.pos += n
        return raw

    def string(self) -> str:
        return self.raw_string().decode("utf-8", errors="replace")

    def value(self, vtype: int) -> Any:
        if vtype in _SCALARS:
            return self.take(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype != _ARRAY:
            raise EngineError(f"{self.path}: unknown GGUF value type {vtype} at byte {self.pos}")
        etype, count = self.take("<I"), self.take("<Q")
        if etype not in _SCALARS and etype != _STRING:
            raise EngineError(
                f"{self.path}: GGUF array of type {etype} at byte {self.pos} (nested or unknown)"
            )
        least = struct.calcsize(_SCALARS[etype]) if etype in _SCALARS else 8  # a string is 8 bytes or more
        if count * least > self.size - self.pos:
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


_Info = tuple[str, tuple[int, ...], int, int]  # name, ne (GGUF order), ggml type, relative offset


def _read(path: Path) -> tuple[np.memmap, dict[str, Any], list[_Info], int]:
    """Parse the header, metadata and tensor infos; returns (data, metadata, infos, header_end).

    Metadata values are Python values (int, float, bool, str, list); `general.alignment`
    is kept as (GGUF type, value) so its type can be checked.
    """
    try:
        data = np.memmap(path, mode="r")
    except (ValueError, OSError) as exc:
        raise EngineError(f"{path}: cannot map the file ({exc})") from None
    if bytes(data[:4]) != b"GGUF":
        raise EngineError(f"{path}: not a GGUF file (bad magic)")
    if len(data) < 24:
        raise EngineError(f"{path}: GGUF header is truncated at byte {len(data)}")
    cur = _Cursor(path, data)
    cur.pos = 4
    version, n_tensors, n_kv = cur.take("<I"), cur.take("<Q"), cur.take("<Q")
    if version not in (2, 3):
        raise EngineError(f"{path}: GGUF version {version} is not supported")
    if n_tensors > _MAX_RECORDS or n_kv > _MAX_RECORDS:
        raise EngineError(f"{path}: GGUF header is corrupt ({n_tensors} tensors, {n_kv} keys)")
    metadata: dict[str, Any] = {}
    for _ in range(n_kv):
        key = cur.string()
        if key in metadata:
            raise EngineError(f"{path}: metadata key {brief(key)} appears twice")
        vtype = cur.take("<I")
        value = cur.value(vtype)
        metadata[key] = (vtype, value) if key == ALIGNMENT_KEY else value
    infos: list[_Info] = []
    names: set[str] = set()
    for _ in range(n_tensors):
        raw = cur.raw_string()
        name = raw.decode("utf-8", errors="replace")
        if len(raw) >= ggml.MAX_NAME:
            raise EngineError(f"{path}: tensor name {brief(name)} is {len(raw)} bytes long (at most 63)")
        if name in names:
            raise EngineError(f"{path}: tensor {brief(name)} appears twice")
        names.add(name)
        n_dims = cur.take("<I")
        if not 1 <= n_dims <= 4:
            raise EngineError(f"{path}: tensor {brief(name)} has {n_dims} dimensions")
        ne = tuple(cur.take("<Q") for _ in range(n_dims))
        infos.append((name, ne, cur.take("<I"), cur.take("<Q")))
    return data, metadata, infos, cur.pos


ALIGNMENT_KEY = "general.alignment"


def _alignment(path: Path, metadata: dict[str, Any]) -> int:
    """`general.alignment`: a UINT32 power of two (32 when absent), as llama.cpp requires."""
    if ALIGNMENT_KEY not in metadata:
        return DEFAULT_ALIGNMENT
    vtype, value = metadata.pop(ALIGNMENT_KEY)
    if vtype != _UINT32 or value < 1 or value & (value - 1):
        raise EngineError(
            f"{path}: {ALIGNMENT_KEY} must be a power of two stored as uint32, got {shown(value)}"
        )
    metadata[ALIGNMENT_KEY] = value
    return value


def _pad(n: int, align: int) -> int:
    return (n + align - 1) // align * align


def _tensor_table(
    path: Path, infos: list[_Info], align: int, header_end: int, size: int
) -> dict[str, TensorInfo]:
    """Each tensor's type, shape and byte range, checked as llama.cpp does: the data section
    starts at the first aligned byte after the header and holds the tensors back to back, in
    the order of the tensor infos, each padded to the alignment; nothing overlaps, nothing is
    left out and the file ends within one alignment unit after the last tensor."""
    g = ggml.lib()
    data_start = _pad(header_end, align)
    table: dict[str, TensorInfo] = {}
    expected = 0
    for name, ne, gtype, rel in infos:
        if gtype not in ggml.WEIGHT_TYPES:
            raise EngineError(f"{path}: tensor {brief(name)} has unsupported ggml type {gtype}")
        block = int(g.ggml_blck_size(gtype))
        if any(not 0 < n < _MAX_DIM for n in ne) or ne[0] % block:
            raise EngineError(f"{path}: tensor {brief(name)} has an invalid shape {shown(list(ne))}")
        nbytes = math.prod(ne[1:]) * (ne[0] // block) * int(g.ggml_type_size(gtype))
        if rel != expected:
            where = "overlaps the tensor before it" if rel < expected else "leaves a gap or is misaligned"
            raise EngineError(
                f"{path}: tensor {brief(name)} starts at data offset {rel} but {expected} was expected: "
                f"its data {where} (damaged file?)"
            )
        offset = data_start + rel
        if offset + nbytes > size:
            raise EngineError(
                f"{path}: tensor {brief(name)} extends past the end of the file (truncated download?)"
            )
        table[name] = TensorInfo(name, gtype, tuple(reversed(ne)), offset, nbytes)
        expected = rel + _pad(nbytes, align)
    if table:
        last = max(table.values(), key=lambda t: t.offset)
        if size - (last.offset + last.nbytes) >= align:
            raise EngineError(
                f"{path}: {size - last.offset - last.nbytes} bytes follow the last tensor: the file is not "
                "what its header describes (damaged, or a wrong general.alignment)"
            )
    return table


def _typed(path: Path, key: str, value: Any, name: str) -> Any:
    """`value` of metadata `key` as PLTConfig field `name`, range-checked; EngineError if not."""
    problem = field_problem(name, value)
    if problem:
        raise EngineError(f"{path}: metadata key {brief(key)} {problem}")
    return value


def _get(path: Path, md: dict[str, Any], key: str, name: str, default: Any = ...) -> Any:
    """Metadata `key` (or `default` when absent) as config field `name`, type- and range-checked."""
    if key not in md and default is ...:
        raise EngineError(f"{path}: missing metadata key {key}")
    value = md.get(key, default)
    if name in FLOAT_LIMITS:
        _typed(path, key, value, name)
        return float(value)
    if name == "eos_token_ids" and isinstance(value, list):
        value = tuple(value)
    return _typed(path, key, value, name)


def _token_id(path: Path, md: dict[str, Any], key: str) -> int | None:
    return _get(path, md, key, "bos_token_id", None)


def check_header(path: str | os.PathLike[str]) -> None:
    """The checks that do not need the engine to run the file, for files llama.cpp loads itself:
    the header as strictly as `open_model` and, for `llama` files, every hyperparameter (llama.cpp
    aborts on some, e.g. block_count 0). Tensor types and layout are left to llama.cpp, which
    knows more types than the engine and checks the layout itself."""
    path = Path(path)
    if not path.is_file():
        raise EngineError(f"{path}: no such model file")
    _, metadata, infos, _ = _read(path)
    _alignment(path, metadata)
    if metadata.get(Keys.GENERAL_ARCH) == ARCH_LLAMA:
        _check_family(path, ARCH_LLAMA, metadata, {name: None for name, _, _, _ in infos})
        _config(path, ARCH_LLAMA, metadata, {name: tuple(reversed(ne)) for name, ne, _, _ in infos})


def _config(path: Path, arch: str, md: dict[str, Any], shapes: dict[str, tuple[int, ...]]) -> PLTConfig:
    """The config from the metadata; `shapes` are the tensors' shapes by name (numpy order)."""
    if arch == ARCH:
        values = {
            name: _get(path, md, Keys.of(key, ARCH), name, *(((),) if name == "eos_token_ids" else ()))
            for name, key in METADATA.items()
        }
        rope_neox = True
    elif arch == ARCH_V1:
        values = _v1_values(path, md)
        rope_neox = True
    else:
        values = _llama_values(path, md, shapes)
        rope_neox = False
    for key in (Keys.TOKENIZER_HF_JSON, Keys.CHAT_TEMPLATE):
        if key in md and not isinstance(md[key], str):
            raise EngineError(f"{path}: metadata key {key} must be a string, got {shown(md[key])}")
    if Keys.ADD_BOS in md and not isinstance(md[Keys.ADD_BOS], bool):
        raise EngineError(
            f"{path}: metadata key {Keys.ADD_BOS} must be true or false, got {shown(md[Keys.ADD_BOS])}"
        )
    eos = tuple(values.pop("eos_token_ids", ()) or ())
    eos_id = _token_id(path, md, Keys.EOS_ID)
    if not eos and eos_id is not None:
        eos = (eos_id,)
    per_layer = len(LAYER_TENSORS)
    if values["num_layers"] * per_layer > len(shapes):
        raise EngineError(
            f"{path}: the file claims {values['num_layers']} layers but holds only {len(shapes)} tensors "
            f"({per_layer} per layer are needed)"
        )
    try:
        return check_config(
            PLTConfig(
                **values,
                rope_neox=rope_neox,
                tied_embeddings=Tensors.OUTPUT not in shapes,
                bos_token_id=_token_id(path, md, Keys.BOS_ID),
                eos_token_ids=eos,
                arch=arch,
            )
        )
    except (TypeError, ValueError) as exc:
        raise EngineError(f"{path}: inconsistent hyperparameters: {exc}") from None


def _v1_values(path: Path, md: dict[str, Any]) -> dict[str, Any]:
    """An `iquestloopcoder` file's config fields; its window key counts the current key too."""
    values = {
        name: _get(path, md, Keys.of(key, ARCH_V1), name, *(((),) if name == "eos_token_ids" else ()))
        for name, key in V1_METADATA.items()
    }
    keys = _get(path, md, Keys.V1_WINDOW_SIZE, "window")
    if keys < 1:
        raise EngineError(f"{path}: metadata key {Keys.V1_WINDOW_SIZE} must be at least 1, got {keys}")
    if values["loops"] < 2:
        raise EngineError(
            f"{path}: metadata key {Keys.V1_LOOP_COUNT} must be at least 2, got {values['loops']}"
        )
    return dict(
        values, window=keys - 1, normalize_per_loop=False, gate_mode="query", gate_norm_eps=values["rms_eps"]
    )


# Marks of each family in a GGUF file: metadata key prefixes and gate tensor name parts.
_FAMILY_MARKS = {
    ARCH: (("pltcoder.",), (".plt_gate.", ".plt_gate_norm.")),
    ARCH_V1: (("iquestloopcoder.",), (".loop_gate.",)),
    "fork": (("llama.loop.",), (".loop_gate.",)),
}


def _check_family(path: Path, arch: str, md: dict[str, Any], tensors: dict[str, Any]) -> None:
    """Refuse a file that carries another model family's keys or gate tensors: a LoopCoder-V2 file
    relabelled IQuest-Coder-V1-Loop (or the reverse), or the llama.cpp fork's V1-Loop GGUF, whose
    Q/K and gate layout cannot be confirmed offline and which would otherwise run as plain llama."""
    own = {ARCH: (ARCH,), ARCH_V1: (ARCH_V1,)}.get(arch, ())
    if arch == ARCH_LLAMA:
        prefixes, parts = _FAMILY_MARKS["fork"]
        fork_keys = [k for k in md if k.startswith(prefixes)]
        fork_gates = [n for n in tensors if any(p in n for p in parts)]
        if fork_keys or fork_gates:
            missing = [k for k in (Keys.FORK_LOOP_NUM, Keys.FORK_LOOP_WINDOW) if k not in md]
            raise EngineError(
                f"{path}: an IQuest-Coder-V1-Loop GGUF of the llama.cpp fork "
                f"({', '.join((fork_keys + fork_gates)[:2])}"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + "): its permuted Q/K and blk.N.loop_gate layout cannot be confirmed offline, so it is "
                "refused; convert the HF checkpoint (IQuestLoopCoderForCausalLM) with `plt-agent convert`"
            )
    for family, (prefixes, parts) in _FAMILY_MARKS.items():
        if family in own or family == "fork":
            continue
        key = next((k for k in md if k.startswith(prefixes)), None)
        name = next((n for n in tensors if any(p in n for p in parts)), None)
        if key or name:
            raise EngineError(
                f"{path}: a {arch} file holding {key or name}, which belongs to {family} files; "
                "relabelled model file?"
            )


def _llama_values(path: Path, md: dict[str, Any], shapes: dict[str, tuple[int, ...]]) -> dict[str, Any]:
    a = ARCH_LLAMA
    values = {name: _get(path, md, Keys.of(METADATA[name], a), name) for name in LLAMA_REQUIRED}
    heads = values["num_heads"]
    values["num_kv_heads"] = _get(path, md, Keys.of(Keys.HEAD_COUNT_KV, a), "num_kv_heads", heads)
    head_key = Keys.of(Keys.KEY_LENGTH, a)
    if head_key not in md and values["hidden_size"] % heads:
        raise EngineError(
            f"{path}: embedding_length {values['hidden_size']} is not a multiple of head_count {heads} "
            f"(and there is no {head_key})"
        )
    values["head_dim"] = _get(path, md, head_key, "head_dim", values["hidden_size"] // heads)
    values["rms_eps"] = _get(path, md, Keys.of(Keys.RMS_EPS, a), "rms_eps")
    values["rope_theta"] = _get(path, md, Keys.of(Keys.ROPE_FREQ_BASE, a), "rope_theta", 10000.0)
    embd = shapes.get(Tensors.TOKEN_EMBD)
    if embd is None:
        raise EngineError(f"{path}: missing tensor {Tensors.TOKEN_EMBD}")
    values["vocab_size"] = _get(path, md, Keys.of(Keys.VOCAB_SIZE, a), "vocab_size", embd[0])
    scaling = md.get(f"{a}.rope.scaling.type")
    factor = md.get(f"{a}.rope.scaling.factor", 1.0)
    if scaling not in (None, "none", "linear") or factor not in (None, 0, 0.0, 1, 1.0):
        raise EngineError(f"{path}: RoPE scaling {shown(scaling)} (factor {shown(factor)}) is not supported")
    rot = md.get(f"{a}.rope.dimension_count")
    if rot is not None and rot != values["head_dim"]:
        raise EngineError(f"{path}: partial RoPE (dimension_count {shown(rot)} != head_dim) is not supported")
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


def _check_vectors(path: Path, data: np.memmap, tensors: dict[str, TensorInfo]) -> None:
    """The F32 vectors (norm weights, gate biases) hold finite numbers: NaN there poisons every
    output. They are small, so this costs nothing; matrices are checked by their results."""
    for info in tensors.values():
        if len(info.shape) == 1 and info.ggml_type == ggml.TYPE_F32:
            values = np.frombuffer(data, dtype="<f4", count=info.shape[0], offset=info.offset)
            if not np.isfinite(values).all():
                raise EngineError(f"{path}: tensor {info.name} holds NaN or infinite values (damaged file?)")


def with_context(model: ModelFile, n_ctx: int | None) -> PLTConfig:
    """The model's config with a context size override (never above what it was trained for)."""
    if n_ctx is None:
        return model.config
    if n_ctx < 1:
        raise EngineError(f"context size must be positive, got {n_ctx}")
    return replace(model.config, context_length=min(int(n_ctx), model.config.context_length))
