"""Loop-aware mat-vec kernels: one pass over a quantized weight for all rows of a decode step.

ggml's CPU mat-vec unpacks every weight block again for each activation row, so a fused PLT
step pays for the second loop's row almost as much as for the first. `engine/kernels`
(`libpltk.so`, built by `make install`) reads and unpacks each weight block once and
multiplies it with 1 to 4 rows. It runs inside the ggml graph as two custom ops per weight
multiplication, on ggml's thread pool: the activations are quantized once, by ggml's own
quantizer (Q8_K for the K-quants, Q8_0 otherwise) and shared by every weight that reads the
same input; then the multi-row mat-vec splits the weight rows over the threads.

`select(choice)` decides once per runner:
- "ggml": `ggml_mul_mat` for every weight;
- "loop": our kernels for every weight multiplication they cover (Q4_K, Q6_K, Q8_0, Q4_0
  weights, 1..4 F32 rows), ggml's for the rest (prefill chunks, other types); an error when
  the library is missing or the backend is not the CPU;
- "auto" (default; `PLT_AGENT_KERNELS` overrides it): "loop" when the library is built, the
  backend is the CPU and the CPU has AVX2 or AVX-512, otherwise "ggml", saying why once.
`Kernels.matmul` is the one function the graph multiplies weights with.

Knows nothing about models: only weight tensors and activation rows.
"""

from __future__ import annotations

import ctypes as C
import logging
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from engine import ggml
from engine.errors import EngineError

CHOICES = ("auto", "ggml", "loop")
ISAS = ("scalar", "avx2", "avx512", "avx512vnni")  # libpltk's order
TYPES = frozenset({ggml.TYPE_Q4_K, ggml.TYPE_Q6_K, ggml.TYPE_Q8_0, ggml.TYPE_Q4_0})
MAX_ROWS = 4
ABI = 3
LIB_NAME = "libpltk.so"

log = logging.getLogger("engine.kernels")
_said: set[str] = set()


def library_path() -> Path:
    """Where `make install` puts the kernel library (PLT_AGENT_KERNELS_LIB overrides)."""
    override = os.environ.get("PLT_AGENT_KERNELS_LIB")
    return Path(override) if override else Path(__file__).parent / "kernels" / LIB_NAME


class _Lib:
    """libpltk, checked against this ggml and initialized with ggml's two quantizers."""

    def __init__(self, path: Path):
        self.dll = C.CDLL(str(path))
        d = self.dll
        d.pltk_abi.restype = C.c_int
        d.pltk_layout.argtypes = [C.POINTER(C.c_size_t)]
        d.pltk_init.restype = C.c_int
        d.pltk_init.argtypes = [C.c_void_p, C.c_void_p]
        d.pltk_code.restype = C.c_ssize_t
        d.pltk_code.argtypes = [C.c_int, C.c_int, C.c_int]
        d.pltk_act_bytes.restype = C.c_int64
        d.pltk_act_bytes.argtypes = [C.c_ssize_t, C.c_int64, C.c_int]
        d.pltk_attn_code.restype = C.c_ssize_t
        d.pltk_attn_code.argtypes = [C.c_float]
        if d.pltk_abi() != ABI:
            raise EngineError(f"{path} is from another version of plt-agent: run `make install`")
        self._check_layout(path)
        g = ggml.lib()
        self.best = d.pltk_init(_from_float(g, ggml.TYPE_Q8_K), _from_float(g, ggml.TYPE_Q8_0))
        self.quantize_op = C.cast(d.pltk_quantize_op, C.c_void_p).value
        self.matvec_op = C.cast(d.pltk_matvec_op, C.c_void_p).value
        self.attn_partial_op = C.cast(d.pltk_attn_partial_op, C.c_void_p).value
        self.attn_merge_op = C.cast(d.pltk_attn_merge_op, C.c_void_p).value

    def _check_layout(self, path: Path) -> None:
        got = (C.c_size_t * 5)()
        self.dll.pltk_layout(got)
        t = ggml.ggml_tensor
        want = (C.sizeof(t), t.ne.offset, t.nb.offset, t.src.offset, t.data.offset)
        if tuple(got) != want:
            raise EngineError(f"{path}: its ggml_tensor layout {tuple(got)} differs from ggml's {want}")

    def code(self, isa: int, gtype: int, slot: int = 0) -> int:
        return int(self.dll.pltk_code(isa, gtype, slot))

    def act_bytes(self, code: int, k: int, rows: int) -> int:
        return int(self.dll.pltk_act_bytes(code, k, rows))

    def attn_code(self, scale: float) -> int:
        return int(self.dll.pltk_attn_code(scale))


def _from_float(g, gtype: int) -> int:  # noqa: ANN001 - ggml library
    traits = g.ggml_get_type_traits_cpu(gtype)  # struct ggml_type_traits_cpu *; from_float first
    fn = C.c_void_p.from_address(traits).value if traits else None
    if not fn:
        raise EngineError(f"ggml has no CPU quantizer for {g.ggml_type_name(gtype).decode()}")
    return fn


@cache
def _library() -> _Lib | str:
    """The loaded library, or why it cannot be used (one line)."""
    path = library_path()
    if not path.is_file():
        return f"{path} is not built (run `make install`)"
    try:
        return _Lib(path)
    except (OSError, AttributeError) as exc:
        return f"{path} cannot be loaded ({exc})"
    except EngineError as exc:  # a library left from another version of plt-agent
        return str(exc)


def _notice(message: str) -> None:
    if message not in _said:
        _said.add(message)
        log.warning(message)


@dataclass(frozen=True)
class Kernels:
    """Which kernels multiply the weights: `name` "loop" (with `isa`) or "ggml" (and why)."""

    name: str
    isa: str | None = None
    reason: str = ""

    def describe(self) -> dict[str, str | None]:
        return {"kernels": self.name, "isa": self.isa, "reason": self.reason or None}

    def covers(self, w: C._Pointer, x: C._Pointer) -> bool:
        """Whether our kernels take weight `w` times activations `x` (else ggml_mul_mat)."""
        if self.name != "loop":
            return False
        s, t = w.contents, x.contents
        return (
            s.type in TYPES
            and s.ne[2] == 1
            and s.ne[3] == 1
            and t.type == ggml.TYPE_F32
            and t.ne[0] == s.ne[0]
            and 1 <= t.ne[1] <= MAX_ROWS
            and t.ne[2] == 1
            and t.ne[3] == 1
            and t.nb[0] == 4
        )

    def matmul(self, ctx: int, w: C._Pointer, x: C._Pointer, memo: dict) -> C._Pointer:
        """w [k, n] x x [k, rows] -> F32 [n, rows], as ggml_mul_mat. `memo` (one per graph)
        shares the quantized activations between weights that read the same tensor."""
        g = ggml.lib()
        if not self.covers(w, x):
            return g.ggml_mul_mat(ctx, w, x)
        lib = _library()
        assert isinstance(lib, _Lib)
        k, n, rows = int(w.contents.ne[0]), int(w.contents.ne[1]), int(x.contents.ne[1])
        isa, gtype = ISAS.index(self.isa), w.contents.type
        code = lib.code(isa, gtype)
        key = (C.addressof(x.contents), code)
        if key not in memo:  # [packed activations, how many weights read them so far]
            args = (ggml.T * 1)(x)
            nbytes = lib.act_bytes(code, k, rows)
            xq = g.ggml_custom_4d(
                ctx, ggml.TYPE_I8, nbytes, 1, 1, 1, args, 1, lib.quantize_op, ggml.N_TASKS_MAX, code
            )
            memo[key] = [xq, 0]
        xq, slot = memo[key]
        memo[key][1] += 1
        args = (ggml.T * 2)(w, xq)
        return g.ggml_custom_4d(
            ctx,
            ggml.TYPE_F32,
            n,
            rows,
            1,
            1,
            args,
            2,
            lib.matvec_op,
            ggml.N_TASKS_MAX,
            lib.code(isa, gtype, slot),
        )

    def attends(self, kv_type: int) -> bool:
        """Whether `attend` takes a cache of this ggml type (then it wants V as position rows)."""
        return self.name == "loop" and self.isa in ("avx512", "avx512vnni") and kv_type in ATTN_CACHE_TYPES

    def attend(
        self, ctx: int, q: C._Pointer, k: C._Pointer, v: C._Pointer, mask: C._Pointer, scale: float
    ) -> C._Pointer | None:
        """softmax(scale q.k + mask) v for a few query rows, or None where ours do not apply
        (ggml's ops then): q F32 [d, H, n]; k and v caches [Hkv d, >= n_kv] of position rows,
        both F16 or both Q8_0; mask F16 [n_kv, 1 or >= n] (one row shared, or a row per query
        row). -> F32 [d, H, n]."""
        qs, ks, vs, ms = q.contents, k.contents, v.contents, mask.contents
        if not self.attends(ks.type):
            return None
        d, heads, rows, n_kv = int(qs.ne[0]), int(qs.ne[1]), int(qs.ne[2]), int(ms.ne[0])
        hkv = int(ks.ne[0]) // d if d else 0
        if not (
            qs.type == ggml.TYPE_F32
            and qs.nb[0] == 4
            and qs.ne[3] == 1
            and vs.type == ks.type
            and ms.type == ggml.TYPE_F16
            and d % (32 if ks.type == ggml.TYPE_Q8_0 else 16) == 0
            and 0 < d <= ATTN_MAX_D
            and hkv > 0
            and ks.ne[0] == vs.ne[0] == hkv * d
            and heads % hkv == 0
            and ks.ne[1] >= n_kv
            and vs.ne[1] >= n_kv
            and (ms.ne[1] == 1 or ms.ne[1] >= rows)
        ):
            return None
        cols = heads // hkv * rows
        if cols * d > ATTN_SCRATCH or cols * 16 > ATTN_SCRATCH:
            return None
        lib = _library()
        assert isinstance(lib, _Lib)
        code = lib.attn_code(scale)
        if not code:
            return None
        g = ggml.lib()
        chunks = attn_chunks(n_kv, hkv, cols)
        part = g.ggml_custom_4d(
            ctx, ggml.TYPE_F32, cols * (d + 2), hkv * chunks, 1, 1, (ggml.T * 4)(q, k, v, mask), 4,
            lib.attn_partial_op, ggml.N_TASKS_MAX, code,
        )  # fmt: skip
        return g.ggml_custom_4d(
            ctx,
            ggml.TYPE_F32,
            d,
            heads,
            rows,
            1,
            (ggml.T * 1)(part),
            1,
            lib.attn_merge_op,
            ggml.N_TASKS_MAX,
            code,
        )


ATTN_CACHE_TYPES = frozenset({ggml.TYPE_F16, ggml.TYPE_Q8_0})  # what libpltk's attention reads
ATTN_SCRATCH = 8192  # libpltk's PLTK_ATTN_SCRATCH: floats of a work item's queries and scores
ATTN_MAX_D = 256
ATTN_ITEMS = 8  # work items a step's attention is split into at least (threads to keep busy)


def attn_chunks(n_kv: int, hkv: int, cols: int) -> int:
    """Key spans per KV head: enough for ATTN_ITEMS items, each span's scores within the scratch."""
    longest = ATTN_SCRATCH // cols // 16 * 16  # a multiple of 16: spans of n_kv / chunks fit
    return max(1, min(max(-(-n_kv // longest), -(-ATTN_ITEMS // hkv)), -(-n_kv // 16)))


GGML = Kernels("ggml", reason="requested")


def select(choice: str | None = None, *, cpu: bool = True, isa: str | None = None) -> Kernels:
    """The kernels for a runner on a CPU (`cpu`) or other backend; `isa` caps the instruction
    set (PLT_AGENT_KERNEL_ISA does too), for tests and comparisons."""
    choice = choice or os.environ.get("PLT_AGENT_KERNELS") or "auto"
    if choice not in CHOICES:
        raise EngineError(f"kernels must be one of {', '.join(CHOICES)}, got {choice!r}")
    if choice == "ggml":
        return GGML
    if not cpu:
        if choice == "loop":
            raise EngineError("the loop kernels run on the CPU backend only (use --device cpu)")
        return Kernels("ggml", reason="the backend is not the CPU")
    lib = _library()
    if isinstance(lib, str):
        if choice == "loop":
            raise EngineError(f"loop kernels: {lib}")
        _notice(f"loop kernels unavailable: {lib}; using ggml's kernels")
        return Kernels("ggml", reason=lib)
    level = _isa_level(lib, isa or os.environ.get("PLT_AGENT_KERNEL_ISA"))
    if choice == "auto" and level == 0:
        reason = "this CPU has neither AVX2 nor AVX-512"
        _notice(f"loop kernels unavailable: {reason}; using ggml's kernels")
        return Kernels("ggml", reason=reason)
    return Kernels("loop", ISAS[level])


def _isa_level(lib: _Lib, cap: str | None) -> int:
    if not cap:
        return lib.best
    if cap not in ISAS:
        raise EngineError(f"kernel instruction set must be one of {', '.join(ISAS)}, got {cap!r}")
    level = ISAS.index(cap)
    if level > lib.best:
        raise EngineError(f"this CPU (or build) has no {cap} kernels (best: {ISAS[lib.best]})")
    return level


def best_isa() -> str | None:
    """The best instruction set the built library has on this CPU, or None without it."""
    lib = _library()
    return None if isinstance(lib, str) else ISAS[lib.best]
