"""Output types: which GGML type each tensor gets, and turning float32 rows into its bytes.

`OUTTYPES` maps the CLI's `--outtype` names to GGML types. `choose_type` keeps the
`engine.arch.F32_ONLY` tensors (norms, gate weight/bias/norm) and every 1-D tensor in F32,
gives matrices the requested type, and falls back when a row length is not a multiple of
the type's block size (K-quants -> q8_0, else f16), with a note saying so. `encode` is
row-wise, so a tensor can be converted in row chunks: F16/BF16/Q8_0/Q4_0 in numpy
(gguf.quants), Q4_K/Q6_K through ggml's own quantizer (converters.ggml_quant).
"""

from __future__ import annotations

import re

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, LlamaFileType
from gguf import quants as gguf_quants

from converters import ggml_quant
from converters.errors import ConvertError
from converters.safetensors_io import f32_to_bf16
from engine.arch import F32_ONLY

T = GGMLQuantizationType

OUTTYPES: dict[str, GGMLQuantizationType] = {
    "f32": T.F32,
    "f16": T.F16,
    "bf16": T.BF16,
    "q8_0": T.Q8_0,
    "q4_0": T.Q4_0,
    "q4_k": T.Q4_K,
    "q6_k": T.Q6_K,
}
FILE_TYPES: dict[str, LlamaFileType] = {
    "f32": LlamaFileType.ALL_F32,
    "f16": LlamaFileType.MOSTLY_F16,
    "bf16": LlamaFileType.MOSTLY_BF16,
    "q8_0": LlamaFileType.MOSTLY_Q8_0,
    "q4_0": LlamaFileType.MOSTLY_Q4_0,
    "q4_k": LlamaFileType.MOSTLY_Q4_K_S,
    "q6_k": LlamaFileType.MOSTLY_Q6_K,
}
_GGML_ONLY = (T.Q4_K, T.Q6_K)
_FALLBACK = {T.Q4_K: T.Q8_0, T.Q6_K: T.Q8_0, T.Q8_0: T.F16, T.Q4_0: T.F16}
_F32_TEMPLATES = {name.replace("blk.{i}.", "") for name in F32_ONLY}


def type_name(qtype: GGMLQuantizationType) -> str:
    return qtype.name.lower()


def block_size(qtype: GGMLQuantizationType) -> int:
    return GGML_QUANT_SIZES[qtype][0]


def is_f32_only(gguf_name: str) -> bool:
    return re.sub(r"^blk\.\d+\.", "", gguf_name) in _F32_TEMPLATES


def choose_type(
    gguf_name: str, shape: tuple[int, ...], requested: GGMLQuantizationType
) -> tuple[GGMLQuantizationType, str | None]:
    """The type a tensor is stored as, and a note when it is not the requested one for a matrix."""
    if len(shape) < 2 or is_f32_only(gguf_name):
        return T.F32, None
    qtype, row = requested, shape[-1]
    while row % block_size(qtype):
        qtype = _FALLBACK[qtype]
    if qtype is requested:
        return qtype, None
    note = (
        f"row length {row} is not a multiple of {block_size(requested)}: "
        f"stored as {type_name(qtype)} instead of {type_name(requested)}"
    )
    return qtype, note


def nbytes(shape: tuple[int, ...], qtype: GGMLQuantizationType) -> int:
    block, size = GGML_QUANT_SIZES[qtype]
    n = int(np.prod(shape, dtype=np.int64))
    return n // block * size


def encode(rows: np.ndarray, qtype: GGMLQuantizationType, name: str = "") -> np.ndarray:
    """float32 values (any shape, last axis = rows) -> the array whose bytes GGUF stores."""
    if qtype is T.F32:
        return np.ascontiguousarray(rows, dtype=np.float32)
    if qtype is T.F16:
        with np.errstate(over="ignore"):
            out = rows.astype(np.float16)
        if not np.isfinite(out).all() and np.isfinite(rows).all():
            raise ConvertError(
                f"tensor {name} has values beyond the F16 range (|x| > 65504); use bf16 or f32"
            )
        return out
    if qtype is T.BF16:
        return f32_to_bf16(rows)
    flat = np.ascontiguousarray(rows, dtype=np.float32).reshape(-1, rows.shape[-1])
    if qtype in _GGML_ONLY:
        return ggml_quant.quantize(flat, qtype)
    return gguf_quants.quantize(flat, qtype)
