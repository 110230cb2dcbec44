"""The per-sequence decoding state of a PLT model (plt-model.md §4.1), as explicit objects.

`PLTCache` holds, for one sequence:
- `global_kv[j]`: loop 0's post-RoPE K/V of layer j for every position so far (G_j);
- `rings[l][j]`: loop l's own K/V of layer j, only the last `ring_size` positions (the local
  ring Λ_j^(l)); `rings[0]` is unused (loop 0 has no local cache);
- `carry[l]`: for l = 0 .. L-2, the output of loop l (normalized when the config says so) at
  the last processed position: the next position's CLP input for loop l+1 (§3.3);
- `pos`: the number of positions processed, i.e. the absolute position of the next token.

The model reads and writes it; the cache itself knows no math. It is passed into every call,
never hidden in the model (nanochat style).
"""

from __future__ import annotations

import torch

from engine.arch import PLTConfig
from engine.reference.ops import KV


class KVStore:
    """K/V rows with their positions; keeps everything (`capacity=None`) or the last `capacity`."""

    def __init__(self, cfg: PLTConfig, dtype: torch.dtype, capacity: int | None) -> None:
        shape = (0, cfg.num_kv_heads, cfg.head_dim)
        self.capacity = capacity
        self.kv = KV(
            torch.zeros(shape, dtype=dtype), torch.zeros(shape, dtype=dtype), torch.zeros(0, dtype=torch.long)
        )

    def append(self, new: KV) -> KV:
        """Add rows and return everything that was held plus the new rows (before eviction).

        The caller attends over the returned rows (its mask picks the window); the store then
        keeps only the newest `capacity` rows, evicting the oldest.
        """
        joined = KV(*(torch.cat([old, add]) for old, add in zip(self.kv, new, strict=True)))
        keep = len(joined.pos) if self.capacity is None else self.capacity
        self.kv = KV(*(x[-keep:] if keep else x[:0] for x in joined))
        return joined

    def __len__(self) -> int:
        return len(self.kv.pos)


class PLTCache:
    """Global KV, local rings and CLP carries of one sequence (see the module docstring)."""

    def __init__(
        self, cfg: PLTConfig, dtype: torch.dtype, ring_size: int | None, reset_carry: bool = True
    ) -> None:
        self.cfg, self.dtype, self.ring_size = cfg, dtype, ring_size
        self.reset_carry = reset_carry
        self.carry = torch.zeros(max(cfg.loops - 1, 0), cfg.hidden_size, dtype=dtype)
        self._clear_kv()

    def _clear_kv(self) -> None:
        cfg = self.cfg
        self.pos = 0
        self.global_kv = [KVStore(cfg, self.dtype, None) for _ in range(cfg.num_layers)]
        self.rings = [
            [] if loop == 0 else [KVStore(cfg, self.dtype, self.ring_size) for _ in range(cfg.num_layers)]
            for loop in range(cfg.loops)
        ]

    def reset(self) -> None:
        """Start a new sequence: empty every KV store and zero the carries (§4.1).

        With `reset_carry=False` (a deliberately wrong variant for the tests) the carries of
        the previous sequence survive.
        """
        self._clear_kv()
        if self.reset_carry:
            self.carry.zero_()
