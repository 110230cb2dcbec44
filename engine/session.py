"""Sessions: keep the KV of a token prefix between requests, generate, save and load.

An agent conversation grows append-only, so request N+1 usually extends the tokens already
processed. `Session.feed(prompt)` keeps the longest common prefix and processes only the
rest. For PLT models the state at a position is more than the global KV: the local rings
and the carries of that position are needed too, and they are overwritten as decoding goes
on. So the session keeps snapshots of rings and carries (a few MiB each) at the end of every
prompt and every `snapshot_every` decoded tokens; going back to position c restores the
latest snapshot at or before c and re-runs the tokens between (a short prefill). A plain
one-loop model has no rings or carries and rewinds for free.

Knows tokens, not text: `generate` takes a tokenizer only to check stop strings and stream.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import EngineError
from engine.runtime import Runner
from engine.sampling import Sampler, SamplingParams
from engine.state import Snapshot
from engine.tokenizer import StreamDecoder, Tokenizer

SESSION_FORMAT = 1


@dataclass
class Generation:
    text: str
    token_ids: list[int]
    finish_reason: str  # "eos" | "stop" | "length" | "cancelled"
    n_prompt: int
    n_cached: int  # prompt tokens whose KV was reused
    seconds: float
    prompt_seconds: float = 0.0


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    if n == 0:
        return 0
    diff = np.flatnonzero(np.asarray(a[:n]) != np.asarray(b[:n]))
    return int(diff[0]) if diff.size else n


class Session:
    def __init__(
        self, runner: Runner, *, chunk: int = 512, snapshot_every: int = 256, max_snapshots: int = 8
    ):
        self.runner = runner
        self.chunk, self.snapshot_every, self.max_snapshots = chunk, snapshot_every, max_snapshots
        self.tokens: list[int] = []  # exactly the tokens whose KV is in the cache
        self.snapshots: list[Snapshot] = []
        runner.reset()

    # -- prefix reuse -------------------------------------------------------------------------------------

    def feed(
        self, prompt: Sequence[int], progress: Callable[[int, int], None] | None = None
    ) -> tuple[np.ndarray, int]:
        """Make the cache hold `prompt`; returns (logits after its last token, tokens reused).

        `progress(done, total)`: prompt tokens in the cache so far (reused ones included), after
        each prefill chunk."""
        prompt = [int(t) for t in prompt]
        if not prompt:
            raise EngineError("empty prompt: nothing to process")
        keep = min(common_prefix(self.tokens, prompt), len(prompt) - 1)
        self._rewind(keep)
        report = None if progress is None else (lambda done, _n: progress(keep + done, len(prompt)))
        logits = self.runner.prefill(prompt[keep:], chunk=self.chunk, progress=report)[-1]
        self.tokens = prompt
        self._snapshot()
        return logits, keep

    def _rewind(self, n: int) -> None:
        if n == len(self.tokens):
            return
        if self.runner.loops == 1:
            self.runner.state.n_past = n  # the global cache alone is the state
        else:
            usable = [s for s in self.snapshots if s.n_past <= n]
            self.snapshots = usable
            if usable:
                self.runner.state.restore(usable[-1])
            else:
                self.runner.reset()
            start = self.runner.n_past
            if n > start:
                self.runner.prefill(self.tokens[start:n], chunk=self.chunk)
        self.tokens = self.tokens[:n]

    def _snapshot(self) -> None:
        if self.runner.loops == 1:
            return
        if self.snapshots and self.snapshots[-1].n_past == self.runner.n_past:
            return
        self.snapshots.append(self.runner.state.snapshot())
        if len(self.snapshots) > self.max_snapshots:
            del self.snapshots[1]  # keep the oldest (shared system prompt) and the recent ones

    def reset(self) -> None:
        self.runner.reset()
        self.tokens, self.snapshots = [], []

    # -- decoding -----------------------------------------------------------------------------------------

    def step(self, token: int) -> np.ndarray:
        """Append one token; logits for the next position."""
        logits = self.runner.decode(token)
        self.tokens.append(int(token))
        if self.snapshot_every and self.runner.n_past % self.snapshot_every == 0:
            self._snapshot()
        return logits

    def generate(
        self,
        prompt_ids: Sequence[int],
        params: SamplingParams,
        tokenizer: Tokenizer,
        *,
        max_tokens: int = 256,
        stop: Sequence[str] = (),
        on_text: Callable[[str], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        on_prefill: Callable[[int, int], None] | None = None,
    ) -> Generation:
        start = time.perf_counter()
        logits, reused = self.feed(prompt_ids, on_prefill)
        prompt_seconds = time.perf_counter() - start
        sampler, stream = Sampler(params), StreamDecoder(tokenizer)
        out: list[int] = []
        text, held, finish = "", "", "length"
        room = self.runner.n_ctx - len(self.tokens)
        for _ in range(min(max_tokens, room)):
            if should_stop and should_stop():
                finish = "cancelled"
                break
            token = sampler(logits, self.tokens + out)
            if token in tokenizer.eos_ids:
                finish = "eos"
                break
            out.append(token)
            held += stream.push(token)
            cut = _find_stop(held, stop)
            if cut is not None:
                text += held[:cut]
                if on_text and cut:
                    on_text(held[:cut])
                held, finish = "", "stop"
                break
            safe = len(held) - _partial_stop(held, stop)
            if safe > 0:
                text += held[:safe]
                if on_text:
                    on_text(held[:safe])
                held = held[safe:]
            if len(out) < min(max_tokens, room):
                logits = self.step(token)
        if finish in ("length", "eos", "cancelled") and held:
            text += held
            if on_text:
                on_text(held)
        return Generation(
            text, out, finish, len(prompt_ids), reused, time.perf_counter() - start, prompt_seconds
        )

    # -- persistence --------------------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write tokens, global KV rows, rings and carries to `path` (an .npz file)."""
        st, n = self.runner.state, self.runner.n_past
        meta = {
            "format": SESSION_FORMAT,
            "model": _fingerprint(self.runner),
            "n_past": n,
            "tokens": self.tokens,
            "kv_type": st.kv_type,
            "loops": st.loops,
        }
        arrays = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
        for j in range(self.runner.config.num_layers):
            for which in ("k", "v"):
                arrays[f"{which}{j}"] = np.frombuffer(st.global_rows(j, which, n), dtype=np.uint8)
        for i, blob in enumerate(st.snapshot().blobs):
            arrays[f"small{i}"] = np.frombuffer(blob, dtype=np.uint8)
        tmp = Path(f"{path}.tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(path)

    def load(self, path: str | Path) -> None:
        """Restore a session written by `save` for the same model and settings."""
        try:
            data = np.load(path)
            meta = json.loads(bytes(data["meta"]).decode())
        except (OSError, ValueError, KeyError, RecursionError) as exc:
            raise EngineError(f"{path}: not a saved session ({exc})") from None
        if not isinstance(meta, dict) or not isinstance(meta.get("n_past"), int):
            raise EngineError(f"{path}: not a saved session (no readable metadata)")
        st = self.runner.state
        expected = {
            "format": SESSION_FORMAT,
            "model": _fingerprint(self.runner),
            "kv_type": st.kv_type,
            "loops": st.loops,
        }
        for key, value in expected.items():
            if meta.get(key) != value:
                raise EngineError(
                    f"{path}: saved for a different {key} ({meta.get(key)!r}, expected {value!r})"
                )
        if meta["n_past"] > self.runner.n_ctx:
            raise EngineError(
                f"{path}: {meta['n_past']} saved tokens exceed the context size {self.runner.n_ctx}"
            )
        sizes = [len(b) for b in st.snapshot().blobs]
        try:
            rows = [[data[f"{which}{j}"].tobytes() for which in ("k", "v")] for j in range(len(st.k))]
            blobs = [data[f"small{i}"].tobytes() for i in range(len(sizes))]
            tokens = [int(t) for t in meta["tokens"]]
        except (KeyError, ValueError, TypeError) as exc:
            raise EngineError(f"{path}: not a saved session ({exc})") from None
        if [len(b) for b in blobs] != sizes or len(tokens) != meta["n_past"]:
            raise EngineError(f"{path}: the saved session does not match this model's state")
        for j, (k, v) in enumerate(rows):
            st.set_global_rows(j, "k", k)
            st.set_global_rows(j, "v", v)
        st.restore(Snapshot(meta["n_past"], blobs))
        self.tokens = tokens
        self.snapshots = [st.snapshot()] if st.loops > 1 else []


def _fingerprint(runner: Runner) -> str:
    model = runner.model
    size = model.path.stat().st_size
    cfg = model.config
    return f"{cfg.arch}:{size}:{len(model.tensors)}:{cfg.hidden_size}x{cfg.num_layers}"


def _find_stop(text: str, stop: Sequence[str]) -> int | None:
    hits = [text.find(s) for s in stop if s and s in text]
    return min(hits) if hits else None


def _partial_stop(text: str, stop: Sequence[str]) -> int:
    """Length of the longest tail of `text` that is a proper prefix of a stop string (held back)."""
    best = 0
    for s in stop:
        for k in range(min(len(s) - 1, len(text)), best, -1):
            if text.endswith(s[:k]):
                best = k
                break
    return best
