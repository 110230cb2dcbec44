"""`bench engine --synthetic SIZE` through the CLI: a random-weight model of about that size is
written once into the model cache and benchmarked as fused, serial and single-loop decode."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from plt_agent.cli import app

runner = CliRunner()
ARGS = ["bench", "engine", "--synthetic", "300M", "--rounds", "1", "--prompt-tokens", "4"]
ARGS += ["--decode-tokens", "2", "--threads", "2", "--json"]


@pytest.mark.slow
def test_bench_synthetic_writes_a_model_of_the_size_once_and_benches_every_variant(tmp_path, monkeypatch):
    monkeypatch.setenv("PLT_AGENT_HOME", str(tmp_path))
    first = runner.invoke(app, ARGS)
    assert first.exit_code == 0, first.output
    result = json.loads(first.stdout[first.stdout.index("{") :])
    files = list((tmp_path / "bench").glob("*.gguf"))
    assert [str(f) for f in files] == [result["model"]]
    size_mib = files[0].stat().st_size / 2**20
    assert 0.8 * 300 <= size_mib <= 1.2 * 300  # "300M" means 300 MiB of weights
    assert result["loops"] == 2
    assert {"fused", "serial", "single"} <= set(result["variants"])
    assert result["fused_over_single"] > 0
    written = files[0].stat().st_mtime_ns

    again = runner.invoke(app, ARGS)
    assert again.exit_code == 0, again.output
    assert files[0].stat().st_mtime_ns == written  # cached, not written again
