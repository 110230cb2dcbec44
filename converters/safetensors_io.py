"""Read and write safetensors files with numpy alone, and open HF checkpoint directories.

A safetensors file is an 8-byte little-endian header length, a JSON header
`{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}` and the raw
row-major tensor bytes (offsets count from the end of the header). The reader memory-maps
the file, checks every header entry against the file size before touching data (a
truncated shard is a ConvertError naming the file and the first tensor that does not fit,
never a SIGBUS), and hands out one tensor, or a range of its rows, at a time as float32.
It is as strict as the `safetensors` library: a bounded header of strict JSON (no
duplicate keys, no NaN, bounded nesting), and tensor data that covers the data section
exactly, back to back, without overlaps or gaps.
Pages it has read are dropped again, so reading a whole checkpoint keeps memory flat.

`Checkpoint` opens a directory: shards listed in `model.safetensors.index.json`
(`weight_map`), or a single `model.safetensors`. It knows nothing about model
architectures or tensor names.
"""

from __future__ import annotations

import json
import math
import mmap
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from converters.errors import ConvertError
from engine.errors import brief, shown

INDEX_NAME = "model.safetensors.index.json"
SINGLE_NAME = "model.safetensors"
ITEMSIZE = {"BF16": 2, "F16": 2, "F32": 4}
_MAX_HEADER = 100 * 1024 * 1024


def bf16_to_f32(bits: np.ndarray) -> np.ndarray:
    """Widen raw bfloat16 bits (uint16) to float32: the bits become the top half."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def f32_to_bf16(x: np.ndarray) -> np.ndarray:
    """Round float32 to bfloat16 bits (uint16), round-to-nearest-even; NaN stays a quiet NaN."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = (u.astype(np.uint64) + 0x7FFF + ((u >> 16) & 1)) >> 16
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    out = np.where(nan, (u >> 16) | 0x0040, rounded).astype(np.uint16)
    return out


def round_to_bf16(x: np.ndarray) -> np.ndarray:
    """The float32 value a tensor has after being stored as BF16."""
    return bf16_to_f32(f32_to_bf16(x))


@dataclass(frozen=True)
class TensorEntry:
    """One header entry. `start`/`stop` are absolute byte offsets in the file."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    start: int
    stop: int

    @property
    def nbytes(self) -> int:
        return self.stop - self.start

    @property
    def rows(self) -> int:
        return self.shape[0] if self.shape else 1


class SafetensorsFile:
    """One open safetensors file; read tensors with `read(name)` or `read_rows(name, a, b)`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._fh = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise ConvertError(f"{self.path}: cannot open ({exc.strerror})") from None
        try:
            self.size = os.fstat(self._fh.fileno()).st_size
            self.metadata, self.entries = _parse_header(self.path, self._fh, self.size)
            self._map = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ) if self.size else None
        except BaseException:
            self._fh.close()
            raise

    def names(self) -> list[str]:
        return list(self.entries)

    def read(self, name: str) -> np.ndarray:
        """The whole tensor as float32, in its stored shape."""
        entry = self.entries[name]
        return self.read_rows(name, 0, entry.rows).reshape(entry.shape)

    def read_rows(self, name: str, begin: int, end: int) -> np.ndarray:
        """Rows [begin, end) of a tensor (along its first axis) as a float32 array."""
        entry = self.entries[name]
        row_bytes = entry.nbytes // entry.rows if entry.rows else 0
        lo, hi = entry.start + begin * row_bytes, entry.start + end * row_bytes
        assert self._map is not None
        raw = np.frombuffer(self._map, dtype=np.uint8, count=hi - lo, offset=lo)
        values = _decode(raw, entry.dtype)
        self._release(lo, hi)
        rest = entry.shape[1:]
        return values.reshape((end - begin, *rest)) if entry.shape else values.reshape(())

    def _release(self, lo: int, hi: int) -> None:
        """Tell the kernel we are done with these pages so they leave our resident set."""
        if self._map is None or not hasattr(mmap, "MADV_DONTNEED"):
            return
        page = mmap.PAGESIZE
        start = lo - lo % page
        length = min(hi, self.size) - start
        if length > 0:
            self._map.madvise(mmap.MADV_DONTNEED, start, length)

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        self._fh.close()

    def __enter__(self) -> SafetensorsFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _decode(raw: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "BF16":
        return bf16_to_f32(raw.view(np.uint16))
    if dtype == "F16":
        return raw.view(np.float16).astype(np.float32)
    return raw.view(np.float32).copy()


def parse_json(raw: bytes, where: Path, what: str = "") -> object:
    """`raw` as strict JSON: UTF-8, no duplicate keys, no NaN/Infinity literals, bounded depth.

    Python's json module accepts duplicate keys (the last wins), NaN and any nesting until
    it runs out of stack; the files the converter reads come from anywhere, so all of
    these are a ConvertError naming `where`.
    """
    subject = f"{where}: {what} is" if what else f"{where}: file is"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConvertError(f"{subject} not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except RecursionError:
        raise ConvertError(f"{subject} JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, a duplicate key, an integer of thousands of digits
        reason = "an integer of thousands of digits" if "integer string conversion" in str(exc) else exc
        raise ConvertError(f"{subject} not valid JSON ({reason})") from None


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {shown(key)} appears twice")
        out[key] = value
    return out


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_header(path: Path, fh, size: int) -> tuple[dict, dict[str, TensorEntry]]:
    """The header's metadata and entries, checked as the `safetensors` library does: a bounded,
    strict JSON object; every entry's dtype, shape and byte size consistent; and the entries'
    data back to back from the first byte after the header to the last byte of the file."""
    if size < 8:
        raise ConvertError(f"{path}: not a safetensors file (only {size} bytes)")
    n = int.from_bytes(fh.read(8), "little")
    if n > _MAX_HEADER or 8 + n > size:
        raise ConvertError(f"{path}: header length {n} does not fit in a file of {size} bytes (truncated?)")
    header = parse_json(fh.read(n), path, "header")
    if not isinstance(header, dict):
        raise ConvertError(f"{path}: header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ConvertError(f"{path}: __metadata__ must map names to strings")
    entries = {name: _entry(path, name, info, 8 + n) for name, info in header.items()}
    expected = 8 + n
    for entry in sorted(entries.values(), key=lambda e: (e.start, e.stop)):
        if entry.start != expected:
            how = "overlaps the tensor before it" if entry.start < expected else "leaves a gap"
            raise ConvertError(
                f"{path}: tensor {brief(entry.name)} starts at data offset {entry.start - 8 - n} "
                f"but {expected - 8 - n} was expected: its data {how} (damaged file?)"
            )
        if entry.stop > size:
            raise ConvertError(
                f"{path}: truncated: tensor {brief(entry.name)} needs bytes up to {entry.stop} "
                f"but the file has {size}"
            )
        expected = entry.stop
    if expected != size:
        raise ConvertError(
            f"{path}: {size - expected} bytes after the last tensor's data: the header does not "
            "describe the file (damaged, or a wrong header length)"
        )
    return metadata, entries


def _entry(path: Path, name: str, info: object, base: int) -> TensorEntry:
    if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= info.keys():
        raise ConvertError(f"{path}: header entry for tensor {brief(name)} lacks dtype/shape/data_offsets")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype, str) or dtype not in ITEMSIZE:
        raise ConvertError(
            f"{path}: tensor {brief(name)} has dtype {brief(dtype, 40)}; supported: {', '.join(ITEMSIZE)}"
        )
    if not (isinstance(shape, list) and all(_is_int(d) and 0 <= d < 2**62 for d in shape)):
        raise ConvertError(f"{path}: tensor {brief(name)} has a malformed shape {shown(shape)}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)):
        raise ConvertError(f"{path}: tensor {brief(name)} has malformed data_offsets {shown(offsets)}")
    begin, end = offsets
    if begin < 0 or end < begin:
        raise ConvertError(f"{path}: tensor {brief(name)} has data_offsets {shown(offsets)} out of order")
    expected = math.prod(shape) * ITEMSIZE[dtype]
    if end - begin != expected:
        raise ConvertError(
            f"{path}: tensor {brief(name)} is {dtype} {shown(shape)} ({expected} bytes) "
            f"but its data_offsets span {shown(end - begin)} bytes"
        )
    return TensorEntry(name, dtype, tuple(shape), base + begin, base + end)


def write_safetensors(
    path: Path, tensors: Mapping[str, np.ndarray], dtype: str | Mapping[str, str] = "BF16"
) -> int:
    """Write float tensors to `path`, each stored as `dtype` (BF16, F16 or F32, or a per-name map).

    BF16 rounds to nearest even. The header is padded with spaces to a multiple of 8 and
    carries `__metadata__ {"format": "pt"}`. Returns the number of tensor data bytes.
    """
    dtypes = {name: dtype if isinstance(dtype, str) else dtype[name] for name in tensors}
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, array in tensors.items():
        nbytes = int(np.prod(array.shape, dtype=np.int64)) * ITEMSIZE[dtypes[name]]
        header[name] = {
            "dtype": dtypes[name],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    with open(path, "wb") as fh:
        fh.write(len(blob).to_bytes(8, "little"))
        fh.write(blob)
        for name, array in tensors.items():
            fh.write(_encode(array, dtypes[name]).tobytes())
    return offset


def _encode(array: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "BF16":
        return f32_to_bf16(array)
    if dtype == "F16":
        return np.ascontiguousarray(array, dtype=np.float16)
    if dtype == "F32":
        return np.ascontiguousarray(array, dtype=np.float32)
    raise ValueError(f"cannot write dtype {dtype!r}; use one of {', '.join(ITEMSIZE)}")


class Checkpoint:
    """The tensors of an HF checkpoint directory, across its shards."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.files: dict[str, SafetensorsFile] = {}
        self._where: dict[str, str] = {}
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        index = self.directory / INDEX_NAME
        if index.is_file():
            weight_map = _read_weight_map(index)
        elif (self.directory / SINGLE_NAME).is_file():
            weight_map = None
        else:
            raise ConvertError(f"{self.directory}: no {INDEX_NAME} and no {SINGLE_NAME}")
        shard_names = sorted(set(weight_map.values())) if weight_map else [SINGLE_NAME]
        for shard in shard_names:
            path = self.directory / shard
            if not path.is_file():
                raise ConvertError(f"{path}: shard named in {INDEX_NAME} is missing")
            self.files[shard] = SafetensorsFile(path)
        if weight_map is None:
            self._where = {name: SINGLE_NAME for name in self.files[SINGLE_NAME].entries}
            return
        for name, shard in weight_map.items():
            if name not in self.files[shard].entries:
                raise ConvertError(
                    f"{self.directory / shard}: tensor {name} listed in {INDEX_NAME} is not in it"
                )
        self._where = dict(weight_map)

    def names(self) -> list[str]:
        return list(self._where)

    def __contains__(self, name: str) -> bool:
        return name in self._where

    def file_of(self, name: str) -> SafetensorsFile:
        return self.files[self._where[name]]

    def entry(self, name: str) -> TensorEntry:
        return self.file_of(name).entries[name]

    def read(self, name: str) -> np.ndarray:
        return self.file_of(name).read(name)

    def read_rows(self, name: str, begin: int, end: int) -> np.ndarray:
        return self.file_of(name).read_rows(name, begin, end)

    def iter_rows(self, name: str, max_elements: int = 1 << 22) -> Iterator[np.ndarray]:
        """The tensor in row chunks of at most about `max_elements` values (at least one row)."""
        entry = self.entry(name)
        per_row = max(1, math.prod(entry.shape[1:]))
        step = max(1, max_elements // per_row)
        for begin in range(0, entry.rows, step):
            yield self.read_rows(name, begin, min(entry.rows, begin + step))

    def close(self) -> None:
        for f in self.files.values():
            f.close()
        self.files.clear()

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_weight_map(index: Path) -> dict[str, str]:
    try:
        raw = index.read_bytes()
    except OSError as exc:
        raise ConvertError(f"{index}: cannot read ({exc.strerror or exc})") from None
    data = parse_json(raw, index)
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise ConvertError(f"{index}: missing or empty 'weight_map'")
    for name, shard in weight_map.items():
        if not _plain_file_name(shard):
            raise ConvertError(f"{index}: weight_map entry {brief(name)} names a bad shard {shown(shard)}")
    return weight_map  # type: ignore[return-value]


def _plain_file_name(name: object) -> bool:
    """A file name in the checkpoint directory itself: no folders, no hidden files, no NUL."""
    return (
        isinstance(name, str)
        and 0 < len(name.encode("utf-8", "surrogatepass")) <= 255
        and not name.startswith(".")
        and not any(c in name for c in "/\\\0")
    )
