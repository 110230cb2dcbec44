"""Compute backends and model weights in backend memory.

`Backend` wraps one ggml backend (the CPU, or a GPU where llama-cpp-python was built with
CUDA: `make install GPU=cuda`) and its thread count. The device comes from ggml's backend
registry: `auto` takes the first GPU ggml reports and falls back to the CPU; `gpu` insists
and fails with one line that says why there is none. `Weights` places every tensor of a
validated GGUF file into backend memory: on the CPU the tensors point straight into the
read-only memory map of the file (no copy); on a GPU they are uploaded once from the map.

Knows nothing about the PLT graph: it only owns memory and the compute device.
"""

from __future__ import annotations

import ctypes as C
import os
from dataclasses import dataclass

import numpy as np

from engine import ggml
from engine.errors import EngineError
from engine.gguf_file import ModelFile


def default_threads() -> int:
    """Physical-core count is best for ggml; os.cpu_count() is the portable approximation."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


DEVICES = ("auto", "cpu", "gpu")


@dataclass(frozen=True)
class Device:
    """One device of ggml's backend registry."""

    index: int
    name: str
    kind: int  # ggml.BACKEND_DEVICE_TYPE_*
    description: str = ""


def list_devices() -> list[Device]:
    g = ggml.lib()
    out = []
    for i in range(g.ggml_backend_dev_count()):
        dev = g.ggml_backend_dev_get(i)
        name = (g.ggml_backend_dev_name(dev) or b"").decode()
        desc = (g.ggml_backend_dev_description(dev) or b"").decode()
        out.append(Device(i, name, int(g.ggml_backend_dev_type(dev)), desc))
    return out


def choose_device(devices: list[Device], want: str) -> Device | None:
    """The GPU to run on for `want` (auto/cpu/gpu), or None for the CPU backend.

    A discrete GPU comes before an integrated one; `gpu` with neither raises EngineError.
    """
    if want not in DEVICES:
        raise EngineError(f"device must be auto, cpu or gpu, got {want!r}")
    if want == "cpu":
        return None
    for kind in (ggml.BACKEND_DEVICE_TYPE_GPU, ggml.BACKEND_DEVICE_TYPE_IGPU):
        for dev in devices:
            if dev.kind == kind:
                return dev
    if want == "gpu":
        raise EngineError(no_gpu_reason())
    return None


def no_gpu_reason() -> str:
    libdir = ggml.library_dir()
    found = ggml.gpu_libraries(libdir)
    if not found:
        return (
            f"no GPU backend in this llama-cpp-python build (no libggml-cuda.so in {libdir}): "
            "rebuild it with `make install GPU=cuda`"
        )
    return (
        f"no GPU backend available: llama-cpp-python's {', '.join(found)} finds no GPU "
        "(check `nvidia-smi` and CUDA_VISIBLE_DEVICES)"
    )


def _load_gpu_modules() -> None:
    """A build with GGML_BACKEND_DL=ON keeps its GPU backend out of the registry until loaded."""
    g = ggml.lib()
    libdir = ggml.library_dir()
    for name in ggml.gpu_libraries(libdir):
        try:
            module = C.CDLL(str(libdir / name), mode=getattr(C, "RTLD_GLOBAL", 0))
        except OSError as exc:
            raise EngineError(f"cannot load {name} from {libdir}: {exc}") from None
        if hasattr(module, "ggml_backend_init"):  # only loadable backends export it
            g.ggml_backend_load(str(libdir / name).encode())


class Backend:
    """One ggml compute backend. `device="auto"` prefers a GPU when ggml reports one."""

    def __init__(self, device: str = "auto", threads: int | None = None):
        self.g = ggml.lib()
        self.threads = threads or default_threads()
        self.device: Device | None = None
        self.handle = self._init(device)
        self.is_cpu = bool(self.g.ggml_backend_is_cpu(self.handle))
        if self.is_cpu:
            self.g.ggml_backend_cpu_set_n_threads(self.handle, self.threads)
        self.name = self.g.ggml_backend_name(self.handle).decode()

    def _init(self, device: str) -> int:
        g = self.g
        if device not in DEVICES:
            raise EngineError(f"device must be auto, cpu or gpu, got {device!r}")
        if device != "cpu":
            devices = list_devices()
            if not any(d.kind != ggml.BACKEND_DEVICE_TYPE_CPU for d in devices):
                try:
                    _load_gpu_modules()
                except EngineError:
                    if device == "gpu":
                        raise  # auto: a broken GPU module leaves the CPU
                devices = list_devices()
            self.device = choose_device(devices, device)
            if self.device is not None:
                handle = g.ggml_backend_dev_init(g.ggml_backend_dev_get(self.device.index), None)
                if handle:
                    return handle
                if device == "gpu":
                    raise EngineError(f"ggml could not start its {self.device.name} backend")
                self.device = None
        handle = g.ggml_backend_cpu_init()
        if not handle:
            raise EngineError("ggml could not start its CPU backend")
        return handle

    def compute(self, graph: int) -> None:
        status = self.g.ggml_backend_graph_compute(self.handle, graph)
        if status != ggml.STATUS_SUCCESS:
            raise EngineError(f"ggml graph computation failed with status {status}")

    def unsupported(self, graph: int) -> list[str]:
        """Ops of `graph` this backend cannot run, as `OP(type)` (ggml aborts on them otherwise)."""
        g = self.g
        return unsupported_nodes(graph, lambda t: bool(g.ggml_backend_supports_op(self.handle, t)))

    def close(self) -> None:
        if self.handle:
            self.g.ggml_backend_free(self.handle)
            self.handle = None


def unsupported_nodes(graph: int, supports) -> list[str]:  # noqa: ANN001 - predicate on a tensor
    """Distinct `OP(src0 type)` of the graph's nodes that `supports` rejects, in graph order."""
    g = ggml.lib()
    out: list[str] = []
    for i in range(g.ggml_graph_n_nodes(graph)):
        node = g.ggml_graph_node(graph, i)
        if supports(node):
            continue
        src = node.contents.src[0]
        kind = ggml.ggml_tensor.from_address(src).type if src else node.contents.type
        label = f"{g.ggml_op_desc(node).decode()}({g.ggml_type_name(kind).decode()})"
        if label not in out:
            out.append(label)
    return out


class Weights:
    """Every tensor of a model file as a ggml tensor in backend memory, by GGUF name."""

    def __init__(self, model: ModelFile, backend: Backend):
        self.g = g = ggml.lib()
        self.model = model
        n = len(model.tensors)
        self.ctx = g.ggml_init(ggml.ggml_init_params(n * g.ggml_tensor_overhead() + 1024, None, True))
        if not self.ctx:
            raise EngineError("ggml_init failed for the weight context")
        self.tensors: dict[str, C._Pointer] = {}
        for info in model.tensors.values():
            ne = (C.c_int64 * len(info.shape))(*reversed(info.shape))
            t = g.ggml_new_tensor(self.ctx, info.ggml_type, len(info.shape), ne)
            g.ggml_set_name(t, info.name.encode()[: ggml.MAX_NAME - 1])
            self.tensors[info.name] = t
        self.buffer = self._place_on_cpu() if backend.is_cpu else self._upload(backend)

    def _place_on_cpu(self) -> int:
        """Point each tensor into the memory map of the file: zero copies."""
        g, data = self.g, self.model.data
        base = self.model.data_pointer
        buffer = g.ggml_backend_cpu_buffer_from_ptr(base, len(data))
        for name, info in self.model.tensors.items():
            if (
                g.ggml_backend_tensor_alloc(buffer, self.tensors[name], base + info.offset)
                != ggml.STATUS_SUCCESS
            ):
                raise EngineError(f"{self.model.path}: cannot place tensor {name} in memory")
        return buffer

    def _upload(self, backend: Backend) -> int:
        g = self.g
        buffer = g.ggml_backend_alloc_ctx_tensors(self.ctx, backend.handle)
        if not buffer:
            raise EngineError(f"not enough {backend.name} memory for the weights of {self.model.path}")
        base = self.model.data_pointer
        for name, info in self.model.tensors.items():
            g.ggml_backend_tensor_set(self.tensors[name], base + info.offset, 0, info.nbytes)
        return buffer

    def get(self, name: str) -> C._Pointer:
        return self.tensors[name]

    def nbytes(self) -> int:
        return sum(info.nbytes for info in self.model.tensors.values())

    def close(self) -> None:
        if self.buffer:
            self.g.ggml_backend_buffer_free(self.buffer)
            self.buffer = None
        if self.ctx:
            self.g.ggml_free(self.ctx)
            self.ctx = None


def tensor_to_numpy(t: C._Pointer, dtype: np.dtype = np.float32) -> np.ndarray:
    """Copy an F32/I32 tensor out of backend memory (shape in numpy order)."""
    g = ggml.lib()
    s = t.contents
    shape = tuple(int(x) for x in reversed(s.ne))
    out = np.empty(shape, dtype=dtype)
    g.ggml_backend_tensor_get(t, out.ctypes.data, 0, out.nbytes)
    while out.ndim > 1 and out.shape[0] == 1:
        out = out[0]
    return out
