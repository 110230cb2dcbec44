"""The PLT forward pass as ggml graphs (plt-model.md §3, §4.2, §4.3).

Two graph shapes:
- `prefill`: a chunk of n tokens at positions p0 .. p0+n-1. Loop 0 over the chunk (writing
  the global KV), then each later loop over the chunk, in order (the spec requires it).
  With n = 1 this is also the vendor's "serial" decode step: L passes over the weights.
- `decode`: one token, all L loops as L rows of ONE pass over the weights (cross-loop
  parallelism): row 0 is loop 0 at position t, row l is loop l at the same slot fed by the
  carry of step t-1.
IQuest-Coder-V1-Loop (`cfg.is_v1`, plt-model.md §5) uses only `prefill`: loop l reads loop
l-1's raw output at the same slot, so a decode step is a one-token prefill (L passes over the
weights, no carry) and the fused `decode` shape does not exist for it.

A built graph has fixed shapes and reads everything that changes from step to step (token
ids, positions, cache indices, masks) from input tensors, so it is reused for many steps:
the attention span `n_kv` is padded and masked. Caches and carries are written by the graph
itself. Knows nothing about tokens' meaning, sampling or sessions.

Shapes in the comments are ggml's, innermost first: [D, n] is n columns of D values. D hidden
size, d head_dim, H query heads, Hkv KV heads, F FFN width, V vocabulary, n the chunk's
tokens, L loops, n_kv the padded global span, K = W+1 local keys (`cfg.local_keys`).

Attention over the global cache (the part that grows with the context):
- decode and chunks below FA_TILE queries, f16 or q8_0 cache, loop kernels with AVX-512:
  libpltk's attention (`Kernels.attend`): each KV head's keys and values are read once for
  all the query rows of a call (the L loop rows of a step; a chunk in slices), the query in
  F32; V is then kept as position rows (`State(v_rows=True)`);
- otherwise, decode and short chunks, f16/f32 cache: matrix-vector products and a softmax,
  K·q then V^T·p over the transposed V (ggml's flash-attention kernel walks the keys one at a
  time per query head with a scalar expf each: at 8k positions it was 55% of a SmolLM2
  decode step; README, Performance);
- otherwise (a q8_0 cache without ours, and every longer chunk): ggml_flash_attn_ext, whose
  tiled kernel suits many queries; a transposed V is copied back to rows for it. A block-type cache is
  read as it is by a decode step (ggml then rounds the query to q8_0 too, as llama.cpp does)
  and widened to F32 for a prefill chunk (the tiled kernel takes F16/F32 only; the query
  stays exact).
"""

from __future__ import annotations

import ctypes as C
from dataclasses import dataclass, field

from engine import ggml
from engine.arch import PLTConfig, Tensors
from engine.backend import Weights
from engine.errors import EngineError
from engine.loopkernels import ATTN_SCRATCH, GGML, Kernels
from engine.state import BLOCK_KV_TYPES, State

GRAPH_NODES = 16384
WIDEN_BLOCK_CACHE_AT = 2  # prefill chunks this long read a q8_0 cache widened to F32
PRODUCTS_MAX_QUERIES = 8  # up to this many queries read an f16/f32 cache through two mul_mats,
PRODUCTS_MAX_SCORE_BYTES = 64 << 20  # and up to FA_TILE while the score matrix is this small
FA_TILE = 64  # ggml's CPU flash attention tiles queries by this many (GGML_FA_TILE_Q)
K_GEMV_MAX_COLUMNS = 4  # a decode step's K product runs per column up to this many columns
Tensor = C._Pointer


@dataclass(frozen=True)
class Plan:
    """What a graph computes. `n_kv` is the padded global attention span."""

    kind: str  # "prefill" | "decode"
    n_tokens: int
    n_kv: int
    all_logits: bool = False


@dataclass
class Inputs:
    ids: Tensor
    pos: Tensor
    kv_idx: Tensor
    mask_global: Tensor
    ring_idx: Tensor | None = None
    mask_local: Tensor | None = None


@dataclass
class Built:
    plan: Plan
    ctx: int
    graph: int
    inputs: Inputs
    logits: Tensor
    n_nodes: int = 0
    extras: dict[str, Tensor] = field(default_factory=dict)


class _Ops:
    """ggml ops on one context, with names that read like the spec."""

    def __init__(self, ctx: int):
        self.g, self.ctx = ggml.lib(), ctx

    def input(self, gtype: int, *ne: int) -> Tensor:
        t = [None, self.g.ggml_new_tensor_1d, self.g.ggml_new_tensor_2d][len(ne)](self.ctx, gtype, *ne)
        self.g.ggml_set_input(t)
        return t

    def __getattr__(self, name: str):  # noqa: ANN204 - forwards ggml_<name>(ctx, ...)
        fn = getattr(self.g, f"ggml_{name}")
        return lambda *args: fn(self.ctx, *args)


class GraphBuilder:
    """Builds prefill and decode graphs over one model's weights and one sequence state."""

    def __init__(self, cfg: PLTConfig, weights: Weights, state: State, kernels: Kernels = GGML):
        self.cfg, self.w, self.st, self.kernels = cfg, weights, state, kernels
        self.g = ggml.lib()
        self.loops = state.loops
        self.rope_mode = ggml.ROPE_TYPE_NEOX if cfg.rope_neox else ggml.ROPE_TYPE_NORMAL
        self.scale = 1.0 / cfg.head_dim**0.5
        self.output = weights.get(Tensors.OUTPUT if not cfg.tied_embeddings else Tensors.TOKEN_EMBD)

    # -- graph assembly -----------------------------------------------------------------------------------

    def build(self, plan: Plan) -> Built:
        g = self.g
        size = g.ggml_graph_overhead_custom(GRAPH_NODES, False) + GRAPH_NODES * 3 * g.ggml_tensor_overhead()
        ctx = g.ggml_init(ggml.ggml_init_params(size, None, True))
        if not ctx:
            raise EngineError("ggml_init failed for a graph context")
        graph = g.ggml_new_graph_custom(ctx, GRAPH_NODES, False)
        o = _Ops(ctx)
        self._o, self._graph, self._deferred, self._memo = o, graph, [], {}
        self._n_kv, self._decoding = plan.n_kv, plan.kind == "decode"
        if plan.kind == "decode":
            inputs, logits = self._decode(plan)
        else:
            inputs, logits = self._prefill(plan)
        g.ggml_set_output(logits)
        g.ggml_build_forward_expand(graph, logits)
        for t in self._deferred:  # cache/carry writes that must follow every read
            g.ggml_build_forward_expand(graph, t)
        return Built(plan, ctx, graph, inputs, logits, g.ggml_graph_n_nodes(graph))

    def _expand(self, t: Tensor) -> Tensor:
        self.g.ggml_build_forward_expand(self._graph, t)
        return t

    # -- shared pieces ------------------------------------------------------------------------------------

    def _mm(self, weight: str | Tensor, x: Tensor) -> Tensor:
        """Every weight multiplication goes through here (engine.loopkernels picks the kernel)."""
        w = self.w.get(weight) if isinstance(weight, str) else weight
        return self.kernels.matmul(self._o.ctx, w, x, self._memo)

    def _norm(self, x: Tensor, weight: str, eps: float) -> Tensor:
        return self._o.mul(self._o.rms_norm(x, eps), self.w.get(weight))

    def _qkv(self, j: int, r: Tensor, n: int, pos: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        o, c = self._o, self.cfg
        z = self._norm(r, Tensors.ATTN_NORM.format(i=j), c.rms_eps)
        q = o.reshape_3d(self._mm(Tensors.ATTN_Q.format(i=j), z), c.head_dim, c.num_heads, n)
        k = o.reshape_3d(self._mm(Tensors.ATTN_K.format(i=j), z), c.head_dim, c.num_kv_heads, n)
        v = o.reshape_3d(self._mm(Tensors.ATTN_V.format(i=j), z), c.head_dim, c.num_kv_heads, n)
        q, k = self._rope(q, pos), self._rope(k, pos)
        return q, k, v

    def _rope(self, x: Tensor, pos: Tensor) -> Tensor:
        c = self.cfg
        return self._o.rope_ext(
            x, pos, None, c.head_dim, self.rope_mode, c.context_length, c.rope_theta, 1.0, 0.0, 1.0, 32.0, 1.0
        )

    def _finish_layer(self, j: int, r: Tensor, attn: Tensor, n: int) -> Tensor:
        """o_proj, residual, MLP, residual. `attn` is [head_dim, H, n]."""
        o, c = self._o, self.cfg
        attn = o.reshape_2d(attn, c.num_heads * c.head_dim, n)
        r2 = o.add(r, self._mm(Tensors.ATTN_OUT.format(i=j), attn))
        z = self._norm(r2, Tensors.FFN_NORM.format(i=j), c.rms_eps)
        gate = self._mm(Tensors.FFN_GATE.format(i=j), z)
        up = self._mm(Tensors.FFN_UP.format(i=j), z)
        return o.add(r2, self._mm(Tensors.FFN_DOWN.format(i=j), o.swiglu_split(gate, up)))

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor) -> Tensor:
        """q [d, H, n] against k/v [d, n_kv, Hkv] -> [d, H, n]."""
        o = self._o
        out = o.flash_attn_ext(o.permute(q, 0, 2, 1, 3), k, v, mask, self.scale, 0.0, 0.0)
        self.g.ggml_prec_set_acc(out, ggml.PREC_F32)
        return out

    def _cache_view(self, cache: Tensor, n_kv: int) -> Tensor:
        """A [kv_dim, n_ctx] cache as [head_dim, n_kv, Hkv] (rows are positions)."""
        c, s = self.cfg, cache.contents
        head_bytes = int(self.g.ggml_row_size(s.type, c.head_dim))
        return self._o.view_3d(cache, c.head_dim, n_kv, c.num_kv_heads, s.nb[1], head_bytes, 0)

    def _heads(self, rows: Tensor) -> Tensor:
        """[kv_dim, n_kv] position rows as [head_dim, n_kv, Hkv]."""
        c, s = self.cfg, rows.contents
        head_bytes = int(self.g.ggml_row_size(s.type, c.head_dim))
        return self._o.view_3d(rows, c.head_dim, s.ne[1], c.num_kv_heads, s.nb[1], head_bytes, 0)

    def _global_kv(self, j: int, n_kv: int, n_queries: int) -> tuple[Tensor, Tensor]:
        """Layer j's global K and V as flash attention reads them: [head_dim, n_kv, Hkv] each."""
        o, st = self._o, self.st
        k, v = st.k[j], st.v[j]
        if st.v_trans:  # copy the V^T rows of the span back to position rows
            vs = v.contents
            span = o.view_2d(v, n_kv, st.kv_dim, vs.nb[1], 0)
            return self._cache_view(k, n_kv), self._heads(o.cont(o.transpose(span)))
        if not self._decoding and n_queries >= WIDEN_BLOCK_CACHE_AT and st.kv_type_name in BLOCK_KV_TYPES:
            ks, vs = k.contents, v.contents
            k_rows = o.cast(o.view_2d(k, st.kv_dim, n_kv, ks.nb[1], 0), ggml.TYPE_F32)
            v_rows = o.cast(o.view_2d(v, st.kv_dim, n_kv, vs.nb[1], 0), ggml.TYPE_F32)
            return self._heads(k_rows), self._heads(v_rows)
        return self._cache_view(k, n_kv), self._cache_view(v, n_kv)

    def _attend_global(self, j: int, q: Tensor, n_kv: int, mask: Tensor) -> Tensor:
        """q [d, H, n] against layer j's global cache -> [d, H, n] (which kernel: module doc)."""
        n = q.contents.ne[2]
        if n < FA_TILE:
            ours = self._attend_ours(j, q, mask)
            if ours is not None:
                return ours
        if self._decoding and self.st.v_trans:
            return self._attend_step(j, q, n_kv, mask)
        if self._products(n):
            return self._attend_products(j, q, n_kv, mask)
        k, v = self._global_kv(j, n_kv, n)
        return self._attend(q, k, v, mask)

    def _attend_ours(self, j: int, q: Tensor, mask: Tensor) -> Tensor | None:
        """q [d, H, n] against layer j's global cache through libpltk's attention (each slice of
        as many queries as one call takes reads the cache once), or None where it does not apply.
        A decode step's rows share mask row 0; a chunk's query i has row i."""
        o, c, ms = self._o, self.cfg, mask.contents
        n = q.contents.ne[2]
        per = max(1, ATTN_SCRATCH // (c.num_heads // c.num_kv_heads * c.head_dim))
        out = None
        for first in range(0, n, per):
            count = min(per, n - first)
            rows = o.view_2d(
                mask,
                ms.ne[0],
                1 if self._decoding else count,
                ms.nb[1],
                0 if self._decoding else first * ms.nb[1],
            )
            part = self.kernels.attend(
                o.ctx, self._slice3(q, first, count), self.st.k[j], self.st.v[j], rows, self.scale
            )
            if part is None:
                return None
            out = part if out is None else o.concat(out, part, 2)
        return out

    def _products(self, n_queries: int) -> bool:
        """Whether a chunk of n queries reads the global cache through `_attend_products` (else
        flash attention): a few queries always; below ggml's flash-attention tile while the
        scores stay small (flash attention's untiled kernel sums V in F16, losing precision)."""
        if not self.st.v_trans or n_queries >= FA_TILE:
            return False
        scores = self._n_kv * self.cfg.num_heads * n_queries * 4
        return n_queries <= PRODUCTS_MAX_QUERIES or scores <= PRODUCTS_MAX_SCORE_BYTES

    def _attend_step(self, j: int, q: Tensor, n_kv: int, mask: Tensor) -> Tensor:
        """A decode step's L rows (one position) against the global cache, as matrix products.

        The query rows of one KV head, (g, l) for its `group` heads and the L loop rows, are the
        columns of its products: scores = K_kv^T [q columns], probs = softmax(scores / sqrt(d) +
        mask) per column, out = V^T_kv [probs columns]. ggml runs a product with 2+ columns
        through llamafile's sgemm, which reads each cache row once for all of them; with a few
        columns its tiling costs more than it saves on K (64-value rows), so up to
        K_GEMV_MAX_COLUMNS columns K runs as one matrix-vector product per column (ggml's
        vec_dot path, broadcasting the KV head over its query heads, as llama.cpp does)."""
        o, c, st = self._o, self.cfg, self.st
        d, hkv, rows = c.head_dim, c.num_kv_heads, q.contents.ne[2]
        cols = c.num_heads // hkv * rows  # (g, l) pairs per KV head
        if rows > 1:  # [d, g, kv, l] -> [d, g, l, kv]: a KV head's columns side by side
            q = o.cont(o.permute(o.reshape_4d(q, d, c.num_heads // hkv, hkv, rows), 0, 1, 3, 2))
        k = self._cache_view(st.k[j], n_kv)
        if cols <= K_GEMV_MAX_COLUMNS:
            scores = o.mul_mat(k, o.reshape_4d(q, d, 1, cols * hkv, 1))  # [n_kv, 1, cols*Hkv]
        else:
            scores = o.reshape_3d(o.mul_mat(k, o.reshape_3d(q, d, cols, hkv)), n_kv, 1, cols * hkv)
        ms = mask.contents
        first_row = o.view_2d(mask, n_kv, 1, ms.nb[1], 0)  # every row of a step has the same mask
        probs = o.reshape_3d(o.soft_max_ext(scores, first_row, self.scale, 0.0), n_kv, cols, hkv)
        vs = st.v[j].contents
        vt = o.view_3d(st.v[j], n_kv, d, hkv, vs.nb[1], vs.nb[1] * d, 0)  # [n_kv, d, Hkv]
        out = o.mul_mat(vt, probs)  # [d, cols, Hkv]
        if rows > 1:  # [d, g, l, kv] -> [d, g, kv, l]
            out = o.cont(o.permute(o.reshape_4d(out, d, c.num_heads // hkv, rows, hkv), 0, 1, 3, 2))
        return o.reshape_3d(out, d, c.num_heads, rows)

    def _attend_products(self, j: int, q: Tensor, n_kv: int, mask: Tensor) -> Tensor:
        """A short chunk's queries against the global cache, as llama.cpp computes attention
        without flash attention: for every (query, head) one matrix-vector product with its KV
        head's K rows and one with its V^T rows (ggml broadcasts a KV head over its query
        heads and over the queries, each with its own mask row)."""
        o, c, st = self._o, self.cfg, self.st
        d, n = c.head_dim, q.contents.ne[2]
        cols = o.reshape_4d(q, d, 1, c.num_heads, n)
        scores = o.mul_mat(self._cache_view(st.k[j], n_kv), cols)  # [n_kv, 1, H, n]
        probs = o.soft_max_ext(scores, o.reshape_4d(mask, n_kv, 1, 1, n), self.scale, 0.0)
        vs = st.v[j].contents
        vt = o.view_3d(st.v[j], n_kv, d, c.num_kv_heads, vs.nb[1], vs.nb[1] * d, 0)  # [n_kv, d, Hkv]
        return o.reshape_3d(o.mul_mat(vt, probs), d, c.num_heads, n)  # [d, 1, H, n] -> [d, H, n]

    def _rows(self, x: Tensor, first: int, count: int) -> Tensor:
        """Columns first .. first+count-1 of a 2-D [ne0, n] tensor."""
        s = x.contents
        return self._o.view_2d(x, s.ne[0], count, s.nb[1], first * s.nb[1])

    def _slice3(self, x: Tensor, first: int, count: int) -> Tensor:
        """Slices first .. first+count-1 along dim 2 of a [a, b, n] tensor."""
        s = x.contents
        return self._o.view_3d(x, s.ne[0], s.ne[1], count, s.nb[1], s.nb[2], first * s.nb[2])

    def _gate(self, j: int, r: Tensor, q: Tensor, n: int) -> Tensor:
        """g in (0,1) per head and row, shaped [1, H, n]; weights the GLOBAL branch (§3.4 step 5)."""
        o, c = self._o, self.cfg
        if c.gate_mode == "hidden":
            bias = self.w.get(Tensors.PLT_GATE_BIAS.format(i=j))
            gn = self._norm(r, Tensors.PLT_GATE_NORM.format(i=j), c.gate_norm_eps)
            logits = o.add(self._mm(Tensors.PLT_GATE.format(i=j), gn), bias)
            return o.reshape_3d(o.sigmoid(logits), 1, c.num_heads, n)
        # query mode (V2's variant and V1's gate): <q_h, P_h> + b_h with the post-RoPE query
        bias = self.w.get((Tensors.LOOP_GATE_BIAS if c.is_v1 else Tensors.PLT_GATE_BIAS).format(i=j))
        weight = Tensors.LOOP_GATE if c.is_v1 else Tensors.PLT_GATE
        p = o.reshape_3d(self.w.get(weight.format(i=j)), c.head_dim, c.num_heads, 1)
        dots = o.sum_rows(o.mul(q, p))
        return o.sigmoid(o.add(dots, o.reshape_3d(bias, 1, c.num_heads, 1)))

    def _mix(self, g: Tensor, glob: Tensor, loc: Tensor) -> Tensor:
        o = self._o
        return o.add(loc, o.mul(o.sub(glob, loc), g))

    def _final_norm(self, x: Tensor) -> Tensor:
        return self._norm(x, Tensors.OUTPUT_NORM, self.cfg.rms_eps)

    def _logits(self, h: Tensor, n: int, all_logits: bool) -> Tensor:
        if not all_logits and n > 1:
            h = self._rows(h, n - 1, 1)
        return self._mm(self.output, h)

    def _write_rows(self, cache: Tensor, k: Tensor, idx: Tensor, first: int, count: int) -> Tensor:
        """set_rows of count rows of k ([d, Hkv, n]) starting at `first` into cache at idx."""
        o, c = self._o, self.cfg
        flat = o.reshape_2d(k, c.num_kv_heads * c.head_dim, k.contents.ne[2])
        return o.set_rows(cache, self._rows(flat, first, count), idx)

    def _write_global_v(self, j: int, v: Tensor, idx: Tensor, count: int) -> Tensor:
        """Rows 0 .. count-1 of v ([d, Hkv, n]) into layer j's global V at positions idx."""
        st = self.st
        if not st.v_trans:
            return self._write_rows(st.v[j], v, idx, 0, count)
        # one set_rows over [1, n_ctx, kv_dim]: element (0, i, c) of the source is v[c, i], and the
        # position index of row i is shared by every channel (broadcast over dim 2)
        o, dst = self._o, st.v[j]
        es = dst.contents.nb[0]
        target = o.view_3d(dst, 1, st.n_ctx, st.kv_dim, es, st.n_ctx * es, 0)
        vs = v.contents
        source = o.view_3d(v, 1, count, st.kv_dim, st.kv_dim * vs.nb[0], vs.nb[0], 0)
        return o.set_rows(target, source, idx)

    # -- prefill (chunk) ----------------------------------------------------------------------------------

    def _prefill(self, plan: Plan) -> tuple[Inputs, Tensor]:
        o, c, st, n = self._o, self.cfg, self.st, plan.n_tokens
        ids, pos = o.input(ggml.TYPE_I32, n), o.input(ggml.TYPE_I32, n)  # [n], [n]
        kv_idx = o.input(ggml.TYPE_I32, n)  # [n] cache rows the chunk writes
        mask_g = o.input(ggml.TYPE_F16, plan.n_kv, n)  # [n_kv, n] causal over the padded span
        inputs = Inputs(ids, pos, kv_idx, mask_g)
        emb = o.get_rows(self.w.get(Tensors.TOKEN_EMBD), ids)  # [D, n]
        x = emb
        for j in range(c.num_layers):  # loop 0: plain causal attention, writes the global cache
            r = x  # [D, n]
            q, k, v = self._qkv(j, r, n, pos)  # q [d, H, n], k and v [d, Hkv, n], RoPE'd
            self._expand(self._write_rows(st.k[j], k, kv_idx, 0, n))  # K cache [Hkv*d, n_ctx]
            self._expand(self._write_global_v(j, v, kv_idx, n))  # V cache (or V^T)
            x = self._finish_layer(j, r, self._attend_global(j, q, plan.n_kv, mask_g), n)  # [D, n]
        h = self._loop_output(x, 0)  # [D, n] h^(0)
        if self.loops > 1:
            m = min(n, c.local_keys)
            inputs.ring_idx = o.input(ggml.TYPE_I32, m)  # [m] ring slots of the chunk's last m keys
            inputs.mask_local = o.input(ggml.TYPE_F16, c.local_keys + n, n)  # [K + n, n]
        for loop in range(1, self.loops):
            prev = h  # [D, n] h^(loop-1)
            if c.is_v1:  # V1 (§5): loop l reads loop l-1's raw output at the same slot; no carry
                x = prev
            else:  # a*e_t + b*h^(l-1)_{t-1}: [D, n], column 0 from the carry
                x = o.add(o.scale(emb, c.emb_scale), o.scale(self._shift(prev, loop, n), c.hidden_scale))
            for j in range(c.num_layers):
                x = self._prefill_plt_layer(j, loop, x, plan, inputs)  # [D, n]
            h = self._loop_output(x, loop)  # [D, n] h^(loop)
            if not c.is_v1:
                self._defer_carry(prev, loop - 1, n)  # carry[loop-1] = prev[:, n-1], after all reads
        return inputs, self._logits(h, n, plan.all_logits)  # [V, n] or [V, 1]

    def _loop_output(self, x: Tensor, loop: int) -> Tensor:
        """h^(l): normed unless this is a non-last loop and normalize_per_loop is off."""
        if loop == self.loops - 1 or self.cfg.normalize_per_loop:
            return self._final_norm(x)
        return x

    def _shift(self, h: Tensor, loop: int, n: int) -> Tensor:
        """[c_{l-1}, h_0 .. h_{n-2}]: the previous loop's output one slot down, carry on top."""
        carry = self._rows(self.st.carry, loop - 1, 1)
        if n == 1:
            return carry
        return self._o.concat(carry, self._rows(h, 0, n - 1), 1)

    def _defer_carry(self, h: Tensor, index: int, n: int) -> None:
        """After everything has read the old carry: carry[index] = last column of h."""
        self._deferred.append(self._o.cpy(self._rows(h, n - 1, 1), self._rows(self.st.carry, index, 1)))

    def _prefill_plt_layer(self, j: int, loop: int, r: Tensor, plan: Plan, inputs: Inputs) -> Tensor:
        c, st, n = self.cfg, self.st, plan.n_tokens
        q, k, v = self._qkv(j, r, n, inputs.pos)  # q [d, H, n], k and v [d, Hkv, n]
        glob = self._attend_global(j, q, plan.n_kv, inputs.mask_global)  # [d, H, n] over loop 0's K/V
        ring_k, ring_v = st.ring_k[loop - 1][j], st.ring_v[loop - 1][j]  # [Hkv*d, K] each
        loc = self._attend(  # [d, H, n] over this loop's ring and the chunk: keys [d, K + n, Hkv]
            q, self._ring_plus_chunk(ring_k, k), self._ring_plus_chunk(ring_v, v), inputs.mask_local
        )
        m = min(n, c.local_keys)  # the ring keeps the chunk's last m keys
        self._deferred.append(self._write_rows(ring_k, k, inputs.ring_idx, n - m, m))
        self._deferred.append(self._write_rows(ring_v, v, inputs.ring_idx, n - m, m))
        # gate [1, H, n] weighs the global branch; o_proj and the MLP give [D, n]
        return self._finish_layer(j, r, self._mix(self._gate(j, r, q, n), glob, loc), n)

    def _ring_plus_chunk(self, ring: Tensor, k: Tensor) -> Tensor:
        """Keys of the local branch: the W+1 ring slots, then the chunk's own rows -> [d, W+1+n, Hkv]."""
        o, c = self._o, self.cfg
        rs = ring.contents
        if rs.type not in (ggml.TYPE_F16, ggml.TYPE_F32):
            # a block-type ring: widen it for concat, and round the chunk's own rows through the
            # block type as the ring will hold them (every chunking then sees the same keys)
            ring, k = o.cast(ring, ggml.TYPE_F32), o.cast(o.cast(k, rs.type), ggml.TYPE_F32)
        ring3 = o.reshape_3d(ring, c.head_dim, c.num_kv_heads, rs.ne[1])
        if k.contents.type != ring.contents.type:
            k = o.cast(k, ring.contents.type)
        return o.permute(o.concat(ring3, k, 2), 0, 2, 1, 3)

    # -- decode (fused cross-loop step) ---------------------------------------------------------------------

    def _decode(self, plan: Plan) -> tuple[Inputs, Tensor]:
        o, c, st, L = self._o, self.cfg, self.st, self.loops
        ids, pos = o.input(ggml.TYPE_I32, 1), o.input(ggml.TYPE_I32, L)  # [1] token t, [L] all = t
        kv_idx = o.input(ggml.TYPE_I32, 1)  # [1] the cache row of position t
        inputs = Inputs(ids, pos, kv_idx, o.input(ggml.TYPE_F16, plan.n_kv, L))  # mask [n_kv, L]
        emb = o.get_rows(self.w.get(Tensors.TOKEN_EMBD), ids)  # [D, 1]
        x = emb
        if L > 1:  # row l >= 1: a * e_t + b * c_{l-1}
            later = o.add(o.scale(self._rows(st.carry, 0, L - 1), c.hidden_scale), o.scale(emb, c.emb_scale))
            x = o.concat(emb, later, 1)  # [D, L]: column l is loop l's input at this step
            inputs.ring_idx = o.input(ggml.TYPE_I32, 1)  # [1] ring slot of position t
            inputs.mask_local = o.input(ggml.TYPE_F16, c.local_keys, 1)  # [K, 1]
        for j in range(c.num_layers):  # ONE pass over the weights: every matmul takes L columns
            x = self._decode_layer(j, x, plan, inputs)  # [D, L]
        normed = self._final_norm(x)  # [D, L]
        for loop in range(L - 1):  # carries for the next step, after all reads
            src = normed if c.normalize_per_loop else x
            self._deferred.append(o.cpy(self._rows(src, loop, 1), self._rows(st.carry, loop, 1)))
        return inputs, self._mm(self.output, self._rows(normed, L - 1, 1))  # [V, 1] from the last loop

    def _decode_layer(self, j: int, r: Tensor, plan: Plan, inputs: Inputs) -> Tensor:
        o, c, st, L = self._o, self.cfg, self.st, self.loops
        q, k, v = self._qkv(j, r, L, inputs.pos)  # q [d, H, L], k and v [d, Hkv, L]
        self._expand(self._write_rows(st.k[j], k, inputs.kv_idx, 0, 1))  # only loop 0's K/V ...
        self._expand(self._write_global_v(j, v, inputs.kv_idx, 1))  # ... enter the global cache
        for loop in range(1, L):  # loop l's K/V (column l) into its own ring
            self._expand(self._write_rows(st.ring_k[loop - 1][j], k, inputs.ring_idx, loop, 1))
            self._expand(self._write_rows(st.ring_v[loop - 1][j], v, inputs.ring_idx, loop, 1))
        glob = self._attend_global(j, q, plan.n_kv, inputs.mask_global)  # [d, H, L], all L rows
        if L == 1:
            return self._finish_layer(j, r, glob, 1)
        rows = [self._slice3(glob, 0, 1)]  # loop 0: global attention only, [d, H, 1]
        gates = self._gate(j, self._rows(r, 1, L - 1), self._slice3(q, 1, L - 1), L - 1)  # [1, H, L-1]
        for loop in range(1, L):
            ring_k, ring_v = st.ring_k[loop - 1][j], st.ring_v[loop - 1][j]  # [Hkv*d, K]
            q_l = self._slice3(q, loop, 1)
            loc = self.kernels.attend(o.ctx, q_l, ring_k, ring_v, inputs.mask_local, self.scale)
            if loc is None:  # [d, H, 1] over the K ring keys
                k_ring, v_ring = (
                    self._cache_view(ring_k, c.local_keys),
                    self._cache_view(ring_v, c.local_keys),
                )
                loc = self._attend(q_l, k_ring, v_ring, inputs.mask_local)
            rows.append(self._mix(self._slice3(gates, loop - 1, 1), self._slice3(glob, loop, 1), loc))
        att = rows[0]
        for row in rows[1:]:
            att = o.concat(att, row, 2)  # [d, H, L]
        return self._finish_layer(j, r, att, L)  # [D, L]
