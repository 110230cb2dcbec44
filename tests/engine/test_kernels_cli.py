"""--kernels on `logits`, `generate` and `bench engine`, and what the bench reports about them."""

from __future__ import annotations

import json
import os
import statistics

import numpy as np
import pytest
from typer.testing import CliRunner

from engine import loopkernels
from plt_agent.cli import app

runner = CliRunner()
IDS = "5,77,300,12,9,250,33,1,64,128,200,7"
needs_lib = pytest.mark.skipif(loopkernels.best_isa() is None, reason="libpltk.so is not built")


def _logits(path, out, kernels: str, mode: str = "decode") -> str:
    args = ["logits", str(path), "--ids", IDS, "--mode", mode, "-o", str(out), "--threads", "1"]
    result = runner.invoke(app, [*args, "--kv-type", "f32", "--kernels", kernels])
    assert result.exit_code == 0, result.output
    return result.output


@needs_lib
@pytest.mark.parametrize("mode", ["decode", "chunks:3"])
def test_logits_with_loop_and_ggml_kernels_pick_the_same_tokens(tiny_gguf, tmp_path, mode):
    path = tiny_gguf("q8_0")
    assert "loop kernels (" in _logits(path, tmp_path / "loop.npy", "loop", mode)
    assert "ggml kernels" in _logits(path, tmp_path / "ggml.npy", "ggml", mode)
    ours, theirs = np.load(tmp_path / "loop.npy"), np.load(tmp_path / "ggml.npy")
    assert ours.shape == theirs.shape == (12, 384)
    assert (ours.argmax(1) == theirs.argmax(1)).all()
    assert float(np.abs(ours - theirs).max() / np.abs(theirs).max()) <= 1e-3


def test_a_bad_kernels_value_is_a_usage_error(tiny_gguf, tmp_path):
    for command in (
        ["logits", str(tiny_gguf("f32")), "--ids", "1,2", "-o", str(tmp_path / "o.npy")],
        ["generate", str(tiny_gguf("f32")), "-p", "x", "-n", "1"],
        ["bench", "engine", str(tiny_gguf("f32"))],
    ):
        result = runner.invoke(app, [*command, "--kernels", "fastest"])
        assert result.exit_code == 2, command
        assert "--kernels must be auto, ggml or loop" in result.output


def test_generate_says_which_kernels_ran(tiny_gguf):
    result = runner.invoke(
        app, ["generate", str(tiny_gguf("q8_0")), "-p", "def f():", "-n", "3", "--kernels", "ggml"]
    )
    assert result.exit_code == 0, result.output
    assert "ggml kernels]" in result.output


def test_loops_goes_with_synthetic_only(tiny_gguf):
    result = runner.invoke(app, ["bench", "engine", str(tiny_gguf("f32")), "--loops", "3"])
    assert result.exit_code == 2
    assert "--loops N (N >= 1) goes with --synthetic" in result.output


@needs_lib
def test_bench_with_loop_kernels_measures_ggml_side_by_side(tiny_gguf):
    args = ["bench", "engine", str(tiny_gguf("q8_0")), "--json", "--rounds", "1", "--prompt-tokens", "8"]
    result = runner.invoke(app, [*args, "--decode-tokens", "2", "--threads", "1", "--kernels", "loop"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    v = data["variants"]
    assert data["kernels"]["kernels"] == "loop"
    assert data["kernels"]["isa"] == (os.environ.get("PLT_AGENT_KERNEL_ISA") or loopkernels.best_isa())
    assert {name: x["kernels"] for name, x in v.items()} == {
        "fused": "loop",
        "serial": "loop",
        "single": "loop",
        "fused_ggml": "ggml",
        "single_ggml": "ggml",
    }
    # ggml's step / ours, each pair of steps taken next to each other, the median
    for name in ("single", "fused"):
        pairs = zip(v[f"{name}_ggml"]["steps_ms"], v[name]["steps_ms"], strict=True)
        assert data[f"{name}_speedup_over_ggml"] == pytest.approx(
            statistics.median(g / o for g, o in pairs), rel=1e-3
        )
    assert data["yardstick_loop"]["columns"] == data["yardstick"]["columns"] == 2


def test_bench_with_ggml_kernels_reports_them(tiny_gguf):
    args = ["bench", "engine", str(tiny_gguf("q8_0")), "--json", "--rounds", "1", "--prompt-tokens", "8"]
    result = runner.invoke(app, [*args, "--decode-tokens", "2", "--threads", "1", "--kernels", "ggml"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["kernels"] == {"kernels": "ggml", "isa": None, "reason": "requested"}
    assert set(data["variants"]) == {"fused", "serial", "single"}
    assert "yardstick_loop" not in data


def test_without_the_library_generate_falls_back_to_ggml_and_says_so_once(
    tiny_gguf, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("PLT_AGENT_KERNELS_LIB", str(tmp_path / "libpltk.so"))  # never built
    monkeypatch.delenv("PLT_AGENT_KERNELS", raising=False)
    monkeypatch.setattr(loopkernels, "_said", set())
    loopkernels._library.cache_clear()
    try:
        for _ in range(2):
            result = runner.invoke(
                app, ["generate", str(tiny_gguf("q8_0")), "-p", "def f():", "-n", "2", "--kernels", "auto"]
            )
            assert result.exit_code == 0, result.output
            assert "ggml kernels]" in result.output
    finally:
        loopkernels._library.cache_clear()
    notices = [r.getMessage() for r in caplog.records if r.name == "engine.kernels"]
    assert len(notices) == 1
    assert "not built" in notices[0]
    assert "using ggml's kernels" in notices[0]
