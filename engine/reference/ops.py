"""The tensor primitives of the PLT forward pass (plt-model.md §3.1) in plain torch.

RMSNorm, NeoX (rotate-half) RoPE, masked grouped-query attention and the SwiGLU MLP. Shapes use
`n` for query rows, `m` for keys, `H`/`K` for query/KV heads and `d` for head_dim. Nothing here
knows about loops, caches or checkpoints.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F


class KV(NamedTuple):
    """Post-RoPE keys and values with the absolute position of each: k, v [m, K, d], pos [m]."""

    k: torch.Tensor
    v: torch.Tensor
    pos: torch.Tensor


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """w * x / sqrt(mean(x^2) + eps) over the last axis (§3.1).

    Computed in fp32 (or fp64 for fp64 activations), cast back to the activation dtype, then
    multiplied by the weight: the HF convention.
    """
    compute = torch.float64 if x.dtype == torch.float64 else torch.float32
    xc = x.to(compute)
    normed = xc * torch.rsqrt(xc.pow(2).mean(dim=-1, keepdim=True) + eps)
    return weight * normed.to(x.dtype)


def rope(x: torch.Tensor, pos: torch.Tensor, theta: float) -> torch.Tensor:
    """Rotate x [n, heads, d] by its row's position pos [n], NeoX rotate-half layout (§3.1).

    Pair (x_i, x_{i+d/2}) turns by the angle pos * theta^(-2i/d). Angles are computed in float64
    so that the reference is as exact as its dtype allows at any position.
    """
    d = x.shape[-1]
    half = d // 2
    inv_freq = theta ** (-2.0 * torch.arange(half, dtype=torch.float64) / d)
    angle = pos.to(torch.float64)[:, None] * inv_freq[None, :]  # [n, d/2]
    cos = angle.cos().to(x.dtype)[:, None, :]
    sin = angle.sin().to(x.dtype)[:, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def attend(q: torch.Tensor, q_pos: torch.Tensor, kv: KV, keys: int | None = None) -> torch.Tensor:
    """Causal softmax attention of q [n, H, d] at positions q_pos [n] over kv (§3.1, §3.6).

    A key at position s is visible to a query at t when 0 <= t - s, and, when `keys` is given,
    t - s < keys (a sliding window of `keys` keys including the query's own position).
    Query head h reads KV head h // (H / K) (GQA). Returns [n, H, d].
    """
    group = q.shape[1] // kv.k.shape[1]
    k = kv.k.repeat_interleave(group, dim=1)
    v = kv.v.repeat_interleave(group, dim=1)
    scores = torch.einsum("nhd,mhd->hnm", q, k) / math.sqrt(q.shape[-1])
    dist = q_pos[:, None] - kv.pos[None, :]  # [n, m]
    visible = dist >= 0
    if keys is not None:
        visible &= dist < keys
    scores = scores.masked_fill(~visible, float("-inf"))
    return torch.einsum("hnm,mhd->nhd", scores.softmax(dim=-1), v)


def mlp(z: torch.Tensor, w_gate: torch.Tensor, w_up: torch.Tensor, w_down: torch.Tensor) -> torch.Tensor:
    """SwiGLU: down(silu(gate z) * up z) (§3.1)."""
    return F.linear(F.silu(F.linear(z, w_gate)) * F.linear(z, w_up), w_down)
