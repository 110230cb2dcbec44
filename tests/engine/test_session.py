"""Sessions: prefix reuse, divergence (snapshot restore + replay), save/load, generation."""

from __future__ import annotations

import numpy as np
import pytest

from engine import api
from engine.errors import EngineError
from engine.runtime import Runner
from engine.session import Session, common_prefix


def _ids(n: int, seed: int) -> list[int]:
    return [int(x) for x in np.random.default_rng(seed).integers(0, 384, size=n)]


def _fresh_last_logits(path, ids: list[int]) -> np.ndarray:
    with api.load(path, n_ctx=128, threads=1) as m:
        return m.runner.prefill(ids, chunk=13)[-1]


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return float(np.abs(a - b).max() / np.abs(b).max()) <= 1e-4


@pytest.fixture
def model(tiny_gguf):
    with api.load(tiny_gguf("f32"), n_ctx=128, threads=1) as m:
        yield m


def test_common_prefix():
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix([1, 2], [1, 2, 3]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([5], [6]) == 0


def test_extending_a_prompt_reuses_the_cache_and_matches_a_fresh_run(model, tiny_gguf):
    a, b = _ids(30, 1), _ids(9, 2)
    s = model.new_session()
    s.feed(a)
    logits, reused = s.feed(a + b)
    assert reused == len(a)
    assert _close(logits, _fresh_last_logits(tiny_gguf("f32"), a + b))


def test_conversation_after_generation_matches_a_fresh_run(model, tiny_gguf):
    a = _ids(20, 3)
    s = model.new_session()
    gen = s.generate(a, api.SamplingParams(temperature=0.0), model.tokenizer, max_tokens=12)
    follow = a + gen.token_ids + _ids(7, 4)
    logits, reused = s.feed(follow)
    assert reused >= len(a) + len(gen.token_ids) - 1
    assert _close(logits, _fresh_last_logits(tiny_gguf("f32"), follow))


def test_diverging_prompt_truncates_to_the_common_prefix(model, tiny_gguf):
    a = _ids(25, 5)
    s = model.new_session()
    s.feed(a + _ids(15, 6))
    other = a + _ids(6, 7)
    logits, reused = s.feed(other)
    assert reused == len(a)
    assert _close(logits, _fresh_last_logits(tiny_gguf("f32"), other))


def test_going_back_into_decoded_tokens_restores_rings_and_carries(tiny_gguf):
    path = tiny_gguf("f32", loops=3)
    with api.load(path, n_ctx=128, threads=1) as m:
        s = Session(m.runner, snapshot_every=8)
        prompt = _ids(5, 8)
        s.feed(prompt)
        for t in _ids(30, 9):
            s.step(t)
        kept = s.tokens[:21]  # between snapshots: restore the one at 16, replay 5 tokens
        other = kept + _ids(4, 10)
        logits, reused = s.feed(other)
    assert reused == 21
    assert _close(logits, _fresh_last_logits(path, other))


def test_without_snapshots_a_rewind_would_be_wrong(tiny_gguf):
    """Guard for the test above: keeping the rings/carries of a later position gives other logits."""
    path = tiny_gguf("f32", loops=3)
    with api.load(path, n_ctx=128, threads=1) as m:
        r: Runner = m.runner
        seq = _ids(35, 11)
        r.prefill(seq)
        r.state.n_past = 21  # wrong: rings and carries still hold position 34's state
        stale = r.prefill(_ids(4, 10))[-1]
    assert not _close(stale, _fresh_last_logits(path, seq[:21] + _ids(4, 10)))


def test_save_and_load_a_session(model, tiny_gguf, tmp_path):
    a, b = _ids(33, 12), _ids(5, 13)
    s = model.new_session()
    s.feed(a)
    s.save(tmp_path / "s.npz")
    with api.load(tiny_gguf("f32"), n_ctx=128, threads=1) as other:
        s2 = other.new_session()
        s2.load(tmp_path / "s.npz")
        assert s2.tokens == a
        logits, reused = s2.feed(a + b)
    assert reused == len(a)
    assert _close(logits, _fresh_last_logits(tiny_gguf("f32"), a + b))


def test_loading_a_session_of_another_model_is_refused(model, tiny_gguf, tmp_path):
    s = model.new_session()
    s.feed(_ids(10, 14))
    s.save(tmp_path / "s.npz")
    with (
        api.load(tiny_gguf("f32", loops=3), n_ctx=128, threads=1) as other,
        pytest.raises(EngineError, match="different"),
    ):
        other.new_session().load(tmp_path / "s.npz")


def test_generation_stops_on_a_stop_string_and_streams_the_same_text(model):
    s = model.new_session()
    pieces: list[str] = []
    full = s.generate(_ids(10, 15), api.SamplingParams(), model.tokenizer, max_tokens=40)
    assert full.finish_reason in ("length", "eos")
    if len(full.text) < 6:
        pytest.skip("greedy text too short to cut")  # pragma: no cover - depends on the random model
    stop = full.text[3:6]
    s2 = model.new_session()
    cut = s2.generate(
        _ids(10, 15), api.SamplingParams(), model.tokenizer, max_tokens=40, stop=[stop], on_text=pieces.append
    )
    assert cut.finish_reason == "stop"
    assert cut.text == full.text[: full.text.find(stop)]
    assert "".join(pieces) == cut.text


def test_seeded_sampling_is_reproducible(model):
    params = api.SamplingParams(temperature=1.0, top_k=50, top_p=0.9, seed=42)
    one = model.new_session().generate(_ids(8, 16), params, model.tokenizer, max_tokens=15)
    two = model.new_session().generate(_ids(8, 16), params, model.tokenizer, max_tokens=15)
    assert one.token_ids == two.token_ids


def test_context_overflow_is_an_error_not_a_truncation(tiny_gguf):
    with (
        api.load(tiny_gguf("f32"), n_ctx=16, threads=1) as m,
        pytest.raises(EngineError, match="exceed the context size of 16"),
    ):
        m.new_session().feed(_ids(17, 17))
