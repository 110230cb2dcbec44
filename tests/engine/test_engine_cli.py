"""The engine's commands through the real CLI: logits (all modes), generate, bench."""

from __future__ import annotations

import json
import statistics

import numpy as np
import pytest
from typer.testing import CliRunner

from engine import api
from engine.errors import EngineError
from engine.reference import reference_logits
from plt_agent.cli import app

runner = CliRunner()
IDS = [5, 77, 300, 12, 9, 250, 33, 1, 64, 128, 200, 7, 99, 3, 42, 17, 301]


@pytest.mark.parametrize("mode", ["full", "decode", "chunks:4"])
def test_logits_command_matches_the_reference(tiny_checkpoint, tiny_gguf, tmp_path, mode):
    out = tmp_path / "l.npy"
    result = runner.invoke(
        app,
        [
            "logits",
            str(tiny_gguf("f32")),
            "--ids",
            ",".join(map(str, IDS)),
            "--mode",
            mode,
            "-o",
            str(out),
            "--threads",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    got = np.load(out)
    ref = reference_logits(tiny_checkpoint(), IDS)
    assert got.dtype == np.float32
    assert got.shape == ref.shape
    assert float(np.abs(got - ref).max() / np.abs(ref).max()) <= 1e-4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "chunks:0"], "--mode must be"),
        (["--mode", "sideways"], "--mode must be"),
        (["--ids", "1,x"], "comma-separated"),
    ],
)
def test_logits_command_rejects_bad_flags(tiny_gguf, tmp_path, args, message):
    base = ["logits", str(tiny_gguf("f32")), "--ids", "1,2", "-o", str(tmp_path / "o.npy")]
    result = runner.invoke(app, base + args)
    assert result.exit_code == 2
    assert message in result.output


def test_generate_streams_the_same_text_as_the_api(tiny_gguf):
    path = tiny_gguf("f32")
    result = runner.invoke(app, ["generate", str(path), "-p", "def add(a, b):", "-n", "12", "--threads", "1"])
    assert result.exit_code == 0, result.output
    with api.load(path, threads=1) as m:
        expected = m.generate(m.tokenizer.encode_prompt("def add(a, b):"), max_tokens=12).text
    assert expected in result.stdout
    assert "generated in" in result.output


def test_bench_engine_json_reports_the_ratios(tiny_gguf):
    result = runner.invoke(
        app,
        [
            "bench",
            "engine",
            str(tiny_gguf("q8_0")),
            "--json",
            "--rounds",
            "2",
            "--prompt-tokens",
            "16",
            "--decode-tokens",
            "3",
            "--threads",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    variants = data["variants"]
    assert set(variants) == {"fused", "serial", "single"}
    # every step of every variant, in turn: a ratio is the median of neighbouring steps' ratios
    fused, single = variants["fused"]["steps_ms"], variants["single"]["steps_ms"]
    assert len(fused) == len(single) == 2 * 3
    assert variants["fused"]["decode_step_ms"] == pytest.approx(statistics.median(fused), abs=1e-3)
    assert data["fused_over_single"] == pytest.approx(
        statistics.median(f / s for f, s in zip(fused, single, strict=True)), rel=1e-3
    )
    serial = variants["serial"]["steps_ms"]
    assert data["serial_over_fused"] == pytest.approx(
        statistics.median(s / f for s, f in zip(serial, fused, strict=True)), rel=1e-3
    )
    assert data["rows_over_single"] > 0
    assert data["yardstick"]["columns"] == 2
    # the global KV grows the same per token with one loop or two: later loops only add a constant ring
    assert variants["fused"]["kv_bytes_per_token"] == variants["single"]["kv_bytes_per_token"]
    assert variants["fused"]["constant_state_bytes"] > variants["single"]["constant_state_bytes"]


def test_asking_for_a_gpu_on_a_cpu_build_is_a_clear_error(tiny_gguf):
    from engine import ggml

    g = ggml.lib()
    has_gpu = any(
        g.ggml_backend_dev_type(g.ggml_backend_dev_get(i)) == ggml.BACKEND_DEVICE_TYPE_GPU
        for i in range(g.ggml_backend_dev_count())
    )
    if has_gpu:
        with api.load(tiny_gguf("f32"), device="gpu") as m:
            assert m.runner.backend.name != "CPU"
    else:
        with pytest.raises(EngineError, match="no GPU backend"):
            api.load(tiny_gguf("f32"), device="gpu")
