"""`make install GPU=cuda` and scripts/cuda-cmake-args.sh, checked without building anything."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARGS = REPO / "scripts" / "cuda-cmake-args.sh"


def _fake_nvidia_smi(bin_dir: Path, caps: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / "nvidia-smi"
    tool.write_text(f"#!/bin/sh\nprintf '{caps}'\n")
    tool.chmod(0o755)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CUDA_ARCHS", "CUDA_HOME", "CUDA_PATH")}
    env["PATH"] = f"{tmp_path / 'bin'}:{env['PATH']}"
    return env | extra


def _args(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", str(ARGS)], capture_output=True, text=True, env=_env(tmp_path, **extra))


def _toolkit(root: Path, cublas: bool) -> Path:
    (root / "include").mkdir(parents=True)
    (root / "include" / "cuda_runtime.h").write_text("")
    if cublas:
        (root / "include" / "cublas_v2.h").write_text("")
    return root


def test_architectures_come_from_the_gpus_present(tmp_path):
    _fake_nvidia_smi(tmp_path / "bin", "9.0\\n8.6\\n9.0\\n")
    out = _args(tmp_path, CUDA_HOME=str(_toolkit(tmp_path / "cuda", cublas=True)))
    assert out.returncode == 0, out.stderr
    assert "-DGGML_CUDA=ON" in out.stdout.split()
    assert "-DCMAKE_CUDA_ARCHITECTURES=86;90" in out.stdout.split()


def test_cuda_archs_overrides_the_gpus_present(tmp_path):
    _fake_nvidia_smi(tmp_path / "bin", "9.0\\n")
    out = _args(tmp_path, CUDA_ARCHS="80", CUDA_HOME=str(_toolkit(tmp_path / "cuda", cublas=True)))
    assert "-DCMAKE_CUDA_ARCHITECTURES=80" in out.stdout.split()


def test_without_a_gpu_or_archs_ggml_picks_its_portable_list(tmp_path):
    _fake_nvidia_smi(tmp_path / "bin", "")
    out = _args(tmp_path, CUDA_HOME=str(_toolkit(tmp_path / "cuda", cublas=True)))
    assert "CMAKE_CUDA_ARCHITECTURES" not in out.stdout
    assert "default architecture list" in out.stderr


def test_cublas_missing_from_the_toolkit_is_taken_from_the_python_wheel(tmp_path):
    _fake_nvidia_smi(tmp_path / "bin", "9.0\\n")
    wheel = tmp_path / "site" / "nvidia" / "cu13"
    (wheel / "include").mkdir(parents=True)
    (wheel / "lib").mkdir()
    (wheel / "include" / "cublas_v2.h").write_text("")
    for lib in ("libcublas.so.13", "libcublasLt.so.13"):
        (wheel / "lib" / lib).write_text("")
    toolkit = _toolkit(tmp_path / "cuda", cublas=False)
    out = _args(tmp_path, CUDA_HOME=str(toolkit), PYTHONPATH=str(tmp_path / "site"))
    assert out.returncode == 0, out.stderr
    words = out.stdout.split()
    assert f"-DCUDA_cublas_LIBRARY={wheel}/lib/libcublas.so.13" in words
    assert f"-DCUDA_cublasLt_LIBRARY={wheel}/lib/libcublasLt.so.13" in words
    assert f"-DCMAKE_CUDA_FLAGS=-I{wheel}/include" in words
    no_wheel = _args(tmp_path, CUDA_HOME=str(toolkit), PYTHONPATH="")
    assert no_wheel.returncode == 3
    assert "no cuBLAS found" in no_wheel.stderr


def _make(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = ["make", "-s", "--no-print-directory", "-C", str(REPO), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=_env(tmp_path))


def test_make_install_gpu_cuda_builds_llama_cpp_python_with_cuda(tmp_path):
    _fake_nvidia_smi(tmp_path / "bin", "9.0\\n")
    venv = tmp_path / "venv"
    cuda = _make(tmp_path, "-n", "install", "GPU=cuda", f"VENV={venv}")
    assert cuda.returncode == 0, cuda.stderr
    lines = cuda.stdout.splitlines()
    pip_line = next(line for line in lines if "pip install -q" in line and "llama-cpp-python" in line)
    assert "-DGGML_CUDA=ON" in pip_line
    assert "-DCMAKE_CUDA_ARCHITECTURES=90" in pip_line
    assert "--force-reinstall" in pip_line  # replaces a CPU build
    assert "--no-cache-dir" in pip_line  # not pip's cached CPU wheel
    assert "libggml-cuda.so" in cuda.stdout  # a CPU build does not count as installed
    assert f"touch {venv}/.plt-agent-installed-cuda" in cuda.stdout


def test_the_cpu_build_stays_the_default(tmp_path):
    _fake_nvidia_smi(tmp_path / "bin", "9.0\\n")
    cpu = _make(tmp_path, "-n", "install", f"VENV={tmp_path / 'venv'}")
    assert cpu.returncode == 0, cpu.stderr
    assert "GGML_CUDA" not in cpu.stdout
    assert "--force-reinstall" not in cpu.stdout
    assert "-DGGML_NATIVE=OFF" in cpu.stdout


@pytest.mark.parametrize("gpu", ["rocm", "CUDA"])
def test_an_unknown_gpu_kind_is_refused(tmp_path, gpu):
    out = _make(tmp_path, "cmake-args", f"GPU={gpu}")
    assert out.returncode != 0
    assert "GPU must be cuda" in out.stderr
