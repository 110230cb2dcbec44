"""ggml's own quantizer (`ggml_quantize_chunk`) through ctypes, for the K-quants numpy lacks.

The library is the `libggml-base` that llama-cpp-python ships next to its package
(`llama_cpp/lib/`). It is located and loaded on first use, never at import time, and
without importing `llama_cpp` itself. This module knows ggml type ids (the same numbers
as `gguf.GGMLQuantizationType`) and nothing about models.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

from converters.errors import ConvertError

_LIB_NAMES = {"darwin": "libggml-base.dylib", "win32": "ggml-base.dll"}


def library_path() -> Path:
    """Where llama-cpp-python's libggml-base lives; ConvertError when it is not installed."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        raise ConvertError("K-quants need llama-cpp-python (its libggml); it is not installed")
    name = _LIB_NAMES.get(sys.platform, "libggml-base.so")
    path = Path(spec.origin).parent / "lib" / name
    if not path.exists():
        raise ConvertError(f"{path}: libggml-base not found in the llama-cpp-python package")
    return path


@functools.lru_cache(maxsize=1)
def _lib() -> ctypes.CDLL:
    lib = ctypes.CDLL(str(library_path()))
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_int64,
        ctypes.c_int64,
        ctypes.c_int64,
        ctypes.c_void_p,
    ]
    lib.ggml_quantize_requires_imatrix.restype = ctypes.c_bool
    lib.ggml_quantize_requires_imatrix.argtypes = [ctypes.c_int]
    lib.ggml_row_size.restype = ctypes.c_size_t
    lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
    return lib


def row_bytes(qtype: GGMLQuantizationType, n_per_row: int) -> int:
    """Bytes of one quantized row, from gguf's table of (block size, block bytes)."""
    block, size = GGML_QUANT_SIZES[qtype]
    return n_per_row // block * size


def quantize(rows: np.ndarray, qtype: GGMLQuantizationType) -> np.ndarray:
    """Quantize a 2-D float32 array row by row with ggml; returns uint8 [rows, row_bytes]."""
    lib = _lib()
    if lib.ggml_quantize_requires_imatrix(int(qtype)):
        raise ConvertError(f"{qtype.name} needs an importance matrix, which the converter does not make")
    src = np.ascontiguousarray(rows, dtype=np.float32)
    n_rows, n_per_row = src.shape
    per_row = row_bytes(qtype, n_per_row)
    if lib.ggml_row_size(int(qtype), n_per_row) != per_row:
        raise ConvertError(f"ggml and gguf disagree on the row size of {qtype.name}; wrong libggml?")
    dst = np.empty((n_rows, per_row), dtype=np.uint8)
    # ggml_quantize_chunk is thread-safe and releases the GIL (ctypes): split the rows.
    step = _rows_per_thread(n_rows)
    parts = [(a, min(n_rows, a + step)) for a in range(0, n_rows, step)]

    def run(part: tuple[int, int]) -> int:
        a, b = part
        args = (int(qtype), src.ctypes.data, dst.ctypes.data, a * n_per_row, b - a, n_per_row, None)
        return lib.ggml_quantize_chunk(*args)

    if len(parts) == 1:
        written = run(parts[0])
    else:
        with ThreadPoolExecutor(len(parts)) as pool:
            written = sum(pool.map(run, parts))
    if written != dst.nbytes:
        raise ConvertError(
            f"ggml_quantize_chunk wrote {written} bytes for {qtype.name}, expected {dst.nbytes}"
        )
    return dst


def _rows_per_thread(n_rows: int) -> int:
    threads = max(1, min(8, os.cpu_count() or 1))
    return max(16, -(-n_rows // threads))
