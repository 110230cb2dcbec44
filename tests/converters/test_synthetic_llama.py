"""Synthetic llama GGUF files: llama.cpp and our engine both load them and agree on the shapes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from converters.synthetic import Shape, synthetic_config
from converters.synthetic_llama import llama_config, vocabulary, write_synthetic_llama
from engine import api
from engine.gguf_file import open_model

SHAPE = Shape(hidden=256, heads=4, kv_heads=2, intermediate=512, vocab=1024)


@pytest.fixture(scope="module")
def llama_file(tmp_path_factory):
    cfg = replace(synthetic_config(1, SHAPE, loops=2, qtype="q4_k"), num_layers=2)
    return cfg, write_synthetic_llama(tmp_path_factory.mktemp("syn") / "llama.gguf", cfg, qtype="q4_k")


def test_the_file_has_the_plt_shapes_as_a_one_loop_llama(llama_file):
    cfg, path = llama_file
    model = open_model(path)
    got = model.config
    assert got.arch == "llama"
    assert (got.loops, got.gate_mode, got.rope_neox) == (1, "none", False)
    for field in ("hidden_size", "intermediate_size", "num_layers", "num_heads", "num_kv_heads", "head_dim"):
        assert getattr(got, field) == getattr(cfg, field), field
    assert got.vocab_size == SHAPE.vocab
    assert set(model.tensors) == set(llama_config(cfg).tensor_names())
    assert model.tensors["blk.0.ffn_up.weight"].ggml_type == 12  # Q4_K
    assert model.tensors["blk.0.attn_norm.weight"].ggml_type == 0  # vectors stay F32


def test_llama_cpp_and_our_engine_both_run_it(llama_file):
    import llama_cpp

    _, path = llama_file
    ids = [5, 300, 17, 999, 42]
    ll = llama_cpp.Llama(str(path), n_ctx=32, n_threads=1, verbose=False)
    assert ll.n_vocab() == SHAPE.vocab
    ll.eval(ids)
    theirs = np.ctypeslib.as_array(ll._ctx.get_logits(), shape=(SHAPE.vocab,))
    with api.load(path, n_ctx=32, threads=1) as m:
        ours = m.runner.prefill(ids)[-1]
    assert np.isfinite(theirs).all()
    assert np.isfinite(ours).all()
    assert ours.shape == theirs.shape


def test_vocabulary_holds_the_specials_and_the_bytes():
    tokens, types = vocabulary(300)
    assert tokens[:3] == ["<unk>", "<s>", "</s>"]
    assert tokens[3 + 0x0A] == "<0x0A>"
    assert len(tokens) == len(types) == len(set(tokens)) == 300
    with pytest.raises(ValueError, match="at least 259"):
        vocabulary(100)


class _Stop(Exception):
    pass


def _record_llama_kwargs(monkeypatch) -> list[dict]:  # noqa: ANN001
    """Replace llama_cpp.Llama by a recorder of its keyword arguments that stops the bench."""
    import llama_cpp

    seen: list[dict] = []

    def fake_llama(path, **kwargs):  # noqa: ANN001, ANN202
        seen.append(kwargs)
        raise _Stop

    monkeypatch.setattr(llama_cpp, "Llama", fake_llama)
    return seen


def test_bench_offloads_llama_cpp_only_for_a_gpu(monkeypatch, llama_file):
    from engine import bench as benchmarks

    seen = _record_llama_kwargs(monkeypatch)
    _, path = llama_file
    for gpu in (False, True):
        with pytest.raises(_Stop):
            benchmarks._llama_cpp(path, [1, 2], 1, threads=1, rounds=1, ctx=16, gpu=gpu)
    assert "n_gpu_layers" not in seen[0]
    assert "flash_attn" not in seen[0]
    assert seen[1]["n_gpu_layers"] == -1
    assert seen[1]["flash_attn"] is True


def test_bench_gives_llama_cpp_the_same_cache_type(monkeypatch, llama_file):
    from engine import bench as benchmarks

    seen = _record_llama_kwargs(monkeypatch)
    _, path = llama_file
    for kv_type in ("f16", "q8_0"):
        with pytest.raises(_Stop):
            benchmarks._llama_cpp(path, [1, 2], 1, threads=1, rounds=1, ctx=16, kv_type=kv_type)
    assert (seen[0]["type_k"], seen[0]["type_v"]) == (1, 1)  # ggml's F16
    assert "flash_attn" not in seen[0]
    assert (seen[1]["type_k"], seen[1]["type_v"]) == (8, 8)  # Q8_0: llama.cpp needs flash attention
    assert seen[1]["flash_attn"] is True
