"""Per-sequence PLT decoding state in backend memory: global KV, local rings, carries.

Exactly the layout of plt-model.md §4.1:
- the loop-0 K/V of every layer for every position (the global cache, `n_ctx` rows);
- for each later loop, a ring of the last W+1 K/V rows per layer (a constant);
- one carry vector per loop boundary (the previous position's loop output).

Cache types (`KV_TYPES`): f16 (default), f32, and the block type q8_0, for the global cache
and the rings alike (carries stay F32). q4_0 is left out: on a real-weights PLT at 3,000
positions it changed 3.7% of the next tokens the f16 cache was sure of (q8_0: none).
With f16/f32 the global V is stored transposed, one row of `n_ctx` positions per channel
(`v_trans`), so a decode step's attention is two matrix products (llama.cpp's layout
without flash attention); a block type cannot be written one position at a time in that
layout, so q8_0 keeps V by position and decodes through flash attention. `cache_bytes()`
gives the sizes without allocating anything (the memory check runs before allocation).

On the CPU the global cache is not cleared when allocated: rows are zeroed on demand up to
the span a graph reads (`ensure_zeroed`), so memory is committed as the context fills, not
for all `n_ctx` positions at once.

Host-side bookkeeping is one number, `n_past`: which ring slot holds which position follows
from it, so masks are computed, never stored. `snapshot()`/`restore()` copy the rings and
carries (not the global cache, which never changes for a kept prefix) so a session can go
back to an earlier position exactly. Knows nothing about graphs or tokens.
"""

from __future__ import annotations

import ctypes as C
from dataclasses import dataclass

import numpy as np

from engine import ggml
from engine.arch import PLTConfig
from engine.backend import Backend
from engine.errors import EngineError

KV_TYPES = {"f16": ggml.TYPE_F16, "f32": ggml.TYPE_F32, "q8_0": ggml.TYPE_Q8_0}
BLOCK_KV_TYPES = ("q8_0",)
PROBE_ADDRESS = 1 << 40  # data address of a probe state's tensors (never dereferenced)


def check_kv_type(cfg: PLTConfig, kv_type: str) -> None:
    """EngineError unless `kv_type` names a cache type this model's head size can use."""
    if kv_type not in KV_TYPES:
        raise EngineError(f"kv cache type must be one of {', '.join(KV_TYPES)}, got {kv_type!r}")
    block = int(ggml.lib().ggml_blck_size(KV_TYPES[kv_type]))
    if cfg.head_dim % block:
        raise EngineError(
            f"a {kv_type} KV cache needs a head size divisible by {block}; this model's is {cfg.head_dim}"
        )


@dataclass(frozen=True)
class CacheSize:
    """Bytes of a State: `per_token` for the global cache, `constant` for rings and carries."""

    per_token: int
    constant: int

    def total(self, n_ctx: int) -> int:
        return self.per_token * n_ctx + self.constant


def cache_bytes(cfg: PLTConfig, kv_type: str, loops: int | None = None) -> CacheSize:
    """What a State of this config and cache type costs, computed without allocating it."""
    g, loops = ggml.lib(), loops or cfg.loops
    row = int(g.ggml_row_size(KV_TYPES[kv_type], cfg.num_kv_heads * cfg.head_dim))
    rings = 2 * cfg.num_layers * (loops - 1) * row * cfg.local_keys
    carry = 4 * cfg.hidden_size * max(loops - 1, 1)
    return CacheSize(2 * cfg.num_layers * row, rings + carry)


@dataclass
class Snapshot:
    """Rings and carries as they were after `n_past` positions."""

    n_past: int
    blobs: list[bytes]


class State:
    def __init__(
        self,
        cfg: PLTConfig,
        backend: Backend,
        n_ctx: int,
        kv_type: str = "f16",
        loops: int | None = None,
        *,
        allocate: bool = True,
        v_rows: bool = False,
    ):
        """`allocate=False` makes a probe: tensors with shapes and a placeholder data address that
        is never dereferenced, so graphs over it can be sized (engine.memory) without the memory.
        `v_rows` keeps an f16/f32 global V as position rows too (for attention kernels that read
        V so, engine.loopkernels)."""
        check_kv_type(cfg, kv_type)
        self.g = g = ggml.lib()
        self.cfg, self.n_ctx, self.kv_type = cfg, n_ctx, KV_TYPES[kv_type]
        self.kv_type_name = kv_type
        self.v_trans = kv_type not in BLOCK_KV_TYPES and not v_rows  # V as [n_ctx] rows per channel
        self.loops = loops or cfg.loops
        self.slots = cfg.local_keys  # W + 1
        self.kv_dim = kv_dim = cfg.num_kv_heads * cfg.head_dim
        n_tensors = 2 * cfg.num_layers * self.loops + 1
        self.ctx = g.ggml_init(ggml.ggml_init_params(n_tensors * g.ggml_tensor_overhead() + 1024, None, True))
        self.k = [self._new(kv_dim, n_ctx, f"cache_k{j}") for j in range(cfg.num_layers)]
        v_shape = (n_ctx, kv_dim) if self.v_trans else (kv_dim, n_ctx)
        self.v = [self._new(*v_shape, f"cache_v{j}") for j in range(cfg.num_layers)]
        # ring_k[l - 1][j]: loop l >= 1, layer j
        self.ring_k = [
            [self._new(kv_dim, self.slots, f"ring_k{l}_{j}") for j in range(cfg.num_layers)]
            for l in range(1, self.loops)
        ]
        self.ring_v = [
            [self._new(kv_dim, self.slots, f"ring_v{l}_{j}") for j in range(cfg.num_layers)]
            for l in range(1, self.loops)
        ]
        self.carry = g.ggml_new_tensor_2d(self.ctx, ggml.TYPE_F32, cfg.hidden_size, max(self.loops - 1, 1))
        self.n_past, self.buffer = 0, None
        if not allocate:
            for t in [*self.k, *self.v, *self._small_tensors()]:
                t.contents.data = PROBE_ADDRESS  # "allocated" for ggml's graph allocator
            return
        self.buffer = g.ggml_backend_alloc_ctx_tensors(self.ctx, backend.handle)
        if not self.buffer:
            raise EngineError(
                f"not enough memory for a KV cache of {n_ctx} tokens ({self.nbytes() >> 20} MiB)"
            )
        self.host = backend.is_cpu  # tensor data is host memory: zero global rows on demand
        self.zeroed = 0  # global cache rows [0, zeroed) hold finite values
        if self.host:
            self._zero_small()
        else:
            g.ggml_backend_buffer_clear(self.buffer, 0)
            self.zeroed = n_ctx
        self.n_past = 0

    def _new(self, ne0: int, ne1: int, name: str) -> C._Pointer:
        t = self.g.ggml_new_tensor_2d(self.ctx, self.kv_type, ne0, ne1)
        self.g.ggml_set_name(t, name.encode())
        return t

    # -- sizes ------------------------------------------------------------------------------------------

    def kv_bytes_per_token(self) -> int:
        """Bytes the global cache grows by per position (the rings and carries are constants)."""
        return cache_bytes(self.cfg, self.kv_type_name, self.loops).per_token

    def constant_bytes(self) -> int:
        return sum(int(self.g.ggml_nbytes(t)) for t in self._small_tensors())

    # -- zeroing on demand ------------------------------------------------------------------------------

    def ensure_zeroed(self, rows: int) -> None:
        """Make global rows [0, rows) finite before a graph reads them (masked keys still enter
        the matrix products of the transposed layout, where 0 x NaN would poison the sum)."""
        if rows <= self.zeroed:
            return
        lo, hi = self.zeroed, min(rows, self.n_ctx)
        for t, transposed in [(k, False) for k in self.k] + [(v, self.v_trans) for v in self.v]:
            s = t.contents
            data = np.ctypeslib.as_array((C.c_uint8 * int(self.g.ggml_nbytes(t))).from_address(s.data))
            if transposed:  # [kv_dim rows of n_ctx positions]
                es = int(s.nb[0])
                data.reshape(self.kv_dim, self.n_ctx * es)[:, lo * es : hi * es] = 0
            else:
                data[lo * int(s.nb[1]) : hi * int(s.nb[1])] = 0
        self.zeroed = hi

    def _zero_small(self) -> None:
        for t in self._small_tensors():
            zeros = bytes(int(self.g.ggml_nbytes(t)))
            self.g.ggml_backend_tensor_set(t, zeros, 0, len(zeros))

    def nbytes(self) -> int:
        return self.kv_bytes_per_token() * self.n_ctx + self.constant_bytes()

    # -- ring geometry ------------------------------------------------------------------------------------

    def slot_positions(self, n_past: int) -> np.ndarray:
        """Position held by each ring slot after `n_past` positions were written (-1: empty)."""
        last = n_past - 1
        s = np.arange(self.slots)
        pos = last - np.mod(last - s, self.slots)
        return np.where(pos >= 0, pos, -1)

    # -- snapshots and reset ------------------------------------------------------------------------------

    def _small_tensors(self) -> list[C._Pointer]:
        rings = [t for loop in self.ring_k + self.ring_v for t in loop]
        return [*rings, self.carry]

    def snapshot(self) -> Snapshot:
        blobs = []
        for t in self._small_tensors():
            buf = (C.c_char * int(self.g.ggml_nbytes(t)))()
            self.g.ggml_backend_tensor_get(t, buf, 0, len(buf))
            blobs.append(bytes(buf))
        return Snapshot(self.n_past, blobs)

    def restore(self, snap: Snapshot) -> None:
        for t, blob in zip(self._small_tensors(), snap.blobs, strict=True):
            self.g.ggml_backend_tensor_set(t, blob, 0, len(blob))
        self.n_past = snap.n_past

    def reset(self) -> None:
        """Start a new sequence: zero carries and rings (the global cache is masked by n_past)."""
        self._zero_small()
        self.n_past = 0

    # -- a deep cache without a prefill (benchmarks) ---------------------------------------------------------

    def fill_random(self, n: int, seed: int = 0) -> None:
        """Positions [0, n) of the global cache hold random finite K/V and `n_past = n`: a step's
        cost at depth n does not depend on the values, and a 7B prefill of 16k tokens takes an
        hour on a laptop CPU. Rings and carries are zeroed (constant-size; their values do not
        change a step's cost either)."""
        self.reset()
        block = min(n, 256)
        values = np.random.default_rng(seed).standard_normal((block, self.kv_dim)).astype(np.float32)
        rows = self._encode_rows(values)  # [block, row bytes], repeated to fill n positions
        reps = -(-n // block)
        tiled = np.tile(rows, (reps, 1))[:n]
        for j in range(self.cfg.num_layers):
            self.set_global_rows(j, "k", tiled.tobytes())
            self.set_global_rows(j, "v", tiled.tobytes())
        self.n_past = n

    def _encode_rows(self, values: np.ndarray) -> np.ndarray:
        """float32 [rows, kv_dim] -> the cache type's bytes, one row per position."""
        if self.kv_type == ggml.TYPE_F32:
            return values.view(np.uint8).reshape(len(values), -1)
        if self.kv_type == ggml.TYPE_F16:
            return values.astype(np.float16).view(np.uint8).reshape(len(values), -1)
        row = int(self.g.ggml_row_size(self.kv_type, self.kv_dim))
        out = np.zeros((len(values), row), dtype=np.uint8)
        src = np.ascontiguousarray(values)
        self.g.ggml_quantize_chunk(
            self.kv_type,
            src.ctypes.data_as(C.POINTER(C.c_float)),
            out.ctypes.data,
            0,
            len(values),
            self.kv_dim,
            None,
        )
        return out

    # -- whole-state bytes for saving a session -------------------------------------------------------------

    def global_rows(self, j: int, which: str, n: int) -> bytes:
        """The first n positions of layer j's K or V, position by position (either layout)."""
        t = (self.k if which == "k" else self.v)[j]
        if which == "v" and self.v_trans:
            es = int(t.contents.nb[0])
            out = np.empty((self.kv_dim, n * es), dtype=np.uint8)
            for c in range(self.kv_dim if n else 0):
                self.g.ggml_backend_tensor_get(t, out[c].ctypes.data, c * self.n_ctx * es, n * es)
            return out.reshape(self.kv_dim, n, es).transpose(1, 0, 2).tobytes()
        size = n * int(t.contents.nb[1])
        buf = (C.c_char * size)()
        if size:
            self.g.ggml_backend_tensor_get(t, buf, 0, size)
        return bytes(buf)

    def set_global_rows(self, j: int, which: str, blob: bytes) -> None:
        """Inverse of `global_rows`: write positions 0 .. len(blob)/row-1 of layer j's K or V."""
        t = (self.k if which == "k" else self.v)[j]
        if len(blob) > int(self.g.ggml_nbytes(t)):
            raise EngineError("saved session does not fit this context size")
        if not blob:
            return
        row = int(self.g.ggml_row_size(self.kv_type, self.kv_dim))
        self.ensure_zeroed(len(blob) // row)  # rows below the mark would be zeroed later otherwise
        if which == "v" and self.v_trans:
            es = int(t.contents.nb[0])
            n = len(blob) // (self.kv_dim * es)
            rows = np.frombuffer(blob, dtype=np.uint8).reshape(n, self.kv_dim, es).transpose(1, 0, 2)
            rows = np.ascontiguousarray(rows).reshape(self.kv_dim, n * es)
            for c in range(self.kv_dim):
                self.g.ggml_backend_tensor_set(t, rows[c].ctypes.data, c * self.n_ctx * es, n * es)
        else:
            self.g.ggml_backend_tensor_set(t, blob, 0, len(blob))

    def close(self) -> None:
        if self.buffer:
            self.g.ggml_backend_buffer_free(self.buffer)
            self.buffer = None
        if self.ctx:
            self.g.ggml_free(self.ctx)
            self.ctx = None
