"""Run a PLT model on ggml: prefill chunks and decode steps over one sequence's state.

`Runner` owns the backend, the weights, the state and a small cache of built graphs. It
takes token ids and returns float32 logits; it validates every id and the context size
before ggml sees them. Decode modes:
- `fused`: all loops of a step as rows of one pass over the weights (PLT's point);
- `serial`: the loops one after another (a one-token prefill), as the vendor runtime does.
IQuest-Coder-V1-Loop models (plt-model.md §5) always decode serially: loop 1 at step t needs
loop 0's output at step t, so a step is two passes over the weights (`decode_passes`).

Every weight multiplication runs on the kernels `kernels` selects (`engine.loopkernels`:
auto, ggml or loop); `Runner.kernels` says which ran.

Knows nothing about text, sampling or prefix reuse (see `engine.session`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from engine import ggml
from engine.backend import Backend, Weights, tensor_to_numpy
from engine.errors import EngineError
from engine.gguf_file import ModelFile, with_context
from engine.graph import Built, GraphBuilder, Plan
from engine.loopkernels import select as select_kernels
from engine.memory import Budget, Planner
from engine.state import KV_TYPES, State, check_kv_type

NEG_INF = np.float16(-np.inf)
DECODE_MODES = ("fused", "serial")
AUTO_CONTEXT_SHARE = 0.9  # a context chosen for the user leaves 10% of the free memory to others


class Runner:
    def __init__(
        self,
        model: ModelFile,
        *,
        n_ctx: int | None = None,
        threads: int | None = None,
        device: str = "auto",
        kv_type: str = "f16",
        loops: int | None = None,
        decode_mode: str = "fused",
        kernels: str | None = None,
        kv_pad: int = 256,
        max_graphs: int = 6,
        backend: Backend | None = None,
        weights: Weights | None = None,
        fit_context: bool = False,
        check_memory: bool = True,
        memory_limit: int | None = None,
    ):
        """`n_ctx=None` is the model's trained length. Before the cache is allocated, the memory
        the context needs (engine.memory) is compared with what the machine has: a context that
        does not fit raises EngineError saying what would, or with `fit_context` shrinks to the
        longest that fits in 90% of the available memory. `memory_limit` (bytes) stands in for
        the machine's available memory."""
        if decode_mode not in DECODE_MODES:
            raise EngineError(f"decode mode must be one of {', '.join(DECODE_MODES)}, got {decode_mode!r}")
        if loops is not None and not 1 <= loops <= model.config.loops:
            raise EngineError(f"loops must be between 1 and {model.config.loops}, got {loops}")
        self.g = ggml.lib()
        self.model = model
        self.config = with_context(model, n_ctx)
        self.decode_mode, self.kv_pad, self.max_graphs = decode_mode, kv_pad, max_graphs
        check_kv_type(self.config, kv_type)
        self.backend = backend or Backend(device, threads)
        self._own_weights = weights is None
        self.weights = weights or Weights(model, self.backend)
        self.budget: Budget | None = None
        try:
            self.kernels = select_kernels(kernels, cpu=self.backend.is_cpu)
            if check_memory:
                self._check_memory(kv_type, loops or model.config.loops, fit_context, memory_limit)
        except EngineError:
            self._close_weights()
            raise
        self.n_ctx = self.config.context_length
        v_rows = self.kernels.attends(KV_TYPES[kv_type])  # libpltk's attention reads V as rows
        self.state = State(self.config, self.backend, self.n_ctx, kv_type, loops, v_rows=v_rows)
        self.builder = GraphBuilder(self.config, self.weights, self.state, self.kernels)
        self._graphs: OrderedDict[Plan, Built] = OrderedDict()
        # one compute buffer for every graph: graphs run one at a time, so a graph's tensors are
        # (re)placed in it whenever it runs after another one (`_placed`)
        self._alloc = self.g.ggml_gallocr_new(
            self.g.ggml_backend_get_default_buffer_type(self.backend.handle)
        )
        self._placed: Plan | None = None

    def _check_memory(self, kv_type: str, loops: int, fit: bool, limit: int | None) -> None:
        planner = Planner(
            self.config, self.weights, self.backend, loops, memory_limit=limit, kernels=self.kernels
        )
        n_ctx = self.config.context_length
        budget = planner.budget(n_ctx, kv_type)
        if not budget.fits and fit:
            chosen = planner.largest_context(kv_type, n_ctx, share=AUTO_CONTEXT_SHARE)
            if chosen:
                self.config = replace(self.config, context_length=chosen)
                budget = planner.budget(chosen, kv_type)
        if not budget.fits:
            raise EngineError(budget.refusal(planner.alternatives(kv_type, n_ctx)))
        self.budget = budget

    @property
    def loops(self) -> int:
        return self.state.loops

    @property
    def fused(self) -> bool:
        """Whether a decode step runs all loops as rows of one pass (never for V1)."""
        return self.decode_mode == "fused" and not self.config.is_v1 and self.loops > 1

    @property
    def decode_passes(self) -> int:
        """Passes over the layer weights per decode step: 1 fused, else one per loop."""
        return 1 if self.fused or self.loops == 1 else self.loops

    @property
    def n_past(self) -> int:
        return self.state.n_past

    # -- public steps -----------------------------------------------------------------------------------

    def prefill(
        self,
        ids: list[int],
        *,
        chunk: int = 512,
        all_logits: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """Process `ids` after the current position; logits [n, vocab] (or [1, vocab], last only).

        `progress(done, total)` is called after each chunk (tokens of `ids` processed so far)."""
        self._check(ids)
        out = []
        for start in range(0, len(ids), max(1, chunk)):
            part = ids[start : start + chunk]
            last = start + len(part) == len(ids)
            logits = self._run_prefill(part, all_logits)
            if all_logits or last:
                out.append(logits)
            if progress is not None:
                progress(start + len(part), len(ids))
        return np.concatenate(out, axis=0)

    def decode(self, token: int) -> np.ndarray:
        """One decode step for `token` at the current position; logits [vocab]."""
        self._check([token])
        if self.decode_mode == "serial" or self.config.is_v1:
            return self._run_prefill([token], False)[0]
        return self._run_decode(token)

    def reset(self) -> None:
        self.state.reset()

    # -- validation ---------------------------------------------------------------------------------------

    def _check(self, ids: list[int]) -> None:
        if len(ids) == 0:
            raise EngineError("no tokens to process (empty prompt)")
        arr = np.asarray(ids)
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise EngineError("token ids must be a flat list of integers")
        vocab = self.config.vocab_size
        bad = arr[(arr < 0) | (arr >= vocab)]
        if bad.size:
            raise EngineError(f"token id {int(bad[0])} is out of range for a vocabulary of {vocab}")
        if self.n_past + len(ids) > self.n_ctx:
            raise EngineError(
                f"{self.n_past + len(ids)} tokens exceed the context size of {self.n_ctx} "
                f"({self.n_past} cached + {len(ids)} new)"
            )

    # -- graphs -------------------------------------------------------------------------------------------

    def _span(self, end: int) -> int:
        return min(-(-end // self.kv_pad) * self.kv_pad, self.n_ctx)

    def _graph(self, plan: Plan) -> Built:
        """The graph of `plan`, built once, placed in the compute buffer, its cache rows finite."""
        built = self._graphs.get(plan)
        if built is None:
            built = self.builder.build(plan)
            missing = [] if self.backend.is_cpu else self.backend.unsupported(built.graph)
            if missing:  # a GPU backend would abort the process on them
                self.g.ggml_free(built.ctx)
                raise EngineError(
                    f"the {self.backend.name} backend cannot run {', '.join(missing[:4])} "
                    f"for this model ({plan.kind} graph); run it with --device cpu"
                )
            self._graphs[plan] = built
            while len(self._graphs) > self.max_graphs:
                old_plan, old = self._graphs.popitem(last=False)
                self.g.ggml_free(old.ctx)
                if old_plan == self._placed:
                    self._placed = None
        self._graphs.move_to_end(plan)
        if self._placed != plan:
            self._place(built)
            self._placed = plan
        self.state.ensure_zeroed(plan.n_kv)
        return built

    def _place(self, built: Built) -> None:
        """Give the graph's tensors addresses in the shared compute buffer. Addresses from an
        earlier placement are forgotten first (the buffer may have moved since, and ggml keeps
        any tensor that has an address), and the plan is made afresh for this graph (ggml's
        own check only compares node counts and sizes, which another graph can match)."""
        g = self.g
        t = g.ggml_get_first_tensor(built.ctx)
        while t:
            t.contents.data, t.contents.buffer = None, None
            t = g.ggml_get_next_tensor(built.ctx, t)
        if not (
            g.ggml_gallocr_reserve(self._alloc, built.graph)
            and g.ggml_gallocr_alloc_graph(self._alloc, built.graph)
        ):
            raise EngineError(f"not enough memory for the compute graph of {built.plan}")
        # new addresses: a new uid, so a GPU backend captures it afresh and then replays it
        ggml.mark_graph_reusable(built.graph, renew=True)

    def compute_buffer_bytes(self) -> int:
        return int(self.g.ggml_gallocr_get_buffer_size(self._alloc, 0))

    def _set(self, tensor, array: np.ndarray) -> None:  # noqa: ANN001 - ggml tensor pointer
        array = np.ascontiguousarray(array)
        self.g.ggml_backend_tensor_set(tensor, array.ctypes.data, 0, array.nbytes)

    def _run(self, built: Built) -> np.ndarray:
        self.backend.compute(built.graph)
        logits = tensor_to_numpy(built.logits).reshape(-1, self.config.vocab_size)
        if not np.isfinite(logits).all():  # never hand NaN to a sampler or a parity check
            raise EngineError(
                f"{self.model.path}: the model computed NaN or infinite logits; "
                "its weights are damaged or out of range"
            )
        return logits

    # -- prefill ------------------------------------------------------------------------------------------

    def _run_prefill(self, ids: list[int], all_logits: bool) -> np.ndarray:
        p0, n = self.n_past, len(ids)
        plan = Plan("prefill", n, self._span(p0 + n), all_logits or n == 1)
        built = self._graph(plan)
        inp = built.inputs
        positions = np.arange(p0, p0 + n, dtype=np.int32)
        self._set(inp.ids, np.asarray(ids, dtype=np.int32))
        self._set(inp.pos, positions)
        self._set(inp.kv_idx, positions)
        self._set(inp.mask_global, self._causal_mask(positions, plan.n_kv))
        if self.loops > 1:
            w1 = self.config.local_keys
            m = min(n, w1)
            self._set(inp.ring_idx, (positions[n - m :] % w1).astype(np.int32))
            self._set(inp.mask_local, self._local_prefill_mask(p0, n))
        logits = self._run(built)
        self.state.n_past = p0 + n
        return logits

    @staticmethod
    def _causal_mask(positions: np.ndarray, n_kv: int) -> np.ndarray:
        keys = np.arange(n_kv)
        return np.where(keys[None, :] <= positions[:, None], np.float16(0), NEG_INF).astype(np.float16)

    def _local_prefill_mask(self, p0: int, n: int) -> np.ndarray:
        """Rows: chunk queries; columns: the W+1 ring slots (as of p0), then the chunk's keys."""
        w = self.config.window
        query = p0 + np.arange(n)[:, None]
        slot_pos = self.state.slot_positions(p0)[None, :]
        ring_ok = (slot_pos >= 0) & (slot_pos >= query - w)
        key = p0 + np.arange(n)[None, :]
        chunk_ok = (key <= query) & (key >= query - w)
        ok = np.concatenate([ring_ok, chunk_ok], axis=1)
        return np.where(ok, np.float16(0), NEG_INF).astype(np.float16)

    # -- decode -------------------------------------------------------------------------------------------

    def _run_decode(self, token: int) -> np.ndarray:
        t, L = self.n_past, self.loops
        plan = Plan("decode", 1, self._span(t + 1))
        built = self._graph(plan)
        inp = built.inputs
        self._set(inp.ids, np.array([token], dtype=np.int32))
        self._set(inp.pos, np.full(L, t, dtype=np.int32))
        self._set(inp.kv_idx, np.array([t], dtype=np.int32))
        self._set(inp.mask_global, self._causal_mask(np.full(L, t), plan.n_kv))
        if L > 1:
            self._set(inp.ring_idx, np.array([t % self.config.local_keys], dtype=np.int32))
            valid = self.state.slot_positions(t + 1) >= 0
            self._set(inp.mask_local, np.where(valid, np.float16(0), NEG_INF).astype(np.float16)[None, :])
        logits = self._run(built)
        self.state.n_past = t + 1
        return logits[0]

    # -- lifetime -----------------------------------------------------------------------------------------

    def close(self) -> None:
        for built in self._graphs.values():
            self.g.ggml_free(built.ctx)
        self._graphs.clear()
        if self._alloc:
            self.g.ggml_gallocr_free(self._alloc)
            self._alloc = None
        self.state.close()
        self._close_weights()

    def _close_weights(self) -> None:
        if self._own_weights:
            self.weights.close()
            self.backend.close()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
