"""Plain, position-by-position primitives for the independent transcriptions of the spec
(tests/engine/test_reference_independent.py for §3, test_v1_reference.py for §5). They share
no code with engine.reference: RoPE is an explicit rotation matrix, attention a loop over keys."""

from __future__ import annotations

import math

import torch


def tokens(n: int = 20, seed: int = 3) -> list[int]:
    return torch.randint(0, 64, (n,), generator=torch.Generator().manual_seed(seed)).tolist()


def norm(x, w, eps):
    return w * x / torch.sqrt((x * x).mean() + eps)


def rotation(t: int, d: int, theta: float) -> torch.Tensor:
    """The d x d matrix of NeoX RoPE at position t: pair (i, i + d/2) turns by t * theta^(-2i/d)."""
    r = torch.zeros(d, d, dtype=torch.float64)
    for i in range(d // 2):
        c, s = math.cos(t * theta ** (-2 * i / d)), math.sin(t * theta ** (-2 * i / d))
        r[i, i], r[i, i + d // 2] = c, -s
        r[i + d // 2, i], r[i + d // 2, i + d // 2] = s, c
    return r


def attention(q, keys, values):
    """One head: softmax over the listed keys of q.k / sqrt(d), weighted sum of the values."""
    scores = torch.stack([q @ k for k in keys]) / math.sqrt(q.shape[0])
    weights = torch.softmax(scores, dim=0)
    return sum(wt * v for wt, v in zip(weights, values, strict=True))
