"""Sampling rules checked against hand-computed distributions."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import EngineError
from engine.sampling import Sampler, SamplingParams

LOGITS = np.log(np.array([0.5, 0.3, 0.15, 0.05]))  # probabilities 0.5, 0.3, 0.15, 0.05


def _counts(params: SamplingParams, logits=LOGITS, history=(), n: int = 4000) -> np.ndarray:
    sampler = Sampler(params)
    draws = [sampler(logits, history) for _ in range(n)]
    return np.bincount(draws, minlength=len(logits)) / n


def test_greedy_takes_the_argmax():
    assert Sampler(SamplingParams())(np.array([0.1, 2.0, 1.9])) == 1


def test_temperature_one_follows_the_distribution():
    freq = _counts(SamplingParams(temperature=1.0, seed=0))
    assert np.allclose(freq, [0.5, 0.3, 0.15, 0.05], atol=0.03)


def test_top_k_keeps_the_k_most_likely():
    freq = _counts(SamplingParams(temperature=1.0, top_k=2, seed=1))
    assert freq[2] == freq[3] == 0
    assert freq[0] == pytest.approx(0.5 / 0.8, abs=0.03)


def test_top_p_keeps_the_smallest_prefix_reaching_p():
    # 0.5 < 0.7, 0.5 + 0.3 >= 0.7: tokens 0 and 1 only
    freq = _counts(SamplingParams(temperature=1.0, top_p=0.7, seed=2))
    assert freq[2] == freq[3] == 0
    assert freq[1] > 0.3


def test_min_p_drops_tokens_below_a_fraction_of_the_top():
    # 0.2 * 0.5 = 0.1: tokens 0, 1, 2 stay, 3 goes
    freq = _counts(SamplingParams(temperature=1.0, min_p=0.2, seed=3))
    assert freq[3] == 0
    assert freq[2] > 0.1


def test_repeat_penalty_divides_positive_and_multiplies_negative_logits():
    logits = np.array([2.0, 1.9, -1.0])
    assert Sampler(SamplingParams())(logits) == 0
    assert Sampler(SamplingParams(repeat_penalty=1.2))(logits, history=[0]) == 1  # 2.0 / 1.2 < 1.9
    # a negative logit gets more negative: -1.0 * 1.2
    assert Sampler(SamplingParams(repeat_penalty=1.2))(np.array([-1.1, -1.0]), history=[1]) == 0


def test_seed_makes_sampling_reproducible():
    a = _counts(SamplingParams(temperature=1.0, seed=7), n=50)
    b = _counts(SamplingParams(temperature=1.0, seed=7), n=50)
    assert np.array_equal(a, b)


@pytest.mark.parametrize(
    "bad", [dict(temperature=-1), dict(top_p=0), dict(min_p=1.0), dict(top_k=-1), dict(repeat_penalty=0)]
)
def test_invalid_parameters_are_rejected(bad):
    with pytest.raises(EngineError):
        SamplingParams(**bad)
