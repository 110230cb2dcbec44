"""A thin ctypes binding to the ggml that llama-cpp-python ships (`llama_cpp/lib/libggml*.so`).

Only what the engine uses is declared. The declarations, the `ggml_tensor` struct included,
match ggml 0.25.3 as bundled in llama-cpp-python 0.3.36; `lib()` checks the version and the
struct layout once and raises EngineError with one line on a mismatch. Nothing is loaded at
import time: the first call to `lib()` opens the libraries.

This module knows nothing about models: it is ggml's C API, typed.
"""

from __future__ import annotations

import ctypes as C
import sys
from functools import cache
from pathlib import Path

from engine.errors import EngineError

GGML_VERSION = "0.25.3"
LLAMA_CPP_VERSION = "0.3.36"

MAX_DIMS = 4
MAX_SRC = 10
MAX_OP_PARAMS = 64
MAX_NAME = 64

# enum ggml_type (subset the engine handles)
TYPE_F32, TYPE_F16, TYPE_Q4_0, TYPE_Q4_1 = 0, 1, 2, 3
TYPE_Q5_0, TYPE_Q5_1, TYPE_Q8_0 = 6, 7, 8
TYPE_Q2_K, TYPE_Q3_K, TYPE_Q4_K, TYPE_Q5_K, TYPE_Q6_K, TYPE_Q8_K = 10, 11, 12, 13, 14, 15
TYPE_I8, TYPE_I32, TYPE_BF16 = 24, 26, 30
WEIGHT_TYPES = frozenset(
    {
        TYPE_F32,
        TYPE_F16,
        TYPE_BF16,
        TYPE_Q4_0,
        TYPE_Q4_1,
        TYPE_Q5_0,
        TYPE_Q5_1,
        TYPE_Q8_0,
        TYPE_Q2_K,
        TYPE_Q3_K,
        TYPE_Q4_K,
        TYPE_Q5_K,
        TYPE_Q6_K,
    }
)

OP_MUL_MAT, OP_CUSTOM = 29, 95  # enum ggml_op: the two ops that multiply weights
N_TASKS_MAX = -1

ROPE_TYPE_NORMAL = 0
ROPE_TYPE_NEOX = 2
PREC_F32 = 10
STATUS_SUCCESS = 0
BACKEND_DEVICE_TYPE_CPU, BACKEND_DEVICE_TYPE_GPU, BACKEND_DEVICE_TYPE_IGPU = 0, 1, 2
# ggml's GPU backends, as llama-cpp-python installs them next to libggml.so when built with them
GPU_LIBRARIES = (
    "libggml-cuda.so",
    "libggml-hip.so",
    "libggml-musa.so",
    "libggml-vulkan.so",
    "libggml-sycl.so",
)


class ggml_tensor(C.Structure):  # noqa: N801 - C name
    _fields_ = [
        ("type", C.c_int),
        ("buffer", C.c_void_p),
        ("ne", C.c_int64 * MAX_DIMS),
        ("nb", C.c_size_t * MAX_DIMS),
        ("op", C.c_int),
        ("op_params", C.c_int32 * (MAX_OP_PARAMS // 4)),
        ("flags", C.c_int32),
        ("src", C.c_void_p * MAX_SRC),
        ("view_src", C.c_void_p),
        ("view_offs", C.c_size_t),
        ("data", C.c_void_p),
        ("name", C.c_char * MAX_NAME),
        ("extra", C.c_void_p),
        ("padding", C.c_char * 8),
    ]


class ggml_cgraph(C.Structure):  # noqa: N801 - C name
    """`struct ggml_cgraph` of ggml-impl.h (not public API): read to check, written only for `uid`."""

    _fields_ = [
        ("size", C.c_int),
        ("n_nodes", C.c_int),
        ("n_leafs", C.c_int),
        ("nodes", C.c_void_p),
        ("grads", C.c_void_p),
        ("grad_accs", C.c_void_p),
        ("leafs", C.c_void_p),
        ("use_counts", C.c_void_p),
        ("visited_size", C.c_size_t),
        ("visited_used", C.c_void_p),
        ("visited_keys", C.c_void_p),
        ("order", C.c_int),
        ("uid", C.c_uint64),
    ]


class ggml_init_params(C.Structure):  # noqa: N801 - C name
    _fields_ = [("mem_size", C.c_size_t), ("mem_buffer", C.c_void_p), ("no_alloc", C.c_bool)]


LOG_CALLBACK = C.CFUNCTYPE(None, C.c_int, C.c_char_p, C.c_void_p)
LOG_INFO, LOG_WARN, LOG_ERROR, LOG_DEBUG, LOG_CONT = 1, 2, 3, 4, 5
T = C.POINTER(ggml_tensor)
P = C.c_void_p  # contexts, graphs, backends, buffers: opaque
i32, i64, f32, sz, b = C.c_int, C.c_int64, C.c_float, C.c_size_t, C.c_bool

# name -> (restype, argtypes). Grouped by library; every symbol is looked up in libggml.so,
# which re-exports ggml-base and ggml-cpu through its dependencies.
_SIGNATURES: dict[str, tuple[object, list[object]]] = {
    # context and tensors
    "ggml_version": (C.c_char_p, []),
    "ggml_log_set": (None, [LOG_CALLBACK, C.c_void_p]),
    "ggml_init": (P, [ggml_init_params]),
    "ggml_free": (None, [P]),
    "ggml_tensor_overhead": (sz, []),
    "ggml_graph_overhead_custom": (sz, [sz, b]),
    "ggml_new_tensor": (T, [P, i32, i32, C.POINTER(i64)]),
    "ggml_new_tensor_1d": (T, [P, i32, i64]),
    "ggml_new_tensor_2d": (T, [P, i32, i64, i64]),
    "ggml_new_tensor_3d": (T, [P, i32, i64, i64, i64]),
    "ggml_set_name": (T, [T, C.c_char_p]),
    "ggml_get_name": (C.c_char_p, [T]),
    "ggml_set_input": (None, [T]),
    "ggml_set_output": (None, [T]),
    "ggml_nbytes": (sz, [T]),
    "ggml_row_size": (sz, [i32, i64]),
    "ggml_type_size": (sz, [i32]),
    "ggml_blck_size": (i64, [i32]),
    "ggml_type_name": (C.c_char_p, [i32]),
    "ggml_is_contiguous": (b, [T]),
    # ops
    "ggml_get_rows": (T, [P, T, T]),
    "ggml_set_rows": (T, [P, T, T, T]),
    "ggml_rms_norm": (T, [P, T, f32]),
    "ggml_mul": (T, [P, T, T]),
    "ggml_add": (T, [P, T, T]),
    "ggml_sub": (T, [P, T, T]),
    "ggml_scale": (T, [P, T, f32]),
    "ggml_mul_mat": (T, [P, T, T]),
    "ggml_prec_set_acc": (b, [T, i32]),
    "ggml_rope_ext": (T, [P, T, T, T, i32, i32, i32, f32, f32, f32, f32, f32, f32]),
    "ggml_soft_max_ext": (T, [P, T, T, f32, f32]),
    "ggml_flash_attn_ext": (T, [P, T, T, T, T, f32, f32, f32]),
    "ggml_permute": (T, [P, T, i32, i32, i32, i32]),
    "ggml_transpose": (T, [P, T]),
    "ggml_view_1d": (T, [P, T, i64, sz]),
    "ggml_view_2d": (T, [P, T, i64, i64, sz, sz]),
    "ggml_view_3d": (T, [P, T, i64, i64, i64, sz, sz, sz]),
    "ggml_reshape_2d": (T, [P, T, i64, i64]),
    "ggml_reshape_3d": (T, [P, T, i64, i64, i64]),
    "ggml_reshape_4d": (T, [P, T, i64, i64, i64, i64]),
    "ggml_cont": (T, [P, T]),
    "ggml_cpy": (T, [P, T, T]),
    "ggml_concat": (T, [P, T, T, i32]),
    "ggml_silu": (T, [P, T]),
    "ggml_sigmoid": (T, [P, T]),
    "ggml_swiglu_split": (T, [P, T, T]),
    "ggml_cast": (T, [P, T, i32]),
    "ggml_sum_rows": (T, [P, T]),
    "ggml_custom_4d": (T, [P, i32, i64, i64, i64, i64, C.POINTER(T), i32, C.c_void_p, i32, C.c_void_p]),
    # graphs
    "ggml_new_graph_custom": (P, [P, sz, b]),
    "ggml_build_forward_expand": (None, [P, T]),
    "ggml_graph_n_nodes": (i32, [P]),
    "ggml_get_first_tensor": (T, [P]),
    "ggml_get_next_tensor": (T, [P, T]),
    "ggml_graph_node": (T, [P, i32]),
    "ggml_op_name": (C.c_char_p, [i32]),
    "ggml_get_type_traits_cpu": (C.c_void_p, [i32]),
    "ggml_graph_next_uid": (C.c_uint64, []),
    "ggml_op_desc": (C.c_char_p, [T]),
    # backends and buffers
    "ggml_backend_cpu_init": (P, []),
    "ggml_backend_cpu_set_n_threads": (None, [P, i32]),
    "ggml_backend_is_cpu": (b, [P]),
    "ggml_backend_name": (C.c_char_p, [P]),
    "ggml_backend_free": (None, [P]),
    "ggml_backend_get_default_buffer_type": (P, [P]),
    "ggml_backend_supports_op": (b, [P, T]),
    "ggml_backend_alloc_ctx_tensors": (P, [P, P]),
    "ggml_backend_buffer_free": (None, [P]),
    "ggml_backend_buffer_get_size": (sz, [P]),
    "ggml_backend_buffer_get_base": (P, [P]),
    "ggml_backend_buffer_is_host": (b, [P]),
    "ggml_backend_buffer_clear": (None, [P, C.c_uint8]),
    "ggml_backend_cpu_buffer_from_ptr": (P, [P, sz]),
    "ggml_backend_tensor_alloc": (i32, [P, T, P]),
    "ggml_backend_tensor_set": (None, [T, P, sz, sz]),
    "ggml_backend_tensor_get": (None, [T, P, sz, sz]),
    "ggml_backend_graph_compute": (i32, [P, P]),
    "ggml_backend_synchronize": (None, [P]),
    "ggml_backend_dev_count": (sz, []),
    "ggml_backend_dev_get": (P, [sz]),
    "ggml_backend_dev_type": (i32, [P]),
    "ggml_backend_dev_name": (C.c_char_p, [P]),
    "ggml_backend_dev_description": (C.c_char_p, [P]),
    "ggml_backend_dev_init": (P, [P, C.c_char_p]),
    "ggml_backend_dev_memory": (None, [P, C.POINTER(sz), C.POINTER(sz)]),
    "ggml_backend_load": (P, [C.c_char_p]),
    "ggml_backend_load_all": (None, []),
    "ggml_gallocr_new": (P, [P]),
    "ggml_gallocr_free": (None, [P]),
    "ggml_gallocr_reserve": (b, [P, P]),
    "ggml_gallocr_reserve_n_size": (None, [P, P, C.POINTER(C.c_int), C.POINTER(C.c_int), C.POINTER(sz)]),
    "ggml_gallocr_alloc_graph": (b, [P, P]),
    "ggml_gallocr_get_buffer_size": (sz, [P, i32]),
    "ggml_quantize_chunk": (sz, [i32, C.POINTER(f32), P, i64, i64, i64, C.POINTER(f32)]),
}


class _Lib:
    """The loaded libraries with typed functions as attributes (`lib().ggml_add(...)`)."""

    def __init__(self, libdir: Path):
        names = ["libggml-base.so", "libggml.so"]
        if (libdir / "libggml-cpu.so").exists():
            names.append("libggml-cpu.so")
        self._libs = [_open(libdir / name) for name in names]
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = self._find(name)
            fn.restype = restype
            fn.argtypes = argtypes
            setattr(self, name, fn)

    def _find(self, name: str):  # noqa: ANN202 - ctypes function
        for lib in self._libs:
            try:
                return getattr(lib, name)
            except AttributeError:
                continue
        raise EngineError(f"ggml symbol {name} not found: llama-cpp-python {LLAMA_CPP_VERSION} is required")


_library_dir: Path | None = None  # set by `use_library_dir`


def use_library_dir(libdir: str | Path | None) -> None:
    """Open ggml from `libdir` instead of llama-cpp-python's (before the first `lib()` call)."""
    global _library_dir
    _library_dir = Path(libdir) if libdir else None


def _open(path: Path) -> C.CDLL:
    """dlopen one library; a missing dependency (say the CUDA runtime of a CUDA build) is one line."""
    try:
        return C.CDLL(str(path), mode=getattr(C, "RTLD_GLOBAL", 0))
    except OSError as exc:
        raise EngineError(f"cannot load {path.name} from {path.parent}: {exc}") from None


def gpu_libraries(libdir: Path | None = None) -> list[str]:
    """The GPU backend libraries this llama-cpp-python build installed (empty for a CPU build)."""
    libdir = libdir or library_dir()
    return [name for name in GPU_LIBRARIES if (libdir / name).exists()]


def library_dir() -> Path:
    """Where llama-cpp-python keeps its shared libraries (unless `use_library_dir` said otherwise)."""
    if _library_dir is not None:
        return _library_dir
    try:
        import llama_cpp
    except ImportError as exc:
        raise EngineError(f"llama-cpp-python is not installed ({exc}); run `make install`") from None
    return Path(llama_cpp.__file__).parent / "lib"


@cache
def lib() -> _Lib:
    """Open ggml once, check its version and the tensor struct layout."""
    libdir = library_dir()
    if not (libdir / "libggml.so").exists():
        raise EngineError(f"no libggml.so in {libdir}: reinstall llama-cpp-python=={LLAMA_CPP_VERSION}")
    g = _Lib(libdir)
    version = g.ggml_version().decode()
    if version != GGML_VERSION:
        raise EngineError(
            f"ggml {version} found in {libdir}, but this engine is built for ggml {GGML_VERSION} "
            f"(llama-cpp-python=={LLAMA_CPP_VERSION})"
        )
    _check_struct_layout(g)
    g.ggml_log_set(_log_filter, None)
    return g


_log_state = {"shown": False, "debug": False}


def show_debug_log(on: bool) -> None:
    """Let ggml's debug and info lines through too (the caller decides; the engine reads no env)."""
    _log_state["debug"] = on


@LOG_CALLBACK
def _log_filter(level: int, text: bytes, _user: object) -> None:
    """ggml's messages on stderr: warnings and errors only (`show_debug_log(True)`: all).

    ggml logs at debug level on every step of a GPU backend (a reused CUDA graph, say), and
    llama-cpp-python's own callback prints those unless a `Llama` was made with verbose=False.
    """
    if level == LOG_CONT:
        show = _log_state["shown"]
    else:
        show = level in (LOG_WARN, LOG_ERROR) or _log_state["debug"]
    _log_state["shown"] = show
    if show and text:
        sys.stderr.write(text.decode("utf-8", "replace"))
        sys.stderr.flush()


def _check_struct_layout(g: _Lib) -> None:
    """Create a tensor and read it back through our struct: ne, nb, type and name must agree."""
    ctx = g.ggml_init(ggml_init_params(16 * g.ggml_tensor_overhead(), None, True))
    try:
        t = g.ggml_new_tensor_3d(ctx, TYPE_F16, 7, 5, 3)
        g.ggml_set_name(t, b"layout-probe")
        s = t.contents
        ok = (
            tuple(s.ne) == (7, 5, 3, 1)
            and s.nb[1] == 14
            and s.type == TYPE_F16
            and s.name == b"layout-probe"
            and g.ggml_get_name(t) == b"layout-probe"
        )
    finally:
        g.ggml_free(ctx)
    if not ok:
        raise EngineError("ggml_tensor layout differs from this engine's declaration (wrong ggml build)")


def mark_graph_reusable(graph: int, *, renew: bool = False) -> bool:
    """Give a built, allocated graph that will never change a unique `uid`.

    ggml's CUDA backend replays a captured CUDA graph without comparing every node with the
    previous call when the graph's uid matches the one it captured (what ggml's scheduler does
    for llama.cpp). Our graphs have fixed shapes and addresses, so they qualify. The struct is
    ggml-internal: it is checked against the public accessors first, and a graph whose layout
    does not match is left alone (returns False: still correct, only slower on a GPU).
    `renew` gives a graph that already has a uid a new one (its tensors were placed again at
    other addresses, so a captured CUDA graph of it must not be replayed).
    """
    g = lib()
    s = ggml_cgraph.from_address(graph)
    n = g.ggml_graph_n_nodes(graph)
    if s.n_nodes != n or n == 0 or not s.nodes or s.order not in (0, 1):
        return False
    first = C.cast(s.nodes, C.POINTER(C.c_void_p))[0]
    last = C.cast(s.nodes, C.POINTER(C.c_void_p))[n - 1]
    if first != C.addressof(g.ggml_graph_node(graph, 0).contents) or last != C.addressof(
        g.ggml_graph_node(graph, n - 1).contents
    ):
        return False
    if renew or not s.uid:
        s.uid = g.ggml_graph_next_uid()
    return True
