"""Choosing the next token from logits: greedy, temperature, top-k, top-p, min-p, repetition penalty.

Pure numpy over one logits row. `Sampler` holds the random generator (seeded for
reproducibility). Knows nothing about models or text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.errors import EngineError


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.0  # 0 means greedy
    top_k: int = 0  # 0 means off
    top_p: float = 1.0
    min_p: float = 0.0
    repeat_penalty: float = 1.0  # 1 means off; applied to tokens in the last `repeat_last_n`
    repeat_last_n: int = 64
    seed: int | None = None

    def __post_init__(self) -> None:
        checks = [
            (self.temperature >= 0, "temperature must be >= 0"),
            (self.top_k >= 0, "top_k must be >= 0"),
            (0 < self.top_p <= 1, "top_p must be in (0, 1]"),
            (0 <= self.min_p < 1, "min_p must be in [0, 1)"),
            (self.repeat_penalty > 0, "repeat_penalty must be > 0"),
            (self.repeat_last_n >= 0, "repeat_last_n must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise EngineError(message)


class Sampler:
    def __init__(self, params: SamplingParams):
        self.params = params
        self.rng = np.random.default_rng(params.seed)

    def __call__(self, logits: np.ndarray, history: Sequence[int] = ()) -> int:
        p = self.params
        x = np.asarray(logits, dtype=np.float64).copy()
        if p.repeat_penalty != 1.0 and history and p.repeat_last_n:
            seen = np.unique(np.asarray(history[-p.repeat_last_n :], dtype=np.int64))
            x[seen] = np.where(x[seen] > 0, x[seen] / p.repeat_penalty, x[seen] * p.repeat_penalty)
        if p.temperature == 0.0:
            return int(np.argmax(x))
        x /= p.temperature
        order = np.argsort(-x, kind="stable")
        if p.top_k:
            order = order[: p.top_k]
        probs = np.exp(x[order] - x[order[0]])
        probs /= probs.sum()
        keep = np.ones(len(order), dtype=bool)
        if p.top_p < 1.0:  # smallest prefix whose mass reaches top_p
            keep &= np.concatenate([[True], np.cumsum(probs)[:-1] < p.top_p])
        if p.min_p > 0.0:
            keep &= probs >= p.min_p * probs[0]
        probs = np.where(keep, probs, 0.0)
        return int(order[self.rng.choice(len(order), p=probs / probs.sum())])
