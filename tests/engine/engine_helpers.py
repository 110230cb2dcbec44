"""What the engine parity tests share: token ids, the engine's logits in each mode, the error."""

from __future__ import annotations

import numpy as np

from engine import api


def random_ids(n: int, seed: int = 0, vocab: int = 384) -> list[int]:
    return [int(x) for x in np.random.default_rng(seed).integers(0, vocab, size=n)]


def engine_logits(path, ids, mode: str, **load) -> np.ndarray:
    """Logits of every position: mode "full" (one prefill), "chunks:N" or "decode" (token by token)."""
    with api.load(path, n_ctx=64, threads=1, **load) as m:
        r = m.runner
        if mode == "full":
            return r.prefill(ids, chunk=len(ids), all_logits=True)
        if mode.startswith("chunks:"):
            return r.prefill(ids, chunk=int(mode.split(":")[1]), all_logits=True)
        return np.stack([r.decode(t) for t in ids])


def rel_err(a: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(a - ref).max() / np.abs(ref).max())
