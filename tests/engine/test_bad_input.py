"""Hostile files and inputs: one clear EngineError (one CLI line), never a crash."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from gguf_rewrite import rewrite_gguf

from engine import api, ggml
from engine.errors import EngineError


@pytest.fixture
def good(tiny_gguf, tmp_path) -> Path:
    return Path(shutil.copy(tiny_gguf("f32"), tmp_path / "good.gguf"))


def _load(path: Path):
    return api.load(path, n_ctx=32, threads=1)


def test_the_rewrite_helper_keeps_a_loadable_file(good, tmp_path):
    with _load(rewrite_gguf(good, tmp_path / "same.gguf")) as m:
        assert m.config.loops == 2


def test_truncated_file(good):
    data = good.read_bytes()
    good.write_bytes(data[: len(data) - 1000])
    with pytest.raises(EngineError, match="past the end of the file"):
        _load(good)


def test_truncated_header(good):
    good.write_bytes(good.read_bytes()[:300])
    with pytest.raises(EngineError, match="truncated"):
        _load(good)


def test_not_a_gguf(tmp_path):
    bad = tmp_path / "x.gguf"
    bad.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(EngineError, match="not a GGUF file"):
        _load(bad)


def test_corrupted_tensor_count(good):
    data = bytearray(good.read_bytes())
    data[8:16] = (10**9).to_bytes(8, "little")  # tensor count
    good.write_bytes(bytes(data))
    with pytest.raises(EngineError, match="corrupt"):
        _load(good)


def test_wrong_architecture(good, tmp_path):
    with pytest.raises(EngineError, match="architecture 'gpt2' is not supported"):
        _load(rewrite_gguf(good, tmp_path / "gpt2.gguf", arch="gpt2"))


def test_missing_tensor(good, tmp_path):
    with pytest.raises(EngineError, match=r"missing tensor blk\.1\.plt_gate\.bias"):
        _load(rewrite_gguf(good, tmp_path / "m.gguf", drop="blk.1.plt_gate.bias"))


def test_wrong_shape(good, tmp_path):
    with pytest.raises(EngineError, match=r"tensor blk\.0\.ffn_up\.weight has shape"):
        _load(rewrite_gguf(good, tmp_path / "s.gguf", reshape="blk.0.ffn_up.weight"))


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ([], "empty"),
        ([0, 384], "out of range"),
        ([-1], "out of range"),
        (list(range(40)), "exceed the context"),
    ],
)
def test_bad_token_ids(good, ids, message):
    with _load(good) as m:
        with pytest.raises(EngineError, match=message):
            m.runner.prefill(ids)
        with pytest.raises(EngineError, match=message if ids else "empty"):
            m.new_session().feed(ids)


def test_cli_prints_one_line_without_traceback(good):
    good.write_bytes(good.read_bytes()[:-500])
    exe = Path(sys.executable).parent / "plt-agent"
    proc = subprocess.run(
        [str(exe), "logits", str(good), "--ids", "1,2", "-o", str(good.parent / "o.npy")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2  # a model that cannot be loaded is a configuration error
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
    assert "truncated" in proc.stderr


def test_ggml_version_mismatch_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(ggml, "GGML_VERSION", "9.9.9")
    ggml.lib.cache_clear()
    try:
        with pytest.raises(EngineError, match=r"ggml 0\.\d+\.\d+ found .* built for ggml 9\.9\.9"):
            ggml.lib()
    finally:
        monkeypatch.undo()
        ggml.lib.cache_clear()
    assert ggml.lib() is not None
