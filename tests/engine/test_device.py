"""Device selection and the GPU code path, checked on the CPU where no GPU is present.

The CPU tests cover the choice of device and its error lines, the ggml-internal graph field
that lets ggml's CUDA backend replay a graph (checked against ggml's own scheduler, which
writes it), the op-support check that keeps a GPU backend from aborting, the log filter, and
the device path of `Weights` (upload instead of memory map) run on the CPU backend. Tests
marked `gpu` run the engine on a real GPU and skip without one (tests/conftest.py).
"""

from __future__ import annotations

import ctypes as C
import subprocess
import sys

import numpy as np
import pytest

from engine import api, ggml
from engine.backend import Backend, Device, Weights, choose_device, list_devices, unsupported_nodes
from engine.errors import EngineError
from engine.gguf_file import open_model
from engine.graph import Plan
from engine.runtime import Runner

CPU, GPU, IGPU = ggml.BACKEND_DEVICE_TYPE_CPU, ggml.BACKEND_DEVICE_TYPE_GPU, ggml.BACKEND_DEVICE_TYPE_IGPU
IDS = [int(x) for x in np.random.default_rng(4).integers(0, 384, size=23)]


def _has_gpu() -> bool:
    return any(d.kind in (GPU, IGPU) for d in list_devices())


# -- choosing a device ------------------------------------------------------------------------------------


def test_auto_and_gpu_take_a_discrete_gpu_before_an_integrated_one():
    devices = [Device(0, "CPU", CPU), Device(1, "iGPU", IGPU), Device(2, "CUDA0", GPU)]
    assert choose_device(devices, "auto").name == "CUDA0"
    assert choose_device(devices, "gpu").name == "CUDA0"
    assert choose_device(devices[:2], "gpu").name == "iGPU"
    assert choose_device(devices, "cpu") is None


def test_auto_falls_back_to_the_cpu():
    assert (
        choose_device([Device(0, "CPU", CPU), Device(1, "BLAS", ggml.BACKEND_DEVICE_TYPE_IGPU + 1)], "auto")
        is None
    )


def test_gpu_on_a_cpu_build_says_how_to_get_one(monkeypatch, tmp_path):
    monkeypatch.setattr(ggml, "library_dir", lambda: tmp_path)
    with pytest.raises(
        EngineError, match=r"no GPU backend in this llama-cpp-python build .*make install GPU=cuda"
    ):
        choose_device([Device(0, "CPU", CPU)], "gpu")


def test_gpu_with_a_cuda_build_but_no_device_says_so(monkeypatch, tmp_path):
    (tmp_path / "libggml-cuda.so").write_bytes(b"")
    monkeypatch.setattr(ggml, "library_dir", lambda: tmp_path)
    with pytest.raises(
        EngineError, match=r"no GPU backend available: .*libggml-cuda.so finds no GPU.*nvidia-smi"
    ):
        choose_device([Device(0, "CPU", CPU)], "gpu")


def test_a_gpu_library_that_cannot_load_is_one_line(monkeypatch, tmp_path):
    """The registry has no GPU, so a loadable backend module is tried; a broken one is reported."""
    if _has_gpu():
        pytest.skip("a GPU is present: the module path is not taken")
    (tmp_path / "libggml-cuda.so").write_bytes(b"not an ELF file")
    monkeypatch.setattr(ggml, "library_dir", lambda: tmp_path)
    with pytest.raises(EngineError, match=r"cannot load libggml-cuda.so from "):
        Backend("gpu")
    auto = Backend("auto", threads=1)  # auto runs on the CPU instead
    assert auto.is_cpu
    auto.close()


def test_unknown_device_names_are_refused():
    with pytest.raises(EngineError, match="device must be auto, cpu or gpu"):
        Backend("cuda:0")
    with pytest.raises(EngineError, match="device must be auto, cpu or gpu"):
        choose_device([], "tpu")


def test_this_build_reports_its_devices():
    devices = list_devices()
    assert any(d.kind == CPU for d in devices)
    backend = Backend("auto", threads=1)
    try:
        assert backend.is_cpu == (not _has_gpu())
        assert (backend.device is None) == backend.is_cpu
    finally:
        backend.close()


def test_device_gpu_on_this_cpu_build_is_one_clear_line(tiny_gguf):
    if _has_gpu():
        pytest.skip("this llama-cpp-python has a GPU backend")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "plt_agent.cli",
            "generate",
            str(tiny_gguf("f32")),
            "-p",
            "hi",
            "--device",
            "gpu",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "no GPU backend" in lines[0]
    assert "make install GPU=cuda" in lines[0]
    assert "Traceback" not in out.stderr


# -- graphs a GPU replays ---------------------------------------------------------------------------------


def _small_graph(g):  # noqa: ANN001, ANN202
    ctx = g.ggml_init(
        ggml.ggml_init_params(
            64 * g.ggml_tensor_overhead() + g.ggml_graph_overhead_custom(64, False), None, True
        )
    )
    a = g.ggml_new_tensor_1d(ctx, ggml.TYPE_F32, 8)
    g.ggml_set_input(a)
    graph = g.ggml_new_graph_custom(ctx, 64, False)
    g.ggml_build_forward_expand(graph, g.ggml_scale(ctx, g.ggml_add(ctx, a, a), 0.5))
    return ctx, graph


def test_the_graph_uid_field_is_the_one_ggml_scheduler_writes():
    """ggml_backend_sched gives a graph a uid; our struct must read it where ggml wrote it."""
    g = ggml.lib()
    sched_new = g._find("ggml_backend_sched_new")
    sched_new.restype, sched_new.argtypes = (
        C.c_void_p,
        [C.POINTER(C.c_void_p), C.c_void_p, C.c_int, C.c_size_t, C.c_bool, C.c_bool],
    )
    alloc = g._find("ggml_backend_sched_alloc_graph")
    alloc.restype, alloc.argtypes = C.c_bool, [C.c_void_p, C.c_void_p]
    free = g._find("ggml_backend_sched_free")
    free.restype, free.argtypes = None, [C.c_void_p]
    backend = Backend("cpu", threads=1)
    ctx, graph = _small_graph(g)
    handles = (C.c_void_p * 1)(backend.handle)
    sched = sched_new(handles, None, 1, 64, False, False)
    try:
        assert ggml.ggml_cgraph.from_address(graph).uid == 0
        assert alloc(sched, graph)
        first = ggml.ggml_cgraph.from_address(graph).uid
        assert first != 0
        g._find("ggml_backend_sched_reset").argtypes = [C.c_void_p]
        g._find("ggml_backend_sched_reset")(sched)
        assert alloc(sched, graph)
        assert ggml.ggml_cgraph.from_address(graph).uid > first
    finally:
        free(sched)
        g.ggml_free(ctx)
        backend.close()


def test_built_graphs_get_distinct_uids_once(tiny_gguf):
    with api.load(tiny_gguf("f32"), n_ctx=64, threads=1) as m:
        r = m.runner
        graphs = [r._graph(Plan("decode", 1, 64)), r._graph(Plan("prefill", 5, 64))]
        uids = [ggml.ggml_cgraph.from_address(b.graph).uid for b in graphs]
        assert all(uids)
        assert uids[0] != uids[1]
        assert ggml.mark_graph_reusable(graphs[0].graph)  # already marked: kept, not renumbered
        assert ggml.ggml_cgraph.from_address(graphs[0].graph).uid == uids[0]
        # one compute buffer: the decode graph placed again after the prefill has new addresses,
        # so it gets a new uid (a GPU must not replay its old capture); run again in place, it keeps it
        again = ggml.ggml_cgraph.from_address(r._graph(Plan("decode", 1, 64)).graph).uid
        assert again not in uids
        assert ggml.ggml_cgraph.from_address(r._graph(Plan("decode", 1, 64)).graph).uid == again


def test_a_graph_that_is_not_a_ggml_graph_is_left_alone():
    junk = (C.c_char * 128)()
    C.memset(junk, 0x7F, 128)
    assert not ggml.mark_graph_reusable(C.addressof(junk))
    assert bytes(junk) == b"\x7f" * 128


# -- ops a backend cannot run -------------------------------------------------------------------------------


def test_unsupported_nodes_names_each_rejected_op_once(tiny_gguf):
    with api.load(tiny_gguf("f16"), n_ctx=64, threads=1, kernels="ggml") as m:  # ggml's attention ops
        graph = m.runner._graph(Plan("decode", 1, 64)).graph
        assert m.runner.backend.unsupported(graph) == []  # the CPU runs everything
        g = ggml.lib()
        no_fa = unsupported_nodes(graph, lambda t: g.ggml_op_desc(t) != b"FLASH_ATTN_EXT")
        assert no_fa == ["FLASH_ATTN_EXT(f32)"]  # the query is f32; one label for every layer
        everything = unsupported_nodes(graph, lambda t: False)
        assert "MUL_MAT(f16)" in everything
        assert len(everything) == len(set(everything))


def _device_path_runner(path, monkeypatch=None, unsupported=None):  # noqa: ANN001, ANN202
    """A Runner on the CPU backend that takes the code path of a GPU backend."""
    backend = Backend("cpu", threads=1)
    backend.is_cpu = False  # weights are uploaded, graphs are support-checked
    if unsupported is not None:
        monkeypatch.setattr(backend, "unsupported", lambda graph: unsupported)
    model = open_model(path)
    weights = Weights(model, backend)
    return Runner(model, n_ctx=64, backend=backend, weights=weights), backend, weights


def test_the_device_path_uploads_weights_and_computes_the_same_logits(tiny_gguf):
    path = tiny_gguf("f16")
    with api.load(path, n_ctx=64, threads=1, kernels="ggml") as m:  # what a GPU backend runs
        want_prefill = m.runner.prefill(IDS, chunk=7, all_logits=True)
        m.runner.reset()
        want_decode = np.stack([m.runner.decode(t) for t in IDS])
    runner, backend, weights = _device_path_runner(path)
    try:
        g = ggml.lib()
        assert (
            g.ggml_backend_buffer_get_base(weights.buffer) != runner.model.data_pointer
        )  # a copy, not the map
        got_prefill = runner.prefill(IDS, chunk=7, all_logits=True)
        runner.reset()
        got_decode = np.stack([runner.decode(t) for t in IDS])
    finally:
        runner.close()
        weights.close()
        backend.close()
    np.testing.assert_array_equal(got_prefill, want_prefill)
    np.testing.assert_array_equal(got_decode, want_decode)


def test_a_graph_the_backend_cannot_run_is_an_error_not_an_abort(tiny_gguf, monkeypatch):
    runner, backend, weights = _device_path_runner(tiny_gguf("f16"), monkeypatch, ["FLASH_ATTN_EXT(f32)"])
    try:
        with pytest.raises(
            EngineError, match=r"the CPU backend cannot run FLASH_ATTN_EXT\(f32\) .*--device cpu"
        ):
            runner.decode(3)
        assert not runner._graphs
    finally:
        runner.close()
        weights.close()
        backend.close()


# -- ggml's log -------------------------------------------------------------------------------------------


def test_ggml_log_shows_warnings_and_hides_per_step_debug_lines(capsys, monkeypatch):
    g = ggml.lib()
    log = g._find("ggml_log_internal")  # variadic: a plain format string and no arguments
    log(C.c_int(ggml.LOG_DEBUG), b"CUDA Graph id 7 reused\n")
    log(C.c_int(ggml.LOG_INFO), b"ggml_cuda_init: found 1 CUDA devices\n")
    log(C.c_int(ggml.LOG_WARN), b"a warning\n")
    log(C.c_int(ggml.LOG_CONT), b"its continuation\n")
    log(C.c_int(ggml.LOG_ERROR), b"an error\n")
    assert capsys.readouterr().err == "a warning\nits continuation\nan error\n"
    ggml.show_debug_log(True)
    try:
        log(C.c_int(ggml.LOG_DEBUG), b"CUDA Graph id 8 reused\n")
    finally:
        ggml.show_debug_log(False)
    assert capsys.readouterr().err == "CUDA Graph id 8 reused\n"


# -- on a real GPU ----------------------------------------------------------------------------------------


@pytest.mark.gpu
def test_gpu_holds_weights_and_state_in_device_memory(tiny_gguf):
    g = ggml.lib()
    auto = Backend("auto")
    assert not auto.is_cpu
    auto.close()
    with api.load(
        tiny_gguf("f16", hidden=256, heads=4, kv_heads=2, head_dim=64, intermediate=512),
        n_ctx=64,
        device="gpu",
    ) as m:
        r = m.runner
        assert not g.ggml_backend_buffer_is_host(r.weights.buffer)
        assert not g.ggml_backend_buffer_is_host(r.state.buffer)
        r.prefill(IDS[:8])
        for t in IDS[8:]:
            r.decode(t)
        assert all(ggml.ggml_cgraph.from_address(b.graph).uid for b in r._graphs.values())


@pytest.mark.gpu
@pytest.mark.parametrize("outtype", ["f32", "f16"])
@pytest.mark.parametrize("mode", ["full", "decode"])
def test_gpu_matches_the_cpu(tiny_gguf, tiny_checkpoint, outtype, mode):
    from engine.reference import reference_logits

    shapes = dict(hidden=256, heads=4, kv_heads=2, head_dim=64, intermediate=512)  # ggml-cuda's FA sizes
    path = tiny_gguf(outtype, **shapes)

    def run(device: str) -> np.ndarray:
        with api.load(path, n_ctx=64, device=device) as m:
            if mode == "full":
                return m.runner.prefill(IDS, chunk=len(IDS), all_logits=True)
            return np.stack([m.runner.decode(t) for t in IDS])

    gpu, cpu = run("gpu"), run("cpu")
    if outtype == "f32":
        ref = reference_logits(tiny_checkpoint(**shapes), IDS)
        assert np.abs(gpu - ref).max() / np.abs(ref).max() <= 1e-4
    assert np.abs(gpu - cpu).max() / np.abs(cpu).max() <= 1e-2
