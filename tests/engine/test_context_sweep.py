"""`bench engine --context-sweep` and the KV-cache type options of the engine's commands."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from engine import api
from engine.api import context_sweep, parse_contexts
from plt_agent.cli import app
from plt_agent.config import load_config

runner = CliRunner()
HD32 = dict(head_dim=32, max_position=4096)


def test_parse_contexts():
    assert parse_contexts("512,2k,8K,32k") == [512, 2048, 8192, 32768]
    assert parse_contexts("1k, 256,1k") == [256, 1024]
    for bad in ("", "x", "1.5q", "1"):
        with pytest.raises(ValueError):
            parse_contexts(bad)


@pytest.mark.parametrize("fill", ["prefill", "direct"])
def test_sweep_reports_every_length(tiny_gguf, fill):
    result = context_sweep(
        tiny_gguf("q8_0", **HD32), [64, 300], kv_type="q8_0", fill=fill, chunk=32, decode_tokens=3, threads=1
    )
    assert [row["context"] for row in result["rows"]] == [64, 300]
    for row in result["rows"]:
        ours = row["ours"]
        assert ours["decode_tok_s"] > 0
        assert ours["prefill_tok_s"] > 0
        assert ours["prefill_tokens"] == (row["context"] if fill == "prefill" else 32)
        assert ours["kv_bytes_per_token"] == 2 * 2 * 68  # layers x (K+V) x one q8_0 row of 64
        assert "llama_cpp" not in row  # a PLT file: llama.cpp cannot load it


def test_sweep_marks_a_length_that_does_not_fit(tiny_gguf):
    result = context_sweep(
        tiny_gguf("f32", **HD32), [128, 4000], decode_tokens=2, threads=1, fill="direct", memory_limit="4M"
    )
    small, big = result["rows"]
    assert "decode_tok_s" in small["ours"]
    assert "needs" in big["ours"]["error"]


def test_context_sweep_command_prints_a_table(tiny_gguf):
    result = runner.invoke(
        app,
        [
            "bench",
            "engine",
            str(tiny_gguf("f32", **HD32)),
            "--context-sweep",
            "64,128",
            "--decode-tokens",
            "2",
            "--threads",
            "1",
            "--kv-type",
            "f16",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "decode" in result.output
    assert "128" in result.output


def test_context_sweep_json_and_bad_lengths(tiny_gguf):
    base = ["bench", "engine", str(tiny_gguf("f32", **HD32)), "--threads", "1", "--decode-tokens", "2"]
    sweep = ["--context-sweep", "96", "--json", "--fill", "direct", "--chunk", "16"]
    result = runner.invoke(app, [*base, *sweep])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["fill"] == "direct"
    assert data["rows"][0]["ours"]["prefill_tokens"] == 16
    bad = runner.invoke(app, [*base, "--context-sweep", "lots"])
    assert bad.exit_code == 2
    assert "--context-sweep" in bad.output


@pytest.mark.parametrize("kv_type", ["f16", "q8_0"])
def test_logits_command_takes_a_cache_type(tiny_gguf, tmp_path, kv_type):
    path, out = tiny_gguf("f32", **HD32), tmp_path / "l.npy"
    ids = [5, 77, 300, 12, 9, 250, 33, 1, 64, 128]
    result = runner.invoke(
        app, ["logits", str(path), "--ids", ",".join(map(str, ids)), "-o", str(out), "--kv-type", kv_type]
    )
    assert result.exit_code == 0, result.output
    with api.load(path, n_ctx=len(ids), kv_type=kv_type) as m:
        want = m.runner.prefill(ids, chunk=len(ids), all_logits=True)
    assert np.allclose(np.load(out), want, rtol=0, atol=1e-5)


def test_generate_refuses_an_unknown_cache_type(tiny_gguf):
    result = runner.invoke(app, ["generate", str(tiny_gguf("f32")), "-p", "x", "--kv-type", "q3"])
    assert result.exit_code == 2
    assert "kv cache type must be one of" in result.output


def test_the_agent_config_carries_the_cache_type(tmp_path, monkeypatch):
    monkeypatch.setenv("PLT_AGENT_KV_TYPE", "q8_0")
    assert load_config(tmp_path).kv_type == "q8_0"
    monkeypatch.setenv("PLT_AGENT_KV_TYPE", "q2_k")
    with pytest.raises(Exception, match="kv_type must be one of"):
        load_config(tmp_path)


def test_the_plt_backend_loads_with_the_configured_cache_type(tiny_gguf):
    from plt_agent.models import ModelOptions, load_model

    model = load_model(f"plt:{tiny_gguf('f32', **HD32)}", ModelOptions(kv_type="q8_0", threads=1))
    assert model._model.runner.state.kv_type_name == "q8_0"


def test_plot_is_a_png_or_a_clear_error_without_matplotlib(tiny_gguf, tmp_path):
    import importlib.util

    out = tmp_path / "sweep.png"
    args = ["bench", "engine", str(tiny_gguf("f32", **HD32)), "--threads", "1", "--decode-tokens", "2"]
    result = runner.invoke(app, [*args, "--context-sweep", "64", "--plot", str(out)])
    if importlib.util.find_spec("matplotlib") is None:
        assert result.exit_code == 2
        assert "needs matplotlib" in result.output
        assert "context 64" not in result.output  # refused before the sweep ran
        assert not out.exists()
    else:
        assert result.exit_code == 0, result.output
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
