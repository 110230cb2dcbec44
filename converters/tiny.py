"""Random tiny checkpoints in the exact layout of the LoopCoder-V2 release (plt-model.md §6).

`make_tiny(out_dir, **options)` writes `config.json` (every field of §1), a BF16
safetensors checkpoint split into `model-0000i-of-0000n.safetensors` shards with
`model.safetensors.index.json` (or one `model.safetensors` when `shards=1`),
`generation_config.json`, a real byte-level BPE `tokenizer.json` whose size is the
model's `vocab_size`, and `tokenizer_config.json` with a chat template.

Weights are random normals (std 0.2 for matrices, 0.1 for the gate weight), norms are
1 + N(0, 0.1) and gate biases U(-1, 1), so the gate lands well inside (0, 1). Each tensor
is drawn from its own generator seeded by (seed, tensor name), so its values do not
depend on the shard split. `llama=True` writes a plain `LlamaForCausalLM` (no plt keys,
no gate); `gate="query"` writes the V1-style [heads, head_dim] gate with no gate_norm.
`family="v1"` writes an IQuest-Coder-V1-Loop checkpoint (`IQuestLoopCoderForCausalLM`,
plt-model.md §5): `loop_num` = loops, `loop_window_size` = window (local keys INCLUDING the
current one; for V2 `window` is the left context W), and per layer
`model.gate_projections.{j}.weight` [heads, head_dim] and `.bias` [heads] (U(-1, 1), not the
release's +2.0, so the local branch stays loud).
This module knows the HF names and shapes only; it does not know GGUF.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from converters import tiny_tokenizer
from converters.errors import ConvertError
from converters.safetensors_io import INDEX_NAME, SINGLE_NAME, write_safetensors


@dataclass(frozen=True)
class TinyOptions:
    """Every knob of a tiny checkpoint. `vocab=None` means the tokenizer's default size."""

    seed: int = 0
    loops: int = 2
    layers: int = 2
    hidden: int = 64
    heads: int = 4
    kv_heads: int = 2
    head_dim: int = 16
    intermediate: int = 128
    vocab: int | None = None
    window: int = 4
    emb_scale: float | None = 0.707
    hidden_scale: float | None = 0.5
    gate: str = "hidden"  # hidden | query
    normalize_per_loop: bool = True
    shards: int = 2
    llama: bool = False
    tied: bool = False
    max_position: int = 512
    rope_theta: float = 10000.0
    rms_eps: float = 1e-5
    family: str = "v2"  # v2 (LoopCoder-V2) | v1 (IQuest-Coder-V1-Loop)

    @property
    def vocab_size(self) -> int:
        return self.vocab if self.vocab is not None else DEFAULT_VOCAB

    def validate(self) -> None:
        """ConvertError naming the first bad option."""
        problem = None
        if self.family not in ("v1", "v2"):
            problem = f"family must be 'v1' or 'v2', got {self.family!r}"
        elif self.family == "v1" and (self.llama or self.loops < 2 or self.window < 1):
            problem = "a v1 checkpoint has loops >= 2 and window (loop_window_size) >= 1, and is not llama"
        elif self.gate not in ("hidden", "query"):
            problem = f"gate must be 'hidden' or 'query', got {self.gate!r}"
        elif min(self.layers, self.hidden, self.heads, self.kv_heads, self.head_dim, self.intermediate) < 1:
            problem = "layers, hidden, heads, kv_heads, head_dim and intermediate must be >= 1"
        elif self.heads % self.kv_heads:
            problem = f"heads {self.heads} is not a multiple of kv_heads {self.kv_heads}"
        elif self.head_dim % 2:
            problem = f"head_dim must be even for RoPE, got {self.head_dim}"
        elif self.loops < 1 or self.window < 0 or self.shards < 1:
            problem = "loops and shards must be >= 1 and window >= 0"
        elif not tiny_tokenizer.MIN_VOCAB <= self.vocab_size <= tiny_tokenizer.MAX_VOCAB:
            problem = f"vocab must be between {tiny_tokenizer.MIN_VOCAB} and {tiny_tokenizer.MAX_VOCAB}"
        if problem:
            raise ConvertError(f"make-tiny: {problem}")


DEFAULT_VOCAB = 384


def make_tiny(out_dir: str | Path, **options: object) -> Path:
    """Write a tiny random checkpoint to `out_dir` (created if needed) and return its path.

    Keyword options are the fields of `TinyOptions`.
    """
    unknown = set(options) - set(TinyOptions.__dataclass_fields__)
    if unknown:
        raise TypeError(f"make_tiny got unknown options {sorted(unknown)}")
    opts = TinyOptions(**options)  # type: ignore[arg-type]
    opts.validate()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_shards(out, opts)
    _write_json(out / "config.json", hf_config(opts))
    _write_json(out / "generation_config.json", generation_config(opts))
    (out / "tokenizer.json").write_text(tiny_tokenizer.tokenizer_json(opts.vocab_size))
    _write_json(
        out / "tokenizer_config.json", tiny_tokenizer.tokenizer_config(opts.vocab_size, opts.max_position)
    )
    return out


def hf_config(opts: TinyOptions) -> dict:
    """`config.json`: every field of plt-model.md §1 (the Llama subset for `llama=True`)."""
    cfg: dict[str, object] = {
        "architectures": [_ARCHS[_kind(opts)][0]],
        "model_type": _ARCHS[_kind(opts)][1],
        "vocab_size": opts.vocab_size,
        "hidden_size": opts.hidden,
        "intermediate_size": opts.intermediate,
        "num_hidden_layers": opts.layers,
        "num_attention_heads": opts.heads,
        "num_key_value_heads": opts.kv_heads,
        "head_dim": opts.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": opts.max_position,
        "initializer_range": 0.02,
        "rms_norm_eps": opts.rms_eps,
        "use_cache": True,
        "bos_token_id": tiny_tokenizer.token_ids(opts.vocab_size)["<s>"],
        "eos_token_id": tiny_tokenizer.eos_ids(opts.vocab_size),
        "pad_token_id": None,
        "tie_word_embeddings": opts.tied,
        "rope_theta": opts.rope_theta,
        "rope_scaling": None,
        "attention_bias": False,
        "mlp_bias": False,
        "attention_dropout": 0.0,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.57.1",
    }
    if opts.family == "v1":
        cfg.update(loop_num=opts.loops, loop_window_size=opts.window)
    elif not opts.llama:
        cfg.update(
            plt_num_loops=opts.loops,
            plt_window_size=[opts.window, 0],
            plt_normalize_per_loop=opts.normalize_per_loop,
            plt_emb_scale=opts.emb_scale,
            plt_hidden_scale=opts.hidden_scale,
            plt_gate_use_hidden_states=opts.gate == "hidden",
        )
    return cfg


_ARCHS = {
    "llama": ("LlamaForCausalLM", "llama"),
    "v1": ("IQuestLoopCoderForCausalLM", "iquestloopcoder"),
    "v2": ("IQuestPLTCoderForCausalLM", "iquestpltcoder"),
}


def _kind(opts: TinyOptions) -> str:
    return "llama" if opts.llama else opts.family


def generation_config(opts: TinyOptions) -> dict:
    return {
        "_from_model_config": True,
        "bos_token_id": tiny_tokenizer.token_ids(opts.vocab_size)["<s>"],
        "eos_token_id": tiny_tokenizer.eos_ids(opts.vocab_size),
        "transformers_version": "4.57.1",
    }


def hf_shapes(opts: TinyOptions) -> dict[str, tuple[int, ...]]:
    """HF tensor name -> shape, in the order the release stores them."""
    d, f, v = opts.hidden, opts.intermediate, opts.vocab_size
    qd, kvd = opts.heads * opts.head_dim, opts.kv_heads * opts.head_dim
    shapes: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (v, d)}
    for j in range(opts.layers):
        p = f"model.layers.{j}."
        shapes |= {
            p + "input_layernorm.weight": (d,),
            p + "self_attn.q_proj.weight": (qd, d),
            p + "self_attn.k_proj.weight": (kvd, d),
            p + "self_attn.v_proj.weight": (kvd, d),
            p + "self_attn.o_proj.weight": (d, qd),
        }
        if opts.family == "v1":
            pass  # V1's gates live outside the layers (below)
        elif not opts.llama and opts.loops > 1:
            shapes[p + "self_attn.plt_gate.weight"] = (
                opts.heads,
                d if opts.gate == "hidden" else opts.head_dim,
            )
            shapes[p + "self_attn.plt_gate.bias"] = (opts.heads,)
            if opts.gate == "hidden":
                shapes[p + "self_attn.plt_gate.gate_norm.weight"] = (d,)
        shapes |= {
            p + "post_attention_layernorm.weight": (d,),
            p + "mlp.gate_proj.weight": (f, d),
            p + "mlp.up_proj.weight": (f, d),
            p + "mlp.down_proj.weight": (d, f),
        }
    if opts.family == "v1":
        for j in range(opts.layers):
            shapes[f"model.gate_projections.{j}.weight"] = (opts.heads, opts.head_dim)
            shapes[f"model.gate_projections.{j}.bias"] = (opts.heads,)
    shapes["model.norm.weight"] = (d,)
    if not opts.tied:
        shapes["lm_head.weight"] = (v, d)
    return shapes


def hf_tensors(opts: TinyOptions) -> dict[str, np.ndarray]:
    """HF tensor name -> float32 random values (before BF16 rounding)."""
    return {name: _random(opts.seed, name, shape) for name, shape in hf_shapes(opts).items()}


def _random(seed: int, name: str, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    if name.endswith(("plt_gate.bias", ".bias")):
        return rng.uniform(-1.0, 1.0, shape).astype(np.float32)
    if name.endswith("norm.weight"):
        return (1.0 + 0.1 * rng.standard_normal(shape, dtype=np.float32)).astype(np.float32)
    std = 0.1 if name.endswith("plt_gate.weight") else 0.2
    if name.startswith("model.gate_projections."):
        std = 0.1  # the dot with the query (|q_h| ~ 6 here) keeps the gate well inside (0, 1)
    return std * rng.standard_normal(shape, dtype=np.float32)


def _write_shards(out: Path, opts: TinyOptions) -> None:
    """Write the shards one at a time, so only one shard's values are ever in memory."""
    shapes = hf_shapes(opts)
    names, n_shards = list(shapes), opts.shards
    if n_shards > len(names):
        raise ConvertError(f"make-tiny: cannot split {len(names)} tensors into {n_shards} shards")
    if n_shards == 1:
        write_safetensors(out / SINGLE_NAME, hf_tensors(opts), "BF16")
        return
    weight_map, total = {}, 0
    for i, group in enumerate(_split(names, [math.prod(shapes[n]) for n in names], n_shards)):
        shard = f"model-{i + 1:05d}-of-{n_shards:05d}.safetensors"
        values = {n: _random(opts.seed, n, shapes[n]) for n in group}
        total += write_safetensors(out / shard, values, "BF16")
        weight_map |= dict.fromkeys(group, shard)
    _write_json(out / INDEX_NAME, {"metadata": {"total_size": total}, "weight_map": weight_map})


def _split(names: list[str], sizes: list[int], parts: int) -> list[list[str]]:
    """Contiguous, non-empty groups of roughly equal total size."""
    groups: list[list[str]] = []
    cumulative = np.cumsum(sizes)
    start = 0
    for p in range(1, parts + 1):
        remaining_parts = parts - p
        target = cumulative[-1] * p / parts
        end = int(np.searchsorted(cumulative, target, side="left")) + 1
        end = max(start + 1, min(end, len(names) - remaining_parts))
        groups.append(names[start:end])
        start = end
    return groups


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def n_parameters(opts: TinyOptions) -> int:
    """Number of weights the checkpoint holds."""
    return sum(math.prod(s) for s in hf_shapes(opts).values())
