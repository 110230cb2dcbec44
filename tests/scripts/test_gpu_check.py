"""The GPU check's pieces on the CPU: the stage driver, its report and targets, the stages' dry
run, the trimmed llama-cpp-python source and the small real model that travel to the GPU."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"


def _load(name: str):  # noqa: ANN202 - a module
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


gpu_check = _load("gpu_check")
gpu_stages = sys.modules["gpu_stages"]
gpu_prep = _load("gpu_prep")


def _driver(work: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(SCRIPTS / "gpu_check.py"), "run", "--work", str(work)]
    cmd += ["--report", str(work / "report.json"), "--cpu", *args]
    env = dict(os.environ, PLT_AGENT_THREADS="1")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


# -- the report's targets --------------------------------------------------------------------------------


def _bench(fused: float, single: float) -> dict:
    variants = {
        name: {"decode_tok_s": 1000 / ms, "prefill_tok_s": 500.0, "decode_step_ms": ms}
        for name, ms in (("fused", fused), ("serial", 2 * fused), ("single", single))
    }
    return {"variants": variants, "fused_over_single": fused / single}


def test_summary_holds_the_issue_targets():
    report = {
        "stages": {
            "parity-real": {"status": "fail", "result": {"checks": {"q8_0 top-1": False, "f32": True}}},
            "smoke": {"status": "ok", "result": {"checks": {"auto takes the GPU": None}}},
            "bench-plt": {"status": "ok", "result": {"bench": _bench(fused=4.4, single=4.0)}},
            "bench-llama": {
                "status": "ok",
                "result": {
                    "bench": {
                        "llama_cpp": {"decode_tok_s": 200.0, "prefill_tok_s": 9000.0},
                        "ours_over_llamacpp": 1.2,
                    }
                },
            },
        }
    }
    s = gpu_check.summary(report)
    assert s["failed_checks"] == ["parity-real: q8_0 top-1"]  # None (not applicable) is no failure
    assert s["fused_over_single"] == pytest.approx(1.1)
    assert s["decode_tok_s"] == {"fused": pytest.approx(227.27, abs=0.01), "serial": 113.64, "single": 250.0}
    assert s["plt_single_over_llamacpp_same_shape"] == pytest.approx(250.0 / 200.0)
    assert s["ours_over_llamacpp_same_file"] == 1.2
    assert s["stages"] == {"parity-real": "fail", "smoke": "ok", "bench-plt": "ok", "bench-llama": "ok"}


def test_a_record_is_on_disk_after_every_change(tmp_path):
    rec = gpu_stages.Record(tmp_path / "s.json")
    assert json.loads((tmp_path / "s.json").read_text()) == {"status": "running"}
    rec.set("x", np.float32(0.5))
    rec.check("fine", True)
    rec.check("broken", False)
    assert json.loads((tmp_path / "s.json").read_text()) == {
        "status": "running",
        "x": 0.5,
        "checks": {"fine": True, "broken": False},
    }


# -- the driver --------------------------------------------------------------------------------------------


def test_the_driver_writes_a_report_after_each_stage_and_skips_done_ones(tmp_path):
    first = _driver(tmp_path, "--stages", "env", timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["mode"] == "cpu dry run"
    assert report["stages"]["env"]["status"] == "ok"
    assert report["stages"]["env"]["result"]["ggml"] == "0.25.3"
    assert json.loads((tmp_path / "gpu-check.json").read_text()) == report
    stamp = (tmp_path / "stage-env.json").stat().st_mtime_ns
    again = _driver(tmp_path, "--stages", "env", timeout=120)
    assert again.returncode == 0
    assert "gpu-check: env:" not in again.stdout  # done before: not run again
    assert (tmp_path / "stage-env.json").stat().st_mtime_ns == stamp
    fresh = _driver(tmp_path, "--stages", "env", "--fresh", timeout=120)
    assert "gpu-check: env: ok" in fresh.stdout
    assert (tmp_path / "stage-env.json").stat().st_mtime_ns != stamp


def test_a_stage_past_its_time_is_cut_and_the_rest_still_reported(tmp_path):
    out = _driver(tmp_path, "--stages", "smoke,env", "--stage-seconds", "0.3", timeout=120)
    assert out.returncode == 1
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["stages"]["smoke"]["status"] == "timeout"
    assert "log_tail" in report["stages"]["smoke"]
    assert report["stages"]["env"]["status"] in ("ok", "timeout")  # env is quick, but the machine is shared


def test_no_time_left_skips_the_stages(tmp_path):
    out = _driver(tmp_path, "--stages", "env", "--deadline", str(time.time()), timeout=60)
    assert out.returncode == 1
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["stages"]["env"] == {"status": "skipped", "error": "no time left before the deadline"}


def test_a_stage_that_raises_is_reported_with_its_error(tmp_path, monkeypatch):
    def broken(rec, work, cpu):  # noqa: ANN001, ANN202
        rec.set("before", 1)
        raise RuntimeError("kernel exploded")

    monkeypatch.setitem(gpu_check.STAGE_FUNCS, "env", broken)
    assert gpu_check.run_stage("env", tmp_path, cpu=True) == 1
    data = json.loads((tmp_path / "stage-env.json").read_text())
    assert data["status"] == "error"
    assert data["before"] == 1
    assert data["error"] == "RuntimeError: kernel exploded"


# -- the stages in the dry run ------------------------------------------------------------------------------


@pytest.mark.slow
def test_parity_tiny_passes_on_the_cpu_and_can_fail(tmp_path, monkeypatch):
    monkeypatch.setenv("PLT_AGENT_THREADS", "1")
    assert gpu_check.run_stage("parity-tiny", tmp_path, cpu=True) == 0
    data = json.loads((tmp_path / "stage-parity-tiny.json").read_text())
    assert data["status"] == "ok"
    assert len(data["checks"]) == 6
    assert all(data["checks"].values())
    assert data["f32 decode"]["vs_reference"] <= 1e-4
    monkeypatch.setattr(gpu_stages, "F32_MAX", 1e-9)  # no engine is that exact: the check must fail
    gpu_check.run_stage("parity-tiny", tmp_path, cpu=True)
    assert json.loads((tmp_path / "stage-parity-tiny.json").read_text())["status"] == "fail"


@pytest.mark.slow
def test_the_bench_stages_run_on_the_cpu(tmp_path, monkeypatch):
    monkeypatch.setenv("PLT_AGENT_THREADS", "1")
    gpu_stages.write_models(tmp_path, cpu=True)
    for name in ("bench-plt", "bench-llama"):
        assert gpu_check.run_stage(name, tmp_path, cpu=True) == 0, name
    plt = json.loads((tmp_path / "stage-bench-plt.json").read_text())
    assert set(plt["bench"]["variants"]) == {"fused", "serial", "single"}
    assert plt["checks"] == {"fused / single <= 1.1": None}  # a GPU target: not judged on the CPU
    llama = json.loads((tmp_path / "stage-bench-llama.json").read_text())
    assert llama["ours_over_llamacpp"] > 0


def test_the_bench_shape_is_loopcoder_v2s():
    cfg = gpu_stages.bench_config(cpu=False)
    shape = (cfg.hidden_size, cfg.intermediate_size, cfg.num_layers, cfg.num_heads, cfg.num_kv_heads)
    assert shape == (5120, 27648, 14, 40, 8)
    assert (cfg.head_dim, cfg.vocab_size, cfg.loops, cfg.window) == (128, 76800, 2, 64)


def test_probe_tells_whether_ggml_loads_and_sees_a_gpu(tmp_path):
    import llama_cpp

    def probe(libdir: Path) -> tuple[int, dict]:
        cmd = [sys.executable, str(SCRIPTS / "gpu_check.py"), "probe", "--libdir", str(libdir)]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        return out.returncode, json.loads(out.stdout)

    rc, here = probe(Path(llama_cpp.__file__).parent / "lib")
    assert (rc, here["loads"], here["gpu"], here["ggml"]) == (1, True, False, "0.25.3")
    rc, empty = probe(tmp_path)
    assert (rc, empty["loads"]) == (1, False)
    assert "no libggml.so" in empty["error"]


# -- what travels ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "kept"),
    [
        ("vendor/llama.cpp/ggml/src/ggml-cuda/fattn.cu", True),
        ("vendor/llama.cpp/ggml/src/ggml-cpu/ggml-cpu.c", True),
        ("vendor/llama.cpp/ggml/src/ggml.c", True),
        ("vendor/llama.cpp/src/llama.cpp", True),
        ("llama_cpp/llama.py", True),
        ("CMakeLists.txt", True),
        ("vendor/llama.cpp/ggml/src/ggml-vulkan/ggml-vulkan.cpp", False),
        ("vendor/llama.cpp/models/ggml-vocab-llama-bpe.gguf", False),
        ("vendor/llama.cpp/docs/build.md", False),
        ("vendor/llama.cpp/tests/test-backend-ops.cpp", False),
        ("llama_cpp/server/app.py", False),
    ],
)
def test_the_trimmed_source_keeps_what_a_cuda_build_needs(path, kept):
    assert gpu_prep.keep_member(path) is kept


def test_trim_sdist_rewrites_only_the_kept_files(tmp_path):
    sdist = tmp_path / "sdist.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        for name, body in (("CMakeLists.txt", b"project(x)"), ("vendor/llama.cpp/docs/a.md", b"doc")):
            info = tarfile.TarInfo(f"{gpu_prep.SDIST}/{name}")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    out = tmp_path / "src.tar.xz"
    assert gpu_prep.trim_sdist(sdist, out) == 1
    with tarfile.open(out) as tar:
        assert tar.getnames() == [f"{gpu_prep.SDIST}/CMakeLists.txt"]
        assert tar.extractfile(tar.getmembers()[0]).read() == b"project(x)"


@pytest.mark.slow
def test_a_trimmed_smollm2_computes_the_same_logits_for_the_tokens_it_keeps(smollm2_gguf, tmp_path):
    from engine import api

    with api.load(smollm2_gguf, n_ctx=128, threads=2) as m:
        ids = m.tokenizer.encode(gpu_prep.TEXT)[:60]
        full = m.runner.prefill(ids, chunk=60, all_logits=True)
    keep = gpu_prep.lite_tokens(ids)
    assert len(keep) == gpu_prep.LITE_VOCAB
    all_layers = gpu_prep.trim_llama_gguf(smollm2_gguf, tmp_path / "all.gguf", list(range(30)), keep, ids)
    short = gpu_prep.trim_llama_gguf(smollm2_gguf, tmp_path / "short.gguf", [0, 1, 2], keep, ids)
    from gguf import GGUFReader

    renumbered = [int(i) for i in GGUFReader(all_layers).fields[gpu_prep.TEXT_IDS_KEY].contents()]
    assert renumbered == [keep.index(i) for i in ids]
    with api.load(all_layers, n_ctx=128, threads=2) as m:
        assert m.config.vocab_size == len(keep)
        got = m.runner.prefill(renumbered, chunk=60, all_logits=True)
    np.testing.assert_allclose(got, full[:, keep], rtol=1e-5, atol=1e-4)
    with api.load(short, n_ctx=128, threads=2) as m:
        assert m.config.num_layers == 3
        assert not np.allclose(m.runner.prefill(renumbered, chunk=60, all_logits=True), got, atol=1e-2)
    assert short.stat().st_size < all_layers.stat().st_size


# -- the whole script, dry ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_dry_run_builds_the_package_layout_and_runs_the_stages(tmp_path):
    """gpu-check.sh --dry-run with a carried source holding only the Python package."""
    import llama_cpp

    carry = tmp_path / "carry"
    carry.mkdir()
    package = Path(llama_cpp.__file__).parent
    with tarfile.open(carry / "llama-cpp-python-src.tar.xz", "w:xz") as tar:
        for f in package.glob("*.py"):
            tar.add(f, arcname=f"{gpu_prep.SDIST}/llama_cpp/{f.name}")
    with tarfile.open(carry / gpu_prep.PREBUILT_NAME, "w:xz") as tar:  # libraries that load but see no GPU
        for f in (package / "lib").glob("lib*.so*"):
            tar.add(f, arcname=f.name, recursive=False)
    env = dict(
        os.environ,
        GPU_CHECK_CARRY=str(carry),
        GPU_CHECK_WORK=str(tmp_path / "work"),
        GPU_CHECK_ONLY="env,smoke",
        GPU_CHECK_NO_CONFIGURE="1",  # the carried source here has no ggml to configure
        PYTHON=sys.executable,
        PLT_AGENT_THREADS="1",
        OUT=str(tmp_path / "out"),
    )
    script = ["bash", str(SCRIPTS / "gpu-check.sh"), "--dry-run"]
    out = subprocess.run(script, capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    report = json.loads((tmp_path / "out" / "gpu-check.json").read_text())
    assert report["build"]["dry_run"] is True
    assert report["build"]["status"] == "configure-skipped (GPU_CHECK_NO_CONFIGURE)"
    assert {k: v["status"] for k, v in report["stages"].items()} == {"env": "ok", "smoke": "ok"}
    probe = report["build"]["prebuilt"]
    assert probe["loads"] is True
    assert probe["gpu"] is False
    assert "no libggml-cuda.so" in probe["no_gpu_reason"]
    libdir = tmp_path / "work" / "site" / "llama_cpp" / "lib"
    assert report["stages"]["env"]["result"]["ggml_libdir"] == str(libdir)  # the assembled package is used
    assert (libdir / "libggml.so").exists()
    assert (tmp_path / "out" / "gpu-check.log").read_text().count("gpu-check [") >= 3
