"""`convert --check`: re-read a written GGUF and compare every tensor with its source.

Each tensor is dequantized with `gguf.quants.dequantize` (row chunk by row chunk) and
compared with the safetensors values. Every type gets an error bound derived from its
format, per element or per block of the source values:

* F32: exact (a BF16/F16/F32 source widens to F32 without loss);
* F16 / BF16: half a unit in the last place, |x|·2^-11 / |x|·2^-8 (plus half the smallest
  F16 subnormal);
* Q8_0 (blocks of 32, d = amax/127 stored as F16): d/2 + 127·(rounding error of d);
* Q4_0 (blocks of 32, d = amax/8): one step d (the clip at +8) + 8·(rounding error of d);
* Q4_K (super-blocks of 256, 4-bit codes in sub-blocks of 32 with 6-bit scales and mins):
  one full grid step 2·amax/15 plus the scale and min rounding, amax/63 + amax/126;
* Q6_K (super-blocks of 256, 6-bit codes in sub-blocks of 16 with 8-bit scales): one step
  amax/32 plus the scale rounding amax/127.

A tensor passes when every element is within its bound. This module only reads files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader
from gguf import quants as gguf_quants

from converters.errors import ConvertError
from converters.safetensors_io import Checkpoint
from converters.source import load_source, map_tensors

T = GGMLQuantizationType
_F16_HALF_SUBNORMAL = 2.0**-25


@dataclass(frozen=True)
class CheckRow:
    """How one tensor of the GGUF compares with its source."""

    name: str
    qtype: str
    max_abs_err: float
    max_rel_err: float  # max abs error / max |source|
    bound_ratio: float  # max over elements of error / allowed error (0 when exact)
    ok: bool
    problem: str = ""


def _f16_err(v: np.ndarray) -> np.ndarray:
    """Largest error of rounding non-negative `v` to F16."""
    return np.maximum(v * 2.0**-11, _F16_HALF_SUBNORMAL)


def _block_amax(x: np.ndarray, block: int) -> np.ndarray:
    """Per-element max |x| of the block the element belongs to (blocks run along rows)."""
    blocks = np.abs(x).reshape(-1, block)
    return np.repeat(blocks.max(axis=1), block).reshape(x.shape)


def error_bound(src: np.ndarray, qtype: GGMLQuantizationType) -> np.ndarray:
    """Allowed absolute error per element when `src` (float32, rows last) is stored as `qtype`."""
    slack = 1 + 1e-5  # float32 arithmetic inside the quantizers
    if qtype is T.F32:
        return np.zeros_like(src)
    if qtype is T.F16:
        return _f16_err(np.abs(src)) * slack
    if qtype is T.BF16:
        return (np.abs(src) * 2.0**-8 + 1e-38) * slack
    if qtype is T.Q8_0:
        d = _block_amax(src, 32) / 127
        return (d / 2 + 127 * _f16_err(d)) * slack
    if qtype is T.Q4_0:
        d = _block_amax(src, 32) / 8
        return (d + 8 * _f16_err(d)) * slack
    if qtype is T.Q4_K:
        amax = _block_amax(src, 256)
        return (amax * (2 / 15 + 1 / 63 + 1 / 126) + 16 * 63 * _f16_err(amax / 945)) * slack
    if qtype is T.Q6_K:
        amax = _block_amax(src, 256)
        return (amax * (1 / 32 + 1 / 127) + 32 * 127 * _f16_err(amax / 4064)) * slack
    raise ConvertError(f"no error bound known for {qtype.name}")


def check_gguf(src_dir: Path, gguf_path: Path) -> list[CheckRow]:
    """Compare every tensor the source's config expects with the GGUF's; one row each."""
    source = load_source(Path(src_dir))
    try:
        reader = GGUFReader(gguf_path)
        in_file = {t.name: t for t in reader.tensors}
        field = reader.fields.get("general.architecture")
        arch = field.contents() if field is not None else None
    except Exception as exc:  # noqa: BLE001 - gguf's reader raises KeyError, IndexError, ... on damage
        raise ConvertError(f"{gguf_path}: cannot read as GGUF ({type(exc).__name__}: {exc})") from None
    if arch != source.config.arch:
        raise ConvertError(
            f"{gguf_path}: architecture {arch!r}, but {src_dir} is a {source.config.arch!r} model "
            "(the file is not this checkpoint's conversion)"
        )
    with Checkpoint(source.directory) as ckpt, open(gguf_path, "rb") as fh:
        sources, _ = map_tensors(ckpt, source.config, source.hf_config)
        rows = [_check_one(ckpt, fh.fileno(), s.hf_name, s.shape, in_file.get(s.gguf_name)) for s in sources]
        rows = [replace(r, name=s.gguf_name) for r, s in zip(rows, sources, strict=True)]
    extra = sorted(set(in_file) - {s.gguf_name for s in sources})
    rows += [
        CheckRow(n, in_file[n].tensor_type.name, 0.0, 0.0, 0.0, False, "not in the source") for n in extra
    ]
    return rows


@dataclass
class _Errors:
    """Running maxima over the chunks of one tensor."""

    max_err: float = 0.0
    max_src: float = 0.0
    ratio: float = 0.0

    def add(self, src: np.ndarray, got: np.ndarray, qtype: GGMLQuantizationType) -> None:
        err = np.abs(got.astype(np.float64) - src.astype(np.float64))
        bound = error_bound(src, qtype)
        self.max_err = max(self.max_err, float(err.max(initial=0.0)))
        self.max_src = max(self.max_src, float(np.abs(src).max(initial=0.0)))
        exact = bound == 0
        if (err[exact] > 0).any():
            self.ratio = float("inf")
        if not exact.all():
            self.ratio = max(self.ratio, float((err[~exact] / bound[~exact]).max()))


def _check_one(ckpt: Checkpoint, fd: int, hf_name: str, shape: tuple[int, ...], tensor) -> CheckRow:
    if tensor is None:
        return CheckRow("", "-", 0.0, 0.0, 0.0, False, "missing from the GGUF")
    qtype = tensor.tensor_type
    if tuple(int(d) for d in reversed(tensor.shape)) != shape:
        return CheckRow("", qtype.name, 0.0, 0.0, 0.0, False, f"shape {list(tensor.shape)} (GGUF order)")
    errors, begin = _Errors(), 0
    for src in ckpt.iter_rows(hf_name):
        got = _read_rows(fd, tensor, shape[0], begin, begin + len(src))
        errors.add(src, got.reshape(src.shape), qtype)
        begin += len(src)
    rel = errors.max_err / errors.max_src if errors.max_src else errors.max_err
    return CheckRow("", qtype.name, errors.max_err, rel, errors.ratio, errors.ratio <= 1.0)


def _read_rows(fd: int, tensor, n_rows: int, begin: int, end: int) -> np.ndarray:
    """Rows [begin, end) of a GGUF tensor, dequantized. Read with pread, not the reader's
    memory map, so checked pages do not pile up in our resident set."""
    row_bytes = int(tensor.n_bytes) // n_rows
    raw = os.pread(fd, (end - begin) * row_bytes, int(tensor.data_offset) + begin * row_bytes)
    data = np.frombuffer(raw, dtype=np.uint8).reshape(end - begin, row_bytes)
    return gguf_quants.dequantize(data, tensor.tensor_type)
