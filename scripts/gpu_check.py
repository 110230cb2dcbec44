"""The GPU check: the engine's parity and speed on a GPU, as time-boxed stages with a JSON report.

scripts/gpu-check.sh builds ggml with CUDA on the GPU machine and then runs `run`; with
`--cpu` (the dry run) the same stages run here on the CPU backend with small shapes.

    gpu_check.py run --work DIR --report FILE [--cpu] [--deadline EPOCH] [--stages a,b] [--fresh]
                     [--stage-seconds S]
    gpu_check.py stage NAME --work DIR [--cpu]   one stage; DIR/stage-NAME.json grows as it goes
    gpu_check.py models --work DIR [--cpu]       the bench models (the script starts it during the build)
    gpu_check.py probe --libdir DIR              does ggml load from DIR, and see a GPU? (JSON)

Every stage runs in its own process under a time limit; the report is rewritten after each
one (in DIR and at FILE), so a run cut short still returns what it measured, and a second
run skips the stages already done. Stages:
- env: GPU, driver, Python, torch, ggml's devices;
- smoke: `--device auto` takes the GPU; weights and KV cache live in GPU memory; decode runs
  on reused graphs (marked for CUDA-graph replay), no op of them falls back;
- parity-tiny / parity-real: GPU vs the PyTorch reference and vs the CPU on a tiny PLT (F32,
  F16, Q8_0, Q4_K) and on a PLT built from a real small LM (SmolLM2-lite, see gpu_prep.py),
  with the CPU suite's thresholds (tests/engine/test_engine_parity.py, test_engine_real_model.py);
- bench-plt: `bench_engine` at LoopCoder-V2's real shape in Q4_K (fused, serial, single loop;
  decode and prefill; fused/single against the 1.10 target);
- bench-llama: the same shape as a llama GGUF, our single loop against llama.cpp (target 0.95);
- pytest-gpu: the suite's tests marked `gpu`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gpu_stages  # noqa: E402 - beside this file
from gpu_stages import STAGE_FUNCS, Record, write_json  # noqa: E402

# (name, seconds at most on the GPU machine); the run's deadline cuts any of them shorter
STAGES = (
    ("env", 30),
    ("smoke", 90),
    ("parity-tiny", 120),
    ("bench-plt", 180),
    ("bench-llama", 150),
    ("parity-real", 150),
    ("pytest-gpu", 90),
)
DONE = ("ok", "fail")


def run_stage(name: str, work: Path, cpu: bool) -> int:
    rec = Record(work / f"stage-{name}.json")
    _use_libdir_from_env()
    try:
        STAGE_FUNCS[name](rec, work, cpu)
    except BaseException as exc:  # noqa: BLE001 - every failure goes into the report
        rec.set("error", f"{type(exc).__name__}: {exc}")
        rec.set("traceback", traceback.format_exc()[-3000:])
        rec.set("status", "error")
        return 1
    failed = [k for k, ok in rec.data.get("checks", {}).items() if ok is False]
    rec.set("status", "fail" if failed else "ok")
    return 0


# -- the driver -------------------------------------------------------------------------------------------


def summary(report: dict) -> dict:
    """The issue's targets, from whatever stages have results."""
    st = {name: s.get("result", {}) for name, s in report.get("stages", {}).items()}
    checks = {f"{name}: {k}": v for name, r in st.items() for k, v in r.get("checks", {}).items()}
    out: dict = {"failed_checks": [k for k, v in checks.items() if v is False]}
    plt_bench = st.get("bench-plt", {}).get("bench")
    llama_bench = st.get("bench-llama", {}).get("bench")
    if plt_bench:
        v = plt_bench["variants"]
        out["fused_over_single"] = plt_bench.get("fused_over_single")
        out["decode_tok_s"] = {k: round(x["decode_tok_s"], 2) for k, x in v.items()}
        out["prefill_tok_s"] = {k: round(x["prefill_tok_s"], 1) for k, x in v.items()}
    if llama_bench and "llama_cpp" in llama_bench:
        out["llama_cpp"] = {k: round(x, 2) for k, x in llama_bench["llama_cpp"].items()}
        out["ours_over_llamacpp_same_file"] = llama_bench.get("ours_over_llamacpp")
        if plt_bench:
            single = plt_bench["variants"]["single"]["decode_tok_s"]
            out["plt_single_over_llamacpp_same_shape"] = single / llama_bench["llama_cpp"]["decode_tok_s"]
    out["stages"] = {name: s.get("status") for name, s in report.get("stages", {}).items()}
    return out


def run(args: argparse.Namespace) -> int:
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    saved = work / "gpu-check.json"
    report = json.loads(saved.read_text()) if saved.exists() and not args.fresh else {}
    report.update(mode="cpu dry run" if args.cpu else "gpu", host=os.uname().nodename)
    report.setdefault("stages", {})
    if args.build_json and args.build_json.exists():
        report["build"] = json.loads(args.build_json.read_text())
    wanted = args.stages.split(",") if args.stages else [name for name, _ in STAGES]
    deadline = args.deadline or time.time() + 600
    for name, budget in STAGES:
        if name not in wanted or report["stages"].get(name, {}).get("status") in DONE:
            continue
        left = deadline - time.time() - 5
        if left < 15:
            report["stages"][name] = {"status": "skipped", "error": "no time left before the deadline"}
        else:
            seconds = min(left if args.cpu else min(budget, left), args.stage_seconds or left)
            report["stages"][name] = _run_one(name, work, args.cpu, seconds)
        report["summary"] = summary(report)
        report["elapsed_s"] = round(time.time() - args.started, 1)
        for path in (saved, args.report):
            write_json(path, report)
        print(f"gpu-check: {name}: {report['stages'][name]['status']}", flush=True)
    print(json.dumps(report.get("summary", {}), indent=1, default=str), flush=True)
    finished = all(s.get("status") in DONE for s in report["stages"].values())
    return 0 if finished and not report.get("summary", {}).get("failed_checks") else 1


def _run_one(name: str, work: Path, cpu: bool, seconds: float) -> dict:
    cmd = [sys.executable, __file__, "stage", name, "--work", str(work)] + (["--cpu"] if cpu else [])
    log = work / f"stage-{name}.log"
    start = time.time()
    with log.open("w") as out:
        try:
            subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=seconds, check=False)
            status = None
        except subprocess.TimeoutExpired:
            status = "timeout"
    path = work / f"stage-{name}.json"
    result = json.loads(path.read_text()) if path.exists() else {}
    entry = {"status": status or result.get("status", "error"), "seconds": round(time.time() - start, 1)}
    entry["result"] = result
    if entry["status"] not in DONE:
        entry["log_tail"] = log.read_text(errors="replace")[-2000:]
    return entry


def _use_libdir_from_env() -> None:
    """The engine reads no variable: pass PLT_AGENT_GGML_LIBDIR on as the CLI does."""
    libdir = os.environ.get("PLT_AGENT_GGML_LIBDIR")
    if libdir:
        from engine import api

        api.use_ggml_library(libdir)


def probe(libdir: Path) -> dict:
    """Whether ggml loads from `libdir` here and which devices it sees (run in a fresh process)."""
    from dataclasses import asdict

    os.environ["PLT_AGENT_GGML_LIBDIR"] = str(libdir)  # for the stage processes started later
    _use_libdir_from_env()
    from engine import ggml
    from engine.backend import list_devices, no_gpu_reason
    from engine.errors import EngineError

    try:
        version = ggml.lib().ggml_version().decode()
        devices = list_devices()
    except EngineError as exc:
        return {"loads": False, "error": str(exc), "gpu": False}
    gpu = any(d.kind in (ggml.BACKEND_DEVICE_TYPE_GPU, ggml.BACKEND_DEVICE_TYPE_IGPU) for d in devices)
    out = {"loads": True, "ggml": version, "gpu": gpu, "devices": [asdict(d) for d in devices]}
    if not gpu:
        out["no_gpu_reason"] = no_gpu_reason()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    pr = sub.add_parser("probe", help="does ggml load from LIBDIR here, and does it see a GPU? (JSON)")
    pr.add_argument("--libdir", type=Path, required=True)
    for name in ("run", "stage", "models"):
        p = sub.add_parser(name)
        if name == "stage":
            p.add_argument("name", choices=list(STAGE_FUNCS))
        p.add_argument("--work", type=Path, required=True)
        p.add_argument("--cpu", action="store_true", help="the dry run: the CPU backend, small shapes")
        if name == "run":
            p.add_argument("--report", type=Path, required=True)
            p.add_argument("--deadline", type=float, help="epoch seconds by which the run must end")
            p.add_argument("--stages", help="comma-separated subset")
            p.add_argument("--build-json", type=Path)
            p.add_argument("--fresh", action="store_true", help="rerun stages already done")
            p.add_argument("--stage-seconds", type=float, help="cap on every stage's time")
    args = ap.parse_args(argv)
    if args.cmd == "probe":
        result = probe(args.libdir)
        print(json.dumps(result))
        return 0 if result["gpu"] else 1
    args.started = time.time()
    if args.cmd == "stage":
        return run_stage(args.name, args.work, args.cpu)
    if args.cmd == "models":
        gpu_stages.write_models(args.work, args.cpu)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
