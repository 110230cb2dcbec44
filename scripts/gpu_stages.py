"""The GPU check's stages: each one measures one thing and records it as it goes.

A stage is `stage_NAME(rec, work, cpu)`: it writes results and named checks (True, False, or
None where a check does not apply, as GPU-only checks in the CPU dry run) to `rec`, which
rewrites its JSON file on every change, so a stage killed at its time limit still leaves what
it measured. `gpu_check.py` runs each one in its own process; see its docstring for the list.
Thresholds are the CPU suite's (tests/engine/test_engine_parity.py, test_engine_real_model.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CARRY = Path(os.environ.get("GPU_CHECK_CARRY", REPO / ".gpu"))  # what gpu_prep.py made
for extra in (REPO, REPO / "scripts", REPO / "tests" / "engine"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))


# the CPU suite's thresholds
F32_MAX, F16_MAX, TOP1_MIN, MARGIN = 1e-4, 1e-2, 0.98, 0.5
FUSED_OVER_SINGLE_MAX, VS_LLAMA_CPP_MIN = 1.10, 0.95
TINY = dict(hidden=256, heads=4, kv_heads=2, head_dim=64, intermediate=512)  # ggml-cuda's FA: head_dim 64+
TYPES = ("f32", "f16", "q8_0", "q4_k")

# -- the report -----------------------------------------------------------------------------------------


class Record:
    """A stage's result dict, rewritten to its JSON file on every change."""

    def __init__(self, path: Path):
        self.path, self.data = path, {"status": "running"}
        self.save()

    def set(self, key: str, value: object) -> None:
        self.data[key] = value
        self.save()

    def check(self, name: str, ok: bool | None) -> None:
        self.data.setdefault("checks", {})[name] = ok
        self.save()

    def save(self) -> None:
        write_json(self.path, self.data)


def write_json(path: Path, data: object) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=_plain))
    os.replace(tmp, path)


def _plain(x: object) -> object:
    return x.item() if hasattr(x, "item") else str(x)


# -- shared helpers ---------------------------------------------------------------------------------------


def device(cpu: bool) -> str:
    return "cpu" if cpu else "gpu"


def rel_err(a, ref) -> float:  # noqa: ANN001 - arrays
    import numpy as np

    return float(np.abs(a - ref).max() / np.abs(ref).max())


def confident(ref):  # noqa: ANN001, ANN201 - arrays
    import numpy as np

    top2 = np.sort(ref, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0] >= MARGIN


def top1(a, b, mask=None) -> float:  # noqa: ANN001 - arrays
    agree = a.argmax(1) == b.argmax(1)
    return float(agree[mask].mean() if mask is not None else agree.mean())


def logits(path: Path, ids: list[int], mode: str, dev: str, n_ctx: int) -> object:
    """float32 logits of every position: full prefill, decode step by step, or chunks:N."""
    import numpy as np

    from engine import api

    with api.load(path, n_ctx=n_ctx, device=dev) as m:
        r = m.runner
        if mode == "full":
            return r.prefill(ids, chunk=len(ids), all_logits=True)
        if mode.startswith("chunks:"):
            return r.prefill(ids, chunk=int(mode.split(":")[1]), all_logits=True)
        return np.stack([r.decode(t) for t in ids])


def tiny_gguf(work: Path, outtype: str) -> tuple[Path, Path]:
    from converters.convert import convert
    from converters.tiny import make_tiny

    ckpt = work / "tiny"
    if not (ckpt / "config.json").exists():
        make_tiny(ckpt, **TINY)
    out = work / f"tiny-{outtype}.gguf"
    if not out.exists():
        convert(ckpt, out, outtype)
    return ckpt, out


# -- stages ---------------------------------------------------------------------------------------------


def stage_env(rec: Record, work: Path, cpu: bool) -> None:
    import ctypes as C
    from dataclasses import asdict

    from engine import ggml
    from engine.backend import list_devices

    rec.set("python", sys.version.split()[0])
    query = "name,compute_cap,memory.total,driver_version"
    smi = subprocess.run(
        ["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"], capture_output=True, text=True
    ) if _have("nvidia-smi") else None  # fmt: skip
    rec.set("nvidia_smi", smi.stdout.strip() if smi else None)
    try:
        import torch

        rec.set("torch", f"{torch.__version__} cuda={torch.cuda.is_available()}")
    except ImportError:
        rec.set("torch", None)
    rec.set("ggml", ggml.lib().ggml_version().decode())
    rec.set("ggml_libdir", str(ggml.library_dir()))
    rec.set("gpu_libraries", ggml.gpu_libraries())
    devices = [asdict(d) for d in list_devices()]
    g = ggml.lib()
    for d in devices:  # free and total memory as ggml sees them
        free, total = C.c_size_t(), C.c_size_t()
        g.ggml_backend_dev_memory(g.ggml_backend_dev_get(d["index"]), C.byref(free), C.byref(total))
        d["memory_gib"] = [round(free.value / 2**30, 1), round(total.value / 2**30, 1)]
    rec.set("devices", devices)
    rec.check("a GPU device in ggml's registry", None if cpu else any(d["kind"] != 0 for d in devices))


def _have(cmd: str) -> bool:
    from shutil import which

    return which(cmd) is not None


def stage_smoke(rec: Record, work: Path, cpu: bool) -> None:
    import statistics

    import numpy as np

    from engine import api, ggml
    from engine.backend import Backend

    g = ggml.lib()
    auto = Backend("auto")
    rec.set("auto_backend", auto.name)
    rec.check("--device auto takes the GPU", None if cpu else not auto.is_cpu)
    auto.close()
    _, path = tiny_gguf(work, "f16")
    ids = [int(x) for x in np.random.default_rng(1).integers(0, 384, size=48)]
    with api.load(path, n_ctx=256, device=device(cpu)) as m:
        r = m.runner
        rec.set("backend", r.backend.name)
        rec.set("device", r.backend.device.description if r.backend.device else "CPU")
        on_host = {
            "weights": bool(g.ggml_backend_buffer_is_host(r.weights.buffer)),
            "kv_ring_carry": bool(g.ggml_backend_buffer_is_host(r.state.buffer)),
        }
        rec.set("buffers_on_host", on_host)
        rec.check("weights and KV cache in GPU memory", None if cpu else not any(on_host.values()))
        out = r.prefill(ids[:16])
        times, seen = [], []
        token = int(np.argmax(out[-1]))
        counter = ggml.LOG_CALLBACK(lambda level, text, _: seen.append(text or b""))  # kept alive
        g.ggml_log_set(counter, None)
        try:  # ggml-cuda logs each CUDA-graph replay of a graph with a uid at debug level
            for _ in range(32):
                start = time.perf_counter()
                token = int(np.argmax(r.decode(token)))
                times.append(time.perf_counter() - start)
        finally:
            g.ggml_log_set(ggml._log_filter, None)
        rec.set("tiny_decode_ms", round(statistics.median(times[4:]) * 1e3, 3))
        replays = sum(b"CUDA Graph id" in t and b"reused" in t for t in seen)
        rec.set("cuda_graph_log", {"replays": replays, "warmups": sum(b"warmup complete" in t for t in seen)})
        rec.check("decode steps replay a CUDA graph", None if cpu else replays >= 28)
        graphs = list(r._graphs.values())
        rec.set("graphs", len(graphs))
        rec.check(
            "built graphs marked for reuse", all(ggml.ggml_cgraph.from_address(b.graph).uid for b in graphs)
        )
        rec.set("unsupported_ops", sorted({op for b in graphs for op in r.backend.unsupported(b.graph)}))
        rec.check("logits finite", bool(np.isfinite(r.decode(token)).all()))


def stage_parity_tiny(rec: Record, work: Path, cpu: bool) -> None:
    import numpy as np

    from engine.reference import reference_logits

    ids = [int(x) for x in np.random.default_rng(0).integers(0, 384, size=37)]
    ref = None
    for outtype in TYPES:
        ckpt, path = tiny_gguf(work, outtype)
        if ref is None:
            ref = reference_logits(ckpt, ids)
        for mode in ("full", "decode", "chunks:5"):
            dev = logits(path, ids, mode, device(cpu), 64)
            host = dev if cpu else logits(path, ids, mode, "cpu", 64)
            row = {
                "vs_reference": rel_err(dev, ref),
                "vs_cpu": rel_err(dev, host),
                "cpu_vs_reference": rel_err(host, ref),
            }
            rec.set(f"{outtype} {mode}", row)
            # Random tiny logits are flat, so quantized types are judged on parity-real. F16's
            # rounding grows with width: this tiny (wide enough for ggml-cuda's attention) misses
            # 1e-2 of the reference on the CPU too, so F16 is held to 1e-2 of the CPU engine.
            if outtype == "f32":
                rec.check(f"f32 {mode} <= {F32_MAX:g} of the reference", row["vs_reference"] <= F32_MAX)
            elif outtype == "f16":
                rec.check(f"f16 {mode} <= {F16_MAX:g} of the CPU engine", row["vs_cpu"] <= F16_MAX)


def prepare_parity_real(work: Path) -> tuple[Path, list[int]]:
    """The PLT made from SmolLM2-lite, its reference logits and its GGUFs but Q4_K (which needs
    ggml, so waits for the build): CPU work the script does while ggml compiles."""
    import gpu_prep
    import numpy as np
    from gguf import GGUFReader
    from realistic import write_checkpoint  # tests/engine/realistic.py

    from converters.convert import convert
    from engine.reference import reference_logits

    lite = CARRY / gpu_prep.LITE_NAME
    ids = [int(i) for i in GGUFReader(lite).fields[gpu_prep.TEXT_IDS_KEY].contents()]
    ckpt = work / "real-plt"
    if not (work / "real-ref.npy").exists():
        write_checkpoint(lite, ckpt, plt=True)
        np.save(work / "real-ref.tmp.npy", reference_logits(ckpt, ids))
        os.replace(work / "real-ref.tmp.npy", work / "real-ref.npy")
    for outtype in ("f32", "f16", "q8_0"):
        if not (work / f"real-{outtype}.gguf").exists():
            convert(ckpt, work / f"real-{outtype}.gguf", outtype)
    return ckpt, ids


def stage_parity_real(rec: Record, work: Path, cpu: bool) -> None:
    import numpy as np

    from converters.convert import convert

    wait_for_background(work)
    ckpt, ids = prepare_parity_real(work)
    ref = np.load(work / "real-ref.npy")
    sure = confident(ref)
    rec.set("tokens", len(ids))
    rec.set("confident_positions", float(sure.mean()))
    for outtype in TYPES:
        path = work / f"real-{outtype}.gguf"
        if not path.exists():
            convert(ckpt, path, outtype)
        dev = logits(path, ids, "decode", device(cpu), 256)  # the fused decode path
        host = dev if cpu else logits(path, ids, "decode", "cpu", 256)
        full = logits(path, ids, "chunks:48", device(cpu), 256)
        row = {
            "top1_vs_reference_confident": top1(dev, ref, sure),
            "cpu_top1_vs_reference_confident": top1(host, ref, sure),
            "top1_vs_cpu": top1(dev, host),
            "top1_vs_cpu_confident": top1(dev, host, sure),
            "decode_vs_cpu": rel_err(dev, host),
            "prefill_vs_reference": rel_err(full, ref),
        }
        rec.set(outtype, row)
        if outtype in ("f32", "f16"):
            limit = F32_MAX if outtype == "f32" else F16_MAX
            rec.check(
                f"{outtype} prefill <= {limit:g} of the reference", row["prefill_vs_reference"] <= limit
            )
        elif outtype == "q8_0":
            rec.check(
                f"q8_0 top-1 = reference's >= {TOP1_MIN}", row["top1_vs_reference_confident"] >= TOP1_MIN
            )
        else:  # no CPU bar for Q4_K: the GPU must pick the CPU's token
            rec.check(f"q4_k top-1 = CPU's >= {TOP1_MIN}", row["top1_vs_cpu_confident"] >= TOP1_MIN)


# -- the benchmarks -------------------------------------------------------------------------------------


def bench_config(cpu: bool):  # noqa: ANN201 - PLTConfig
    """LoopCoder-V2's real shape (plt-model.md §1) on a GPU; a small one for the CPU dry run.

    `plt-agent bench engine --synthetic loopcoder-v2 --type q4_k` (branch kernels) makes the same.
    """
    from converters.synthetic import Shape, synthetic_config

    shape = Shape(512, 8, 2, 1536, 4096) if cpu else Shape(5120, 40, 8, 27648, 76800)
    cfg = synthetic_config(1, shape, loops=2, qtype="q4_k")
    return replace(cfg, num_layers=2 if cpu else 14, window=64, context_length=4096)


def write_models(work: Path, cpu: bool) -> None:
    """Everything the later stages need that ggml is not needed for (the background job)."""
    from converters.synthetic import write_synthetic
    from converters.synthetic_llama import write_synthetic_llama

    cfg = bench_config(cpu)
    for name, writer in (("bench-plt", write_synthetic), ("bench-llama", write_synthetic_llama)):
        path = work / f"{name}.gguf"
        if not path.exists():
            writer(path, cfg, qtype="q4_k")
    import gpu_prep

    if (CARRY / gpu_prep.LITE_NAME).exists():  # else parity-real reports it missing
        prepare_parity_real(work)


def wait_for_background(work: Path) -> None:
    """Let the background job (gpu-check.sh starts it during the build) finish first."""
    pid_file = work / "models.pid"
    while pid_file.exists() and _alive(int(pid_file.read_text().strip() or 0)):
        time.sleep(0.5)


def _bench_model(work: Path, name: str, cpu: bool) -> Path:
    wait_for_background(work)
    path = work / f"{name}.gguf"
    if not path.exists():
        write_models(work, cpu)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return pid > 0


def _bench_args(cpu: bool) -> dict:
    return (
        dict(prompt_tokens=32, decode_tokens=4, rounds=1)
        if cpu
        else dict(prompt_tokens=256, decode_tokens=32, rounds=3)
    )


def stage_bench_plt(rec: Record, work: Path, cpu: bool) -> None:
    from engine.bench import bench_engine

    path = _bench_model(work, "bench-plt", cpu)
    rec.set("model_mib", round(path.stat().st_size / 2**20))
    res = bench_engine(path, device=device(cpu), llama_cpp=False, **_bench_args(cpu))
    rec.set("bench", res)
    rec.set("fused_over_single", res["fused_over_single"])
    rec.check(
        f"fused / single <= {FUSED_OVER_SINGLE_MAX}",
        None if cpu else res["fused_over_single"] <= FUSED_OVER_SINGLE_MAX,
    )


def stage_bench_llama(rec: Record, work: Path, cpu: bool) -> None:
    from engine.bench import bench_engine

    path = _bench_model(work, "bench-llama", cpu)
    res = bench_engine(path, device=device(cpu), llama_cpp=True, **_bench_args(cpu))
    rec.set("bench", res)
    rec.set("ours_over_llamacpp", res["ours_over_llamacpp"])
    rec.check(
        f"our single loop >= {VS_LLAMA_CPP_MIN} x llama.cpp",
        None if cpu else res["ours_over_llamacpp"] >= VS_LLAMA_CPP_MIN,
    )


def stage_pytest_gpu(rec: Record, work: Path, cpu: bool) -> None:
    """The suite's tests marked `gpu` (they skip without a GPU, as in the dry run)."""
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-m",
        "gpu",
        "-p",
        "no:cacheprovider",
        "tests/engine/test_device.py",
    ]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    rec.set("returncode", out.returncode)
    rec.set("summary", (out.stdout.strip().splitlines() or [""])[-1])
    rec.set("output_tail", out.stdout[-2500:] + out.stderr[-500:])
    rec.check("the suite's gpu tests pass", None if cpu else out.returncode == 0)


STAGE_FUNCS = {
    "env": stage_env,
    "smoke": stage_smoke,
    "parity-tiny": stage_parity_tiny,
    "parity-real": stage_parity_real,
    "pytest-gpu": stage_pytest_gpu,
    "bench-plt": stage_bench_plt,
    "bench-llama": stage_bench_llama,
}
