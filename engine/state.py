"""Per-sequence PLT decoding state in backend memory: global KV, local rings, carries.

Exactly the layout of plt-model.md §4.1:
- the loop-0 K/V of every layer for every position (the global cache, `n_ctx` rows);
- for each later loop, a ring of the last W+1 K/V rows per layer (a constant);
- one carry vector per loop boundary (the previous position's loop output).

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

KV_TYPES = {"f16": ggml.TYPE_F16, "f32": ggml.TYPE_F32}


@dataclass
class Snapshot:
    """Rings and carries as they were after `n_past` positions."""

    n_past: int
    blobs: list[bytes]


class State:
    def __init__(
        self, cfg: PLTConfig, backend: Backend, n_ctx: int, kv_type: str = "f16", loops: int | None = None
    ):
        if kv_type not in KV_TYPES:
            raise EngineError(f"kv cache type must be one of {', '.join(KV_TYPES)}, got {kv_type!r}")
        self.g = g = ggml.lib()
        self.cfg, self.n_ctx, self.kv_type = cfg, n_ctx, KV_TYPES[kv_type]
        self.loops = loops or cfg.loops
        self.slots = cfg.local_keys  # W + 1
        kv_dim = cfg.num_kv_heads * cfg.head_dim
        n_tensors = 2 * cfg.num_layers * self.loops + 1
        self.ctx = g.ggml_init(ggml.ggml_init_params(n_tensors * g.ggml_tensor_overhead() + 1024, None, True))
        self.k = [self._new(kv_dim, n_ctx, f"cache_k{j}") for j in range(cfg.num_layers)]
        self.v = [self._new(kv_dim, n_ctx, f"cache_v{j}") for j in range(cfg.num_layers)]
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
        self.buffer = g.ggml_backend_alloc_ctx_tensors(self.ctx, backend.handle)
        if not self.buffer:
            raise EngineError(
                f"not enough memory for a KV cache of {n_ctx} tokens ({self.nbytes() >> 20} MiB)"
            )
        g.ggml_backend_buffer_clear(self.buffer, 0)
        self.n_past = 0

    def _new(self, ne0: int, ne1: int, name: str) -> C._Pointer:
        t = self.g.ggml_new_tensor_2d(self.ctx, self.kv_type, ne0, ne1)
        self.g.ggml_set_name(t, name.encode())
        return t

    # -- sizes ------------------------------------------------------------------------------------------

    def kv_bytes_per_token(self) -> int:
        """Bytes the global cache grows by per position (the rings and carries are constants)."""
        row = int(self.g.ggml_row_size(self.kv_type, self.cfg.num_kv_heads * self.cfg.head_dim))
        return 2 * self.cfg.num_layers * row

    def constant_bytes(self) -> int:
        return sum(int(self.g.ggml_nbytes(t)) for t in self._small_tensors())

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
        for t in self._small_tensors():
            zeros = bytes(int(self.g.ggml_nbytes(t)))
            self.g.ggml_backend_tensor_set(t, zeros, 0, len(zeros))
        self.n_past = 0

    # -- whole-state bytes for saving a session -------------------------------------------------------------

    def global_rows(self, j: int, which: str, n: int) -> bytes:
        t = (self.k if which == "k" else self.v)[j]
        size = n * int(t.contents.nb[1])
        buf = (C.c_char * size)()
        if size:
            self.g.ggml_backend_tensor_get(t, buf, 0, size)
        return bytes(buf)

    def set_global_rows(self, j: int, which: str, blob: bytes) -> None:
        t = (self.k if which == "k" else self.v)[j]
        if len(blob) > int(self.g.ggml_nbytes(t)):
            raise EngineError("saved session does not fit this context size")
        if blob:
            self.g.ggml_backend_tensor_set(t, blob, 0, len(blob))

    def close(self) -> None:
        if self.buffer:
            self.g.ggml_backend_buffer_free(self.buffer)
            self.buffer = None
        if self.ctx:
            self.g.ggml_free(self.ctx)
            self.ctx = None
