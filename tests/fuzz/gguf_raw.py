"""A byte-level GGUF reader and writer for the fuzzer, independent of the code under test.

`parse(data)` splits a GGUF file into its version, key/value records (each kept as its
encoded value bytes, so unknown or broken values round-trip untouched), tensor infos and
data section. `Gguf.to_bytes()` writes it back, byte for byte when nothing was changed, so a
mutant is one small edit of a real file. Nothing here checks anything: a mutant may declare
any type, count, offset or alignment.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, replace
from typing import Any

SCALAR = {
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
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12
# ggml type -> (block size in elements, bytes per block), for the types the fixtures use.
TYPE_SIZES = {0: (1, 4), 1: (1, 2), 8: (32, 34), 2: (32, 18), 30: (1, 2)}


def enc_string(text: bytes | str) -> bytes:
    raw = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def enc_value(vtype: int, value: Any) -> bytes:
    """The encoding of `value` as GGUF type `vtype` (ARRAY values are (item_type, items))."""
    if vtype in SCALAR:
        return struct.pack(SCALAR[vtype], value)
    if vtype == STRING:
        return enc_string(value)
    if vtype == ARRAY:
        etype, items = value
        return struct.pack("<IQ", etype, len(items)) + b"".join(enc_value(etype, v) for v in items)
    raise ValueError(f"cannot encode GGUF type {vtype}")


@dataclass
class KV:
    key: bytes
    vtype: int
    raw: bytes  # the encoded value, without the type

    def value(self) -> Any:
        return _Reader(self.raw).value(self.vtype)


@dataclass
class TensorInfo:
    name: bytes
    ne: list[int]
    ttype: int
    offset: int

    @property
    def nbytes(self) -> int:
        block, size = TYPE_SIZES[self.ttype]
        rows = 1
        for n in self.ne[1:]:
            rows *= n
        return rows * (self.ne[0] // block) * size


@dataclass
class Gguf:
    version: int
    kvs: list[KV]
    tensors: list[TensorInfo]
    data: bytes  # everything from the (aligned) start of the data section to the end of the file
    align: int = 32  # the alignment the layout was written with
    magic: bytes = b"GGUF"
    counts: tuple[int | None, int | None] = (None, None)  # override (n_tensors, n_kv) in the header
    extra: dict = field(default_factory=dict)

    def copy(self) -> Gguf:
        return replace(
            self,
            kvs=[replace(k) for k in self.kvs],
            tensors=[replace(t, ne=list(t.ne)) for t in self.tensors],
        )

    # -- records -----------------------------------------------------------------------

    def find(self, key: str) -> KV | None:
        return next((k for k in self.kvs if k.key == key.encode()), None)

    def set(self, key: str, vtype: int, value: Any) -> Gguf:
        return self.set_raw(key, vtype, enc_value(vtype, value))

    def set_raw(self, key: str, vtype: int, raw: bytes) -> Gguf:
        kv = self.find(key)
        if kv is None:
            self.kvs.append(KV(key.encode(), vtype, raw))
        else:
            kv.vtype, kv.raw = vtype, raw
        return self

    def drop(self, key: str) -> Gguf:
        self.kvs = [k for k in self.kvs if k.key != key.encode()]
        return self

    def tensor(self, name: str) -> TensorInfo:
        return next(t for t in self.tensors if t.name == name.encode())

    def tensor_bytes(self, t: TensorInfo) -> bytes:
        return self.data[t.offset : t.offset + t.nbytes]

    def relayout(self, align: int, order: list[int] | None = None) -> Gguf:
        """Rewrite the data section with `align` (and the tensors in `order`), consistently."""
        blobs = [self.tensor_bytes(t) for t in self.tensors]
        if order is not None:
            self.tensors = [self.tensors[i] for i in order]
            blobs = [blobs[i] for i in order]
        data, offset = bytearray(), 0
        for t, blob in zip(self.tensors, blobs, strict=True):
            t.offset = offset
            data += blob + bytes(-len(blob) % align)
            offset = len(data)
        self.data, self.align = bytes(data), align
        if align != 32 or self.find("general.alignment") is not None:
            self.set("general.alignment", U32, align)
        return self

    # -- bytes -------------------------------------------------------------------------

    def header(self) -> bytes:
        n_tensors = len(self.tensors) if self.counts[0] is None else self.counts[0]
        n_kv = len(self.kvs) if self.counts[1] is None else self.counts[1]
        out = bytearray(self.magic + struct.pack("<IQQ", self.version, n_tensors, n_kv))
        for kv in self.kvs:
            out += enc_string(kv.key) + struct.pack("<I", kv.vtype) + kv.raw
        for t in self.tensors:
            out += enc_string(t.name) + struct.pack("<I", len(t.ne))
            out += b"".join(struct.pack("<Q", n & 0xFFFFFFFFFFFFFFFF) for n in t.ne)
            out += struct.pack("<IQ", t.ttype, t.offset & 0xFFFFFFFFFFFFFFFF)
        return bytes(out)

    def to_bytes(self) -> bytes:
        head = self.header()
        return head + bytes(-len(head) % self.align) + self.data


class _Reader:
    def __init__(self, buf: bytes, pos: int = 0):
        self.buf, self.pos = buf, pos

    def take(self, fmt: str) -> Any:
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> bytes:
        n = self.take("<Q")
        raw = self.buf[self.pos : self.pos + n]
        self.pos += n
        return raw

    def value(self, vtype: int) -> Any:
        if vtype in SCALAR:
            return self.take(SCALAR[vtype])
        if vtype == STRING:
            return self.string()
        if vtype == ARRAY:
            etype, count = self.take("<I"), self.take("<Q")
            return (etype, [self.value(etype) for _ in range(count)])
        raise ValueError(f"unknown GGUF type {vtype}")


def parse(data: bytes) -> Gguf:
    r = _Reader(data, 4)
    version, n_tensors, n_kv = r.take("<I"), r.take("<Q"), r.take("<Q")
    kvs = []
    for _ in range(n_kv):
        key = r.string()
        vtype = r.take("<I")
        start = r.pos
        r.value(vtype)
        kvs.append(KV(key, vtype, data[start : r.pos]))
    tensors = []
    for _ in range(n_tensors):
        name, n_dims = r.string(), r.take("<I")
        ne = [r.take("<Q") for _ in range(n_dims)]
        tensors.append(TensorInfo(name, ne, r.take("<I"), r.take("<Q")))
    align = 32
    for kv in kvs:
        if kv.key == b"general.alignment":
            align = kv.value()
    start = r.pos + (-r.pos % align)
    return Gguf(version, kvs, tensors, data[start:], align, data[:4])
