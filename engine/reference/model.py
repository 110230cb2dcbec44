"""LoopCoder-V2 (PLT) reference model in PyTorch: the project's definition of the forward pass.

Implements plt-model.md §3 (forward pass) and §4 (decoding) for one sequence, with three paths
that must give the same logits:
- `forward(ids)`: the whole sequence at once, the matrix form of §3, no cache;
- `prefill(ids, cache)`: one chunk after whatever the cache holds, loop by loop (§4.2);
- `decode(token, cache)`: one token, all L loops as L rows of one pass: the fused cross-loop
  layout of §4.3 that the engine uses.
`logits(ids, mode=...)` runs any of them over a sequence and returns logits for every position.
`Variant` switches on deliberately wrong readings of the spec for the differential tests of §6.
A config with `loops = 1` (and no gate) is a plain Llama.

IQuest-Coder-V1-Loop (`cfg.is_v1`, §5) runs through the same paths with its own rules: loop l
reads loop l-1's raw output at the same slot (no shift, no carry, no embedding, no norm between
loops), the gate is sigmoid(<post-RoPE q_h, w_h> + b_h), the local branch sees W + 1 =
loop_window_size keys, and `decode` is two sequential passes (a one-token prefill): there is
no fused step, since loop 1 at t needs loop 0's output at t.

Clarity over speed: float32 by default, float64 on request, no batching. Knows nothing about
GGUF, ggml, tokenizers or sampling.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from engine.arch import PLTConfig
from engine.errors import EngineError
from engine.reference.cache import PLTCache
from engine.reference.checkpoint import check_tensors, load_checkpoint
from engine.reference.ops import KV, attend, mlp, rms_norm, rope

GATE_INPUTS = ("residual", "normed", "query", "query_prerope")
MODES = ("full", "chunks", "decode")
V1_LOOP_INPUTS = ("raw", "shifted", "with_emb")


@dataclass(frozen=True)
class Variant:
    """Readings of the spec, for the differential tests of §6. The default is the spec itself.

    (The norm between loops is the config's `normalize_per_loop`, so it has no switch here.)
    """

    clp_shift: bool = True  # §3.3, §7.1: loop l reads loop l-1's output at t-1; False: at t
    local_w_plus_1: bool = True  # §7.2: the local branch sees W+1 keys; False: W keys
    gate_weights_global: bool = True  # §3.4.6: g*global + (1-g)*local; False: swapped
    gate_input: str | None = None  # §3.4.5: None follows the config; else one of GATE_INPUTS
    global_from_loop0: bool = True  # §3.4.3: global branch reads loop-0 K/V; False: own K/V
    reset_carry: bool = True  # §4.1: a new sequence starts with zero carries
    # Readings of the V1 (§5) rules; they change nothing for V2 except the last two.
    v1_loop_input: str = "raw"  # raw same-slot output; "shifted": slot t reads t-1; "with_emb": + e_t
    v1_norm_between_loops: bool = False  # True: model.norm on every loop's output (as V2)
    local_keys_offset: int = 0  # added to the local window's key count (+1: V2's 65 for V1's 64)
    loop_rope_offset: int = 0  # loops >= 1 rotate q/k at position t + offset (the spec: 0)


class LayerWeights(NamedTuple):
    attn_norm: torch.Tensor
    wq: torch.Tensor
    wk: torch.Tensor
    wv: torch.Tensor
    wo: torch.Tensor
    mlp_norm: torch.Tensor
    w_gate: torch.Tensor
    w_up: torch.Tensor
    w_down: torch.Tensor
    plt_gate: torch.Tensor | None  # [H, D] (hidden mode) or [H, head_dim] (query mode)
    plt_gate_bias: torch.Tensor | None  # [H]
    plt_gate_norm: torch.Tensor | None  # [D], hidden mode only


class Projection(NamedTuple):
    """One layer's projections of its input rows (§3.2 step 1)."""

    z: torch.Tensor  # input_layernorm(r) [n, D]
    q_raw: torch.Tensor  # query before RoPE [n, H, d]
    q: torch.Tensor  # query after RoPE [n, H, d]
    k: torch.Tensor  # key after RoPE [n, K, d]
    v: torch.Tensor  # value [n, K, d]

    def rows(self, sl: slice) -> Projection:
        return Projection(*(x[sl] for x in self))


def _layer_weights(w: dict[str, torch.Tensor], j: int, v1: bool = False) -> LayerWeights:
    p, g = f"model.layers.{j}.", f"model.layers.{j}.self_attn.plt_gate."
    if v1:
        g = f"model.gate_projections.{j}."  # V1: [H, head_dim] weight and [H] bias
    return LayerWeights(
        w[p + "input_layernorm.weight"],
        w[p + "self_attn.q_proj.weight"],
        w[p + "self_attn.k_proj.weight"],
        w[p + "self_attn.v_proj.weight"],
        w[p + "self_attn.o_proj.weight"],
        w[p + "post_attention_layernorm.weight"],
        w[p + "mlp.gate_proj.weight"],
        w[p + "mlp.up_proj.weight"],
        w[p + "mlp.down_proj.weight"],
        w.get(g + "weight"),
        w.get(g + "bias"),
        w.get(g + "gate_norm.weight"),
    )


class Reference:
    """The PLT model of `cfg` with canonical-HF-named `tensors` (see engine.reference.checkpoint)."""

    def __init__(
        self,
        cfg: PLTConfig,
        tensors: dict[str, torch.Tensor],
        *,
        dtype: torch.dtype = torch.float32,
        variant: Variant = Variant(),
    ) -> None:
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        if not cfg.rope_neox:
            raise ValueError("the reference reads HF checkpoints: rope_neox must be True")
        check_tensors(cfg, tensors)
        self.cfg, self.dtype, self.variant = cfg, dtype, variant
        self.gate_input = self._gate_input(cfg, variant)
        if variant.v1_loop_input not in V1_LOOP_INPUTS:
            raise ValueError(f"v1_loop_input must be one of {V1_LOOP_INPUTS}, got {variant.v1_loop_input!r}")
        self.local_keys = (
            cfg.window + 1 if variant.local_w_plus_1 else cfg.window
        ) + variant.local_keys_offset
        # The ring keeps what the local branch needs, unless the global branch (wrongly)
        # reads the loop's own K/V: then every position must be kept.
        self.ring_size = self.local_keys if variant.global_from_loop0 else None
        w = {name: t.to(dtype) for name, t in tensors.items()}
        self.embed = w["model.embed_tokens.weight"]
        self.final_norm = w["model.norm.weight"]
        self.lm_head = self.embed if cfg.tied_embeddings else w["lm_head.weight"]
        self.layers = [_layer_weights(w, j, cfg.is_v1) for j in range(cfg.num_layers)]

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, *, dtype: torch.dtype = torch.float32, variant: Variant = Variant()
    ) -> Reference:
        """Load an HF checkpoint directory (config.json + safetensors shards, BF16 or F32)."""
        cfg, tensors = load_checkpoint(path)
        return cls(cfg, tensors, dtype=dtype, variant=variant)

    @staticmethod
    def _gate_input(cfg: PLTConfig, variant: Variant) -> str | None:
        if cfg.gate_mode == "none":
            return None
        choice = variant.gate_input or ("residual" if cfg.gate_mode == "hidden" else "query")
        if choice not in GATE_INPUTS:
            raise ValueError(f"gate_input must be one of {GATE_INPUTS}, got {choice!r}")
        if cfg.gate_mode == "query" and choice in ("residual", "normed"):
            raise ValueError(f"a query-mode gate [H, head_dim] cannot read the {choice} input")
        if (
            cfg.gate_mode == "hidden"
            and choice.startswith("query")
            and cfg.num_heads * cfg.head_dim != cfg.hidden_size
        ):
            raise ValueError("a hidden-mode gate can read the query only when H * head_dim == D")
        return choice

    # ---- public API ---------------------------------------------------------------------

    def new_cache(self) -> PLTCache:
        return PLTCache(self.cfg, self.dtype, self.ring_size, reset_carry=self.variant.reset_carry)

    def logits(
        self, ids, mode: str = "full", chunk: int | None = None, cache: PLTCache | None = None
    ) -> torch.Tensor:
        """Logits [T, vocab] for every position of `ids`, computed by the path `mode`.

        "full": one forward over the sequence; "chunks": prefill in chunks of `chunk` tokens;
        "decode": one fused decode step per token. The cached modes continue `cache` when one
        is given (it is updated), else start a fresh sequence.
        """
        ids = self._ids(ids)
        if mode == "full":
            if cache is not None:
                raise ValueError("mode 'full' uses no cache")
            return self.forward(ids)
        cache = self.new_cache() if cache is None else cache
        if mode == "chunks":
            if chunk is None or chunk < 1:
                raise ValueError(f"mode 'chunks' needs a chunk size >= 1, got {chunk!r}")
            return torch.cat([self.prefill(ids[i : i + chunk], cache) for i in range(0, len(ids), chunk)])
        if mode == "decode":
            return torch.stack([self.decode(int(token), cache) for token in ids])
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")

    def forward(self, ids, record: dict | None = None) -> torch.Tensor:
        """Path (a): the whole sequence at once (§3). Returns logits [T, vocab].

        If `record` is a dict, it receives `inputs[l]` (loop l's input u^(l,0), [T, D]) and
        `outputs[l]` (h^(l), normalized as the config says, [T, D]) for every loop l.
        """
        ids = self._ids(ids)
        pos = torch.arange(len(ids))
        emb = self.embed[ids]
        loop0_kv: list[KV] = []  # G_j for every layer j
        h = emb
        for loop in range(self.cfg.loops):
            u = emb if loop == 0 else self._clp_input(emb, h, self._zero_carry())
            inputs = u
            for j, lw in enumerate(self.layers):
                p = self._project(lw, u, pos, loop)
                own = KV(p.k, p.v, pos)
                if loop == 0:
                    loop0_kv.append(own)
                    o = attend(p.q, pos, own)  # §3.2 step 3: causal, including self
                else:
                    o = self._gswa(lw, u, p, pos, loop0_kv[j], own)
                u = self._finish(lw, u, o)
            h = self._loop_output(u, loop)
            if record is not None:
                record.setdefault("inputs", []).append(inputs)
                record.setdefault("outputs", []).append(h)
        return F.linear(h, self.lm_head)  # §3.5: only the last loop feeds lm_head

    def prefill(self, ids, cache: PLTCache) -> torch.Tensor:
        """Path (b): one chunk of tokens after the cache's positions (§4.2). Logits [n, vocab]."""
        ids = self._ids(ids)
        pos = cache.pos + torch.arange(len(ids))
        emb = self.embed[ids]
        outputs: list[torch.Tensor] = []
        for loop in range(self.cfg.loops):
            u = emb if loop == 0 else self._clp_input(emb, outputs[-1], cache.carry[loop - 1])
            for j, lw in enumerate(self.layers):
                p = self._project(lw, u, pos, loop)
                new = KV(p.k, p.v, pos)
                if loop == 0:
                    o = attend(p.q, pos, cache.global_kv[j].append(new))
                else:
                    own = cache.rings[loop][j].append(new)
                    o = self._gswa(lw, u, p, pos, cache.global_kv[j].kv, own)
                u = self._finish(lw, u, o)
            outputs.append(self._loop_output(u, loop))
        # §4.2 step 4: the carries change only after every loop has run over the chunk.
        for loop in range(self.cfg.loops - 1):
            cache.carry[loop] = outputs[loop][-1]
        cache.pos += len(ids)
        return F.linear(outputs[-1], self.lm_head)

    def decode(self, token: int, cache: PLTCache) -> torch.Tensor:
        """Path (c): one token at position cache.pos, all loops fused as L rows (§4.3).

        Row 0 is loop 0 for this token; row l >= 1 is loop l at the same slot, fed by the carry
        of the previous step. Returns the logits [vocab] of the last loop's row.
        """
        if self.cfg.is_v1:  # §5: two sequential passes, loop 1 reads loop 0's output at t
            return self.prefill([token], cache)[0]
        if not self.variant.clp_shift:
            raise ValueError(
                "without the CLP shift, loop l needs loop l-1 of the same token: "
                "there is no fused decode step"
            )
        cfg, n_rows = self.cfg, self.cfg.loops
        token = self._ids([token])[0]
        pos = torch.full((n_rows,), cache.pos)
        e = self.embed[token]
        rows = torch.stack(
            [e] + [self._clp_input(e, cache.carry[loop - 1], None) for loop in range(1, n_rows)]
        )
        for j, lw in enumerate(self.layers):
            p = self._project(lw, rows, pos, None)  # step 1: all rows, RoPE at t
            new = KV(p.k, p.v, pos)
            row0 = slice(0, 1)
            g_kv = cache.global_kv[j].append(KV(*(x[row0] for x in new)))  # step 2: G_j[t] first
            outs = [attend(p.q[row0], pos[row0], g_kv)]  # step 3, row 0
            for loop in range(1, n_rows):
                sl = slice(loop, loop + 1)
                own = cache.rings[loop][j].append(KV(*(x[sl] for x in new)))
                outs.append(self._gswa(lw, rows[sl], p.rows(sl), pos[sl], g_kv, own))
            rows = self._finish(lw, rows, torch.cat(outs))  # step 4
        h = [self._loop_output(rows[loop], loop) for loop in range(n_rows)]
        for loop in range(cfg.loops - 1):
            cache.carry[loop] = h[loop]
        cache.pos += 1
        return F.linear(h[-1], self.lm_head)

    # ---- pieces of the forward pass -----------------------------------------------------

    def _ids(self, ids) -> torch.Tensor:
        ids = torch.as_tensor(np.asarray(ids), dtype=torch.long).reshape(-1)
        if len(ids) == 0:
            raise ValueError("no token ids given")
        bad = ids[(ids < 0) | (ids >= self.cfg.vocab_size)]
        if len(bad):
            raise EngineError(
                f"token id {int(bad[0])} is outside the vocabulary (size {self.cfg.vocab_size})"
            )
        return ids

    def _zero_carry(self) -> torch.Tensor:
        return torch.zeros(self.cfg.hidden_size, dtype=self.dtype)

    def _clp_input(self, emb: torch.Tensor, prev: torch.Tensor, carry: torch.Tensor | None) -> torch.Tensor:
        """§3.3: a*e_t + b*h^(l-1)_{t-1}, where row 0 of a sequence or chunk takes `carry`.

        `carry=None` means `prev` is already the shifted state (one decode row). With the
        `clp_shift=False` variant, slot t reads h^(l-1)_t instead.
        """
        if self.cfg.is_v1:
            return self._v1_input(emb, prev, carry)
        if carry is not None and self.variant.clp_shift:
            prev = torch.cat([carry[None], prev[:-1]])
        return self.cfg.emb_scale * emb + self.cfg.hidden_scale * prev

    def _v1_input(self, emb: torch.Tensor, prev: torch.Tensor, carry: torch.Tensor | None) -> torch.Tensor:
        """§5: loop l's input is loop l-1's output at the same slot, as it is (or a wrong variant)."""
        if self.variant.v1_loop_input == "shifted" and carry is not None:
            return torch.cat([carry[None], prev[:-1]])
        if self.variant.v1_loop_input == "with_emb":
            return emb + prev
        return prev

    def _project(self, lw: LayerWeights, r: torch.Tensor, pos: torch.Tensor, loop: int | None) -> Projection:
        """§3.2 step 1: z = RMSNorm(r); q, k rotated at their positions; v.

        `loop` is the loop the rows belong to (None: the fused decode rows, all loops); only the
        `loop_rope_offset` variant reads it.
        """
        cfg, n = self.cfg, r.shape[0]
        if self.variant.loop_rope_offset and loop != 0:
            pos = pos + self.variant.loop_rope_offset * (
                torch.ones_like(pos) if loop is not None else (torch.arange(n) > 0).long()
            )
        z = rms_norm(r, lw.attn_norm, cfg.rms_eps)
        q_raw = F.linear(z, lw.wq).view(n, cfg.num_heads, cfg.head_dim)
        k = rope(F.linear(z, lw.wk).view(n, cfg.num_kv_heads, cfg.head_dim), pos, cfg.rope_theta)
        v = F.linear(z, lw.wv).view(n, cfg.num_kv_heads, cfg.head_dim)
        return Projection(z, q_raw, rope(q_raw, pos, cfg.rope_theta), k, v)

    def _gswa(
        self, lw: LayerWeights, r: torch.Tensor, p: Projection, pos: torch.Tensor, loop0_kv: KV, own_kv: KV
    ) -> torch.Tensor:
        """§3.4 steps 3-6: gated mix of the global and the local branch, [n, H, d]."""
        local = attend(p.q, pos, own_kv, keys=self.local_keys)
        glob = attend(p.q, pos, loop0_kv if self.variant.global_from_loop0 else own_kv)
        g = self._gate(lw, r, p)[..., None]  # [n, H, 1]: one scalar per head
        if self.variant.gate_weights_global:
            return g * glob + (1 - g) * local
        return g * local + (1 - g) * glob

    def _gate(self, lw: LayerWeights, r: torch.Tensor, p: Projection) -> torch.Tensor:
        """§3.4 step 5: g [n, H] in (0, 1)."""
        x = {"residual": r, "normed": p.z, "query": p.q, "query_prerope": p.q_raw}[self.gate_input]
        if self.cfg.gate_mode == "hidden":
            x = rms_norm(x.flatten(1), lw.plt_gate_norm, self.cfg.gate_norm_eps)
            return torch.sigmoid(F.linear(x, lw.plt_gate, lw.plt_gate_bias))
        return torch.sigmoid((x * lw.plt_gate).sum(dim=-1) + lw.plt_gate_bias)  # query mode

    def _finish(self, lw: LayerWeights, r: torch.Tensor, o: torch.Tensor) -> torch.Tensor:
        """§3.2 step 4: attention output projection and residual, then the MLP and residual."""
        r = r + F.linear(o.flatten(1), lw.wo)
        return r + mlp(rms_norm(r, lw.mlp_norm, self.cfg.rms_eps), lw.w_gate, lw.w_up, lw.w_down)

    def _loop_output(self, u: torch.Tensor, loop: int) -> torch.Tensor:
        """§3.4 end: model.norm after the last loop, and after the others if normalize_per_loop."""
        if loop == self.cfg.loops - 1 or self.cfg.normalize_per_loop or self.variant.v1_norm_between_loops:
            return rms_norm(u, self.final_norm, self.cfg.rms_eps)
        return u


def reference_logits(
    checkpoint_dir: str | Path,
    ids,
    mode: str = "full",
    chunk: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> np.ndarray:
    """Logits [T, vocab] as float32 numpy of the HF checkpoint at `checkpoint_dir` for `ids`."""
    model = Reference.from_checkpoint(checkpoint_dir, dtype=dtype)
    with torch.no_grad():
        return model.logits(ids, mode=mode, chunk=chunk).to(torch.float32).numpy()
