"""Which kernels a runner gets: --kernels auto / ggml / loop, the fallback and its one notice."""

from __future__ import annotations

import logging

import pytest

from engine import api, loopkernels
from engine.errors import EngineError

needs_lib = pytest.mark.skipif(loopkernels.best_isa() is None, reason="libpltk.so is not built")


@pytest.fixture
def missing_library(monkeypatch, tmp_path):
    """The library as on a machine where `make install` could not build it."""
    monkeypatch.setenv("PLT_AGENT_KERNELS_LIB", str(tmp_path / "libpltk.so"))
    monkeypatch.setattr(loopkernels, "_said", set())
    loopkernels._library.cache_clear()
    yield
    monkeypatch.undo()
    loopkernels._library.cache_clear()


def test_without_the_library_auto_falls_back_to_ggml_and_says_so_once(missing_library, caplog, monkeypatch):
    monkeypatch.delenv("PLT_AGENT_KERNELS", raising=False)
    with caplog.at_level(logging.WARNING, logger="engine.kernels"):
        first = loopkernels.select("auto")
        second = loopkernels.select("auto")
    assert first.name == second.name == "ggml"
    assert "not built" in first.reason
    notices = [r for r in caplog.records if r.name == "engine.kernels"]
    assert len(notices) == 1
    assert "using ggml's kernels" in notices[0].getMessage()


def test_an_unloadable_library_also_falls_back(missing_library, monkeypatch):
    monkeypatch.delenv("PLT_AGENT_KERNELS", raising=False)
    loopkernels.library_path().write_bytes(b"not a shared library")
    chosen = loopkernels.select("auto")
    assert chosen.name == "ggml"
    assert "cannot be loaded" in chosen.reason
    with pytest.raises(EngineError, match="cannot be loaded"):
        loopkernels.select("loop")


@needs_lib
def test_a_library_of_another_version_also_falls_back(monkeypatch):
    monkeypatch.delenv("PLT_AGENT_KERNELS", raising=False)
    monkeypatch.setattr(loopkernels, "ABI", loopkernels.ABI + 1)
    loopkernels._library.cache_clear()
    try:
        chosen = loopkernels.select("auto")
    finally:
        loopkernels._library.cache_clear()
    assert chosen.name == "ggml"
    assert "another version" in chosen.reason


def test_without_the_library_an_explicit_loop_is_an_error(missing_library):
    with pytest.raises(EngineError, match="not built"):
        loopkernels.select("loop")


def test_ggml_is_always_available_and_silent(missing_library, caplog):
    with caplog.at_level(logging.WARNING, logger="engine.kernels"):
        assert loopkernels.select("ggml").name == "ggml"
    assert not caplog.records


def test_bad_choices_are_one_line_errors():
    with pytest.raises(EngineError, match="kernels must be one of auto, ggml, loop"):
        loopkernels.select("fast")
    with pytest.raises(EngineError, match="CPU backend only"):
        loopkernels.select("loop", cpu=False)
    assert loopkernels.select("auto", cpu=False).name == "ggml"


def test_the_environment_sets_the_default(monkeypatch):
    monkeypatch.setenv("PLT_AGENT_KERNELS", "ggml")
    assert loopkernels.select(None).name == "ggml"
    assert loopkernels.select(None) == loopkernels.GGML


@needs_lib
def test_auto_takes_the_best_instruction_set_and_isa_caps_it(monkeypatch):
    monkeypatch.delenv("PLT_AGENT_KERNELS", raising=False)
    monkeypatch.delenv("PLT_AGENT_KERNEL_ISA", raising=False)
    best = loopkernels.best_isa()
    chosen = loopkernels.select("auto")
    if best == "scalar":  # a CPU without AVX2: auto keeps ggml's SIMD kernels
        assert chosen.name == "ggml"
    else:
        assert chosen == loopkernels.Kernels("loop", best)
    assert loopkernels.select("loop", isa="scalar") == loopkernels.Kernels("loop", "scalar")
    with pytest.raises(EngineError, match="instruction set must be one of"):
        loopkernels.select("loop", isa="sse9")


@needs_lib
def test_a_runner_reports_its_kernels(tiny_gguf):
    with api.load(tiny_gguf("q8_0"), n_ctx=32, threads=1, kernels="loop") as m:
        assert m.runner.kernels.name == "loop"
        assert m.runner.kernels.describe()["isa"] in loopkernels.ISAS
    with api.load(tiny_gguf("q8_0"), n_ctx=32, threads=1, kernels="ggml") as m:
        assert m.runner.kernels.describe() == {"kernels": "ggml", "isa": None, "reason": "requested"}
