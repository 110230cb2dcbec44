"""Memory a model needs at a context size, worked out before anything large is allocated.

need(n_ctx) = weights + cache + compute:
- weights: the bytes of the file's tensors (mapped on the CPU, copied to a GPU; resident
  either way once the model runs);
- cache: the State's size for n_ctx positions in the chosen cache type
  (`engine.state.cache_bytes`, exact);
- compute: the graph allocator's buffer for the largest graph at that span (a prefill chunk
  and a decode step reading all n_ctx positions), sized by `ggml_gallocr_reserve_n_size` over
  a probe state that has shapes but no memory.

available: MemAvailable from /proc/meminfo (page cache that can be dropped counts), lowered to
the cgroup's limit where one is set, or the caller's `memory_limit` when given (the CLI's
`--memory-limit` / `PLT_AGENT_MEMORY_LIMIT`; the engine reads no environment itself).
Only the CPU backend is checked: for a GPU backend `available` is unknown and nothing is
refused here (ggml reports a failed device allocation itself).

`largest_context` finds the longest context that fits; `Budget.refusal` is the one-line
message with the figures and what would fit. Knows nothing about tokens or sessions.
"""

from __future__ import annotations

import ctypes as C
from dataclasses import dataclass
from pathlib import Path

from engine import ggml
from engine.arch import PLTConfig
from engine.backend import Backend, Weights
from engine.errors import EngineError
from engine.graph import GraphBuilder, Plan
from engine.loopkernels import GGML, Kernels
from engine.state import KV_TYPES, State, cache_bytes, check_kv_type

GIB = 1 << 30
CONTEXT_STEP = 256  # contexts suggested or chosen are multiples of this


@dataclass(frozen=True)
class Budget:
    n_ctx: int
    kv_type: str
    weights: int
    cache: int
    compute: int
    available: int | None  # None: not known (a GPU backend), nothing is refused

    @property
    def need(self) -> int:
        return self.weights + self.cache + self.compute

    @property
    def fits(self) -> bool:
        return self.available is None or self.need <= self.available

    def describe(self) -> str:
        return (
            f"a {self.n_ctx}-token context needs {_gib(self.need)} (weights {_gib(self.weights)} + "
            f"{self.kv_type} KV cache {_gib(self.cache)} + compute {_gib(self.compute)})"
        )

    def refusal(self, fits: dict[str, int]) -> str:
        """One line: what this context needs, what is available, what would fit (kv type -> tokens)."""
        head = f"{self.describe()} but {_gib(self.available or 0)} is available"
        if not fits:
            weights = _gib(self.weights)
            return f"{head}: not even a {CONTEXT_STEP}-token context fits (the weights need {weights})"
        options = [f"at most {fits[self.kv_type]} tokens"] if self.kv_type in fits else []
        options += [f"a {t} cache ({n} tokens fit)" for t, n in fits.items() if t != self.kv_type]
        return f"{head}: use {' or '.join(options)}"


def _gib(n: int) -> str:
    """Bytes as GiB (two decimals under 10 GiB), or MiB / KiB where GiB would read 0.00."""
    if n < (1 << 20):
        return f"{n / 1024:.1f} KiB"
    if n < GIB // 100:
        return f"{n / (1 << 20):.1f} MiB"
    return f"{n / GIB:.2f} GiB" if n < 10 * GIB else f"{n / GIB:.1f} GiB"


def parse_bytes(text: str) -> int:
    """'8G', '512M', '2GiB' or plain bytes -> bytes."""
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(t[-1:], 1)
    try:
        value = float(t[:-1] if scale > 1 else t)
    except ValueError:
        raise EngineError(f"a memory limit must look like 8G or 512M, got {text!r}") from None
    return int(value * scale)


def available_bytes(limit: int | None = None) -> int | None:
    """Memory this process may still use: `limit` when given, else MemAvailable capped by a
    cgroup limit."""
    if limit is not None:
        return limit
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except OSError:
        return None
    cgroup = Path("/sys/fs/cgroup")
    try:
        cap = (cgroup / "memory.max").read_text().strip()
        if cap != "max":
            found.append(int(cap) - int((cgroup / "memory.current").read_text()))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def compute_bytes(
    cfg: PLTConfig,
    weights: Weights,
    backend: Backend,
    n_ctx: int,
    kv_type: str,
    loops: int,
    chunk: int,
    kernels: Kernels = GGML,
) -> int:
    """The compute buffer the runtime's graphs need at span n_ctx (with these weight kernels),
    without allocating it."""
    g = ggml.lib()
    v_rows = kernels.attends(KV_TYPES[kv_type])
    probe = State(cfg, backend, n_ctx, kv_type, loops, allocate=False, v_rows=v_rows)
    try:
        builder = GraphBuilder(cfg, weights, probe, kernels)
        sizes = []
        for plan in (Plan("prefill", min(chunk, n_ctx), n_ctx), Plan("decode", 1, n_ctx)):
            built = builder.build(plan)
            alloc = g.ggml_gallocr_new(g.ggml_backend_get_default_buffer_type(backend.handle))
            try:
                out = (C.c_size_t * 1)()
                g.ggml_gallocr_reserve_n_size(alloc, built.graph, None, None, out)
                sizes.append(int(out[0]))
            finally:
                g.ggml_gallocr_free(alloc)
                g.ggml_free(built.ctx)
        return max(sizes)
    finally:
        probe.close()


class Planner:
    """Budgets for one model on one backend: `budget(n_ctx, kv_type)`, `largest_context(kv_type)`."""

    def __init__(
        self,
        cfg: PLTConfig,
        weights: Weights,
        backend: Backend,
        loops: int,
        chunk: int = 512,
        memory_limit: int | None = None,
        kernels: Kernels = GGML,
    ):
        self.cfg, self.w, self.backend, self.loops, self.chunk = cfg, weights, backend, loops, chunk
        self.kernels = kernels
        self.available = available_bytes(memory_limit) if backend.is_cpu else None

    def budget(self, n_ctx: int, kv_type: str) -> Budget:
        size = cache_bytes(self.cfg, kv_type, self.loops)
        compute = compute_bytes(
            self.cfg, self.w, self.backend, n_ctx, kv_type, self.loops, self.chunk, self.kernels
        )
        return Budget(n_ctx, kv_type, self.w.nbytes(), size.total(n_ctx), compute, self.available)

    def largest_context(self, kv_type: str, upper: int, share: float = 1.0) -> int:
        """The longest context <= upper (a multiple of CONTEXT_STEP, or upper itself) whose need
        fits in `share` of the available memory; 0 when none does."""
        if self.available is None:
            return upper
        room = int(self.available * share)

        def fits(n: int) -> bool:
            return self.budget(n, kv_type).need <= room

        if fits(upper):
            return upper
        lo, hi = 0, upper // CONTEXT_STEP  # fits(lo * STEP) is assumed (0), fits(hi * STEP) is False
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if fits(mid * CONTEXT_STEP) else (lo, mid)
        return lo * CONTEXT_STEP

    def alternatives(self, kv_type: str, upper: int) -> dict[str, int]:
        """The longest context that fits with this cache type, and with q8_0 where that fits
        more (a prefill widens a q8_0 cache to F32 one layer at a time, so on a model with few
        layers it can fit less)."""
        out = {}
        own = self.largest_context(kv_type, upper)
        if own:
            out[kv_type] = own
        if kv_type != "q8_0":
            try:
                check_kv_type(self.cfg, "q8_0")
            except EngineError:
                return out
            n = self.largest_context("q8_0", upper)
            if n > own:
                out["q8_0"] = n
        return out
