"""The PLT GGUF layout: architecture name, metadata keys, tensor names, and the model config.

Pure data plus one frozen dataclass. The converter writes GGUF files from these names and the
engine's loader validates files against them, so the two cannot drift apart. The ranges a
config may hold (`field_problem`, `config_problem`, `check_config`) live here too, so the
loader and the converter refuse the same hostile values. This module imports nothing from
the rest of the project and does no I/O.

Architecture `pltcoder` is ours (llama.cpp has no PLT architecture) for LoopCoder-V2;
`iquestloopcoder` (ARCH_V1) is ours too, for IQuest-Coder-V1-Loop (plt-model.md §5): its own
metadata keys and gate tensors, so neither family's file can pass for the other's. In a
PLTConfig the V1 family is `arch == ARCH_V1` (`is_v1`): loop l >= 1 reads loop l-1's raw output
at the same slot, there is no norm between loops, the gate is the query-mode gate, and
`window` is still the left context W (the local branch sees W + 1 = loop_window_size keys).
A plain Llama-family model is the special case `loops = 1, gate_mode = "none"`. GGUF files
written by llama.cpp itself (architecture `llama`) use the same tensor names with Q/K rows permuted for
llama.cpp's interleaved RoPE; `ARCH_LLAMA` marks them and `rope_neox` is False for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from engine.limits import GATE_MODES, MAX_INT32, MAX_WINDOW, as_int, field_problem, short_repr

ARCH = "pltcoder"
ARCH_LLAMA = "llama"
ARCH_V1 = "iquestloopcoder"
SUPPORTED_ARCHS = (ARCH, ARCH_V1, ARCH_LLAMA)
FORMAT_VERSION = 1


# HF `architectures[0]` values we can read, and what they map to.
HF_PLT_ARCHS = ("IQuestPLTCoderForCausalLM",)
HF_V1_ARCHS = ("IQuestLoopCoderForCausalLM",)
HF_LLAMA_ARCHS = ("LlamaForCausalLM",)
SUPPORTED_HF_ARCHS = HF_PLT_ARCHS + HF_V1_ARCHS + HF_LLAMA_ARCHS
# config.json `model_type` each HF architecture must carry (when the key is present).
HF_MODEL_TYPES = {
    "IQuestPLTCoderForCausalLM": "iquestpltcoder",
    "IQuestLoopCoderForCausalLM": "iquestloopcoder",
    "LlamaForCausalLM": "llama",
}
# The loop keys of each family's config.json; a config holding the other family's keys is refused.
HF_V2_LOOP_KEYS = (
    "plt_num_loops",
    "plt_window_size",
    "plt_normalize_per_loop",
    "plt_emb_scale",
    "plt_hidden_scale",
    "plt_gate_use_hidden_states",
)
HF_V1_LOOP_KEYS = ("loop_num", "loop_window_size")


class ArchError(ValueError):
    """A config that does not describe a model we can run; the message names the key."""


class Keys:
    """GGUF metadata keys. `{arch}` is the architecture name."""

    GENERAL_ARCH = "general.architecture"
    GENERAL_NAME = "general.name"
    GENERAL_FILE_TYPE = "general.file_type"
    PLT_FORMAT_VERSION = "pltcoder.format_version"

    CONTEXT_LENGTH = "{arch}.context_length"
    EMBEDDING_LENGTH = "{arch}.embedding_length"
    FEED_FORWARD_LENGTH = "{arch}.feed_forward_length"
    BLOCK_COUNT = "{arch}.block_count"
    VOCAB_SIZE = "{arch}.vocab_size"
    HEAD_COUNT = "{arch}.attention.head_count"
    HEAD_COUNT_KV = "{arch}.attention.head_count_kv"
    KEY_LENGTH = "{arch}.attention.key_length"
    VALUE_LENGTH = "{arch}.attention.value_length"
    RMS_EPS = "{arch}.attention.layer_norm_rms_epsilon"
    ROPE_FREQ_BASE = "{arch}.rope.freq_base"

    # PLT-specific keys (only in `pltcoder` files).
    LOOP_COUNT = "pltcoder.plt.loop_count"
    WINDOW_SIZE = "pltcoder.plt.window_size"  # W: the local branch sees W + 1 keys
    EMB_SCALE = "pltcoder.plt.emb_scale"
    HIDDEN_SCALE = "pltcoder.plt.hidden_scale"
    NORMALIZE_PER_LOOP = "pltcoder.plt.normalize_per_loop"
    GATE_MODE = "pltcoder.plt.gate_mode"  # one of GATE_MODES
    GATE_NORM_EPS = "pltcoder.plt.gate_norm_epsilon"
    EOS_TOKEN_IDS = "pltcoder.eos_token_ids"  # every id that ends generation

    # IQuest-Coder-V1-Loop keys (only in `iquestloopcoder` files).
    V1_FORMAT_VERSION = "iquestloopcoder.format_version"
    V1_LOOP_COUNT = "iquestloopcoder.loop.count"
    V1_WINDOW_SIZE = "iquestloopcoder.loop.window_size"  # local keys INCLUDING the current one
    V1_EOS_TOKEN_IDS = "iquestloopcoder.eos_token_ids"

    # What the llama.cpp fork's V1-Loop GGUFs carry (refused: see engine.gguf_file).
    FORK_LOOP_NUM = "llama.loop.num"
    FORK_LOOP_WINDOW = "llama.loop.window_size"

    # Tokenizer (standard GGUF keys).
    TOKENIZER_HF_JSON = "tokenizer.huggingface.json"
    CHAT_TEMPLATE = "tokenizer.chat_template"
    BOS_ID = "tokenizer.ggml.bos_token_id"
    EOS_ID = "tokenizer.ggml.eos_token_id"
    ADD_BOS = "tokenizer.ggml.add_bos_token"

    @staticmethod
    def of(key: str, arch: str) -> str:
        return key.format(arch=arch)


class Tensors:
    """GGUF tensor names; `{i}` is the physical layer index."""

    TOKEN_EMBD = "token_embd.weight"
    OUTPUT_NORM = "output_norm.weight"
    OUTPUT = "output.weight"  # absent when the embeddings are tied
    ATTN_NORM = "blk.{i}.attn_norm.weight"
    ATTN_Q = "blk.{i}.attn_q.weight"
    ATTN_K = "blk.{i}.attn_k.weight"
    ATTN_V = "blk.{i}.attn_v.weight"
    ATTN_OUT = "blk.{i}.attn_output.weight"
    FFN_NORM = "blk.{i}.ffn_norm.weight"
    FFN_GATE = "blk.{i}.ffn_gate.weight"
    FFN_UP = "blk.{i}.ffn_up.weight"
    FFN_DOWN = "blk.{i}.ffn_down.weight"
    PLT_GATE = "blk.{i}.plt_gate.weight"  # hidden mode: [H, D]; query mode: [H, head_dim]
    PLT_GATE_BIAS = "blk.{i}.plt_gate.bias"  # [H]
    PLT_GATE_NORM = "blk.{i}.plt_gate_norm.weight"  # hidden mode only: [D]
    LOOP_GATE = "blk.{i}.loop_gate.weight"  # V1: [H, head_dim], dotted with the post-RoPE query
    LOOP_GATE_BIAS = "blk.{i}.loop_gate.bias"  # V1: [H]


# HF checkpoint name -> GGUF name. `{i}` is the layer index.
HF_TO_GGUF: dict[str, str] = {
    "model.embed_tokens.weight": Tensors.TOKEN_EMBD,
    "model.norm.weight": Tensors.OUTPUT_NORM,
    "lm_head.weight": Tensors.OUTPUT,
    "model.layers.{i}.input_layernorm.weight": Tensors.ATTN_NORM,
    "model.layers.{i}.self_attn.q_proj.weight": Tensors.ATTN_Q,
    "model.layers.{i}.self_attn.k_proj.weight": Tensors.ATTN_K,
    "model.layers.{i}.self_attn.v_proj.weight": Tensors.ATTN_V,
    "model.layers.{i}.self_attn.o_proj.weight": Tensors.ATTN_OUT,
    "model.layers.{i}.post_attention_layernorm.weight": Tensors.FFN_NORM,
    "model.layers.{i}.mlp.gate_proj.weight": Tensors.FFN_GATE,
    "model.layers.{i}.mlp.up_proj.weight": Tensors.FFN_UP,
    "model.layers.{i}.mlp.down_proj.weight": Tensors.FFN_DOWN,
    "model.layers.{i}.self_attn.plt_gate.weight": Tensors.PLT_GATE,
    "model.layers.{i}.self_attn.plt_gate.bias": Tensors.PLT_GATE_BIAS,
    "model.layers.{i}.self_attn.plt_gate.gate_norm.weight": Tensors.PLT_GATE_NORM,
    "model.gate_projections.{i}.weight": Tensors.LOOP_GATE,
    "model.gate_projections.{i}.bias": Tensors.LOOP_GATE_BIAS,
}

# Aliases the vendor loader also accepts, mapped to the canonical HF names above.
HF_ALIASES: dict[str, str] = {
    "model.layers.{i}.self_attn.loop_gate_proj.weight": "model.layers.{i}.self_attn.plt_gate.weight",
    "model.layers.{i}.self_attn.loop_gate_proj.bias": "model.layers.{i}.self_attn.plt_gate.bias",
    "model.layers.{i}.self_attn.loop_gate_proj.gate_norm.weight": (
        "model.layers.{i}.self_attn.plt_gate.gate_norm.weight"
    ),
}

# Tensors that stay F32 whatever the requested output type (1-D vectors).
F32_ONLY = frozenset(
    {
        Tensors.ATTN_NORM,
        Tensors.FFN_NORM,
        Tensors.OUTPUT_NORM,
        Tensors.PLT_GATE_BIAS,
        Tensors.PLT_GATE_NORM,
        Tensors.PLT_GATE,
        Tensors.LOOP_GATE,
        Tensors.LOOP_GATE_BIAS,
    }
)

LAYER_TENSORS = (
    Tensors.ATTN_NORM,
    Tensors.ATTN_Q,
    Tensors.ATTN_K,
    Tensors.ATTN_V,
    Tensors.ATTN_OUT,
    Tensors.FFN_NORM,
    Tensors.FFN_GATE,
    Tensors.FFN_UP,
    Tensors.FFN_DOWN,
)
GATE_TENSORS = {
    "hidden": (Tensors.PLT_GATE, Tensors.PLT_GATE_BIAS, Tensors.PLT_GATE_NORM),
    "query": (Tensors.PLT_GATE, Tensors.PLT_GATE_BIAS),
    "none": (),
}
V1_GATE_TENSORS = (Tensors.LOOP_GATE, Tensors.LOOP_GATE_BIAS)


@dataclass(frozen=True)
class PLTConfig:
    """Everything the engine needs to know about a model, as read from a GGUF file.

    `loops = 1, gate_mode = "none"` is a plain Llama-family decoder.
    """

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    context_length: int
    rms_eps: float = 1e-5
    rope_theta: float = 10000.0
    rope_neox: bool = True  # rotate-half (HF) layout; False for llama.cpp-permuted Q/K
    loops: int = 1
    window: int = 0  # W; the local branch sees W + 1 keys
    emb_scale: float = 1.0
    hidden_scale: float = 1.0
    normalize_per_loop: bool = True
    gate_mode: str = "none"
    gate_norm_eps: float = 1e-5
    tied_embeddings: bool = False
    bos_token_id: int | None = None
    eos_token_ids: tuple[int, ...] = field(default_factory=tuple)
    arch: str = ARCH

    def __post_init__(self) -> None:
        if self.gate_mode not in GATE_MODES:
            raise ValueError(f"gate_mode must be one of {GATE_MODES}, got {self.gate_mode!r}")
        if self.loops < 1:
            raise ValueError(f"loops must be >= 1, got {self.loops}")
        if self.num_kv_heads < 1 or self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"num_heads {self.num_heads} is not a multiple of num_kv_heads {self.num_kv_heads}"
            )
        if self.loops > 1 and self.gate_mode == "none":
            raise ValueError("a model with more than one loop needs a gate (hidden or query)")

    @property
    def local_keys(self) -> int:
        """Number of keys the local branch of loops >= 1 attends (W + 1)."""
        return self.window + 1

    @property
    def is_v1(self) -> bool:
        """IQuest-Coder-V1-Loop: raw same-slot loop input, query gate, one final norm (§5)."""
        return self.arch == ARCH_V1

    @property
    def family(self) -> str:
        """'v1' (IQuest-Coder-V1-Loop), 'v2' (LoopCoder-V2 PLT) or 'llama' (one loop)."""
        return "v1" if self.is_v1 else "v2" if self.loops > 1 else "llama"

    @property
    def gate_tensors(self) -> tuple[str, ...]:
        """Per-layer gate tensor names of this config (none for one loop)."""
        if self.loops == 1:
            return ()
        return V1_GATE_TENSORS if self.is_v1 else GATE_TENSORS[self.gate_mode]

    def tensor_names(self) -> list[str]:
        """Every tensor name a file of this config must contain (OUTPUT unless tied)."""
        names = [Tensors.TOKEN_EMBD, Tensors.OUTPUT_NORM]
        if not self.tied_embeddings:
            names.append(Tensors.OUTPUT)
        per_layer = LAYER_TENSORS + self.gate_tensors
        for i in range(self.num_layers):
            names.extend(t.format(i=i) for t in per_layer)
        return names

    def tensor_shapes(self) -> dict[str, tuple[int, ...]]:
        """Expected shape of each tensor, numpy order [out, in] (GGUF ne is the reverse)."""
        d, f, v = self.hidden_size, self.intermediate_size, self.vocab_size
        qd, kvd = self.num_heads * self.head_dim, self.num_kv_heads * self.head_dim
        gate_in = d if self.gate_mode == "hidden" else self.head_dim
        per_layer = {
            Tensors.ATTN_NORM: (d,),
            Tensors.ATTN_Q: (qd, d),
            Tensors.ATTN_K: (kvd, d),
            Tensors.ATTN_V: (kvd, d),
            Tensors.ATTN_OUT: (d, qd),
            Tensors.FFN_NORM: (d,),
            Tensors.FFN_GATE: (f, d),
            Tensors.FFN_UP: (f, d),
            Tensors.FFN_DOWN: (d, f),
            Tensors.PLT_GATE: (self.num_heads, gate_in),
            Tensors.PLT_GATE_BIAS: (self.num_heads,),
            Tensors.PLT_GATE_NORM: (d,),
            Tensors.LOOP_GATE: (self.num_heads, self.head_dim),
            Tensors.LOOP_GATE_BIAS: (self.num_heads,),
        }
        shapes = {Tensors.TOKEN_EMBD: (v, d), Tensors.OUTPUT_NORM: (d,), Tensors.OUTPUT: (v, d)}
        for name in self.tensor_names():
            if name not in shapes:
                template = name.split(".", 2)[2]
                shapes[name] = per_layer["blk.{i}." + template]
        return {n: shapes[n] for n in self.tensor_names()}


def config_problem(cfg: PLTConfig) -> str | None:
    """Why the fields of `cfg` do not fit together (or one is out of range), or None."""
    for f in fields(cfg):
        problem = field_problem(f.name, getattr(cfg, f.name))
        if problem:
            return f"{f.name} {problem}"
    if cfg.num_kv_heads > cfg.num_heads or cfg.num_heads % cfg.num_kv_heads:
        return f"num_heads {cfg.num_heads} is not a multiple of num_kv_heads {cfg.num_kv_heads}"
    for token in (*cfg.eos_token_ids, *(() if cfg.bos_token_id is None else (cfg.bos_token_id,))):
        if token >= cfg.vocab_size:
            return f"token id {token} is outside the vocabulary 0..{cfg.vocab_size - 1}"
    if cfg.loops > 1 and cfg.gate_mode == "none":
        return "a model with more than one loop needs a gate (hidden or query)"
    if cfg.is_v1 and (cfg.gate_mode != "query" or cfg.normalize_per_loop or cfg.loops < 2):
        return "an IQuest-Coder-V1-Loop config has >= 2 loops, a query gate and no norm between loops"
    return None


def check_config(cfg: PLTConfig) -> PLTConfig:
    """`cfg` when every field is in range and they fit together; ArchError naming the first problem."""
    problem = config_problem(cfg)
    if problem:
        raise ArchError(problem)
    return cfg


CONFIG_FIELDS = tuple(f.name for f in fields(PLTConfig))

# PLTConfig field -> GGUF key, for the fields a `pltcoder` file stores as metadata.
METADATA: dict[str, str] = {
    "context_length": Keys.CONTEXT_LENGTH,
    "hidden_size": Keys.EMBEDDING_LENGTH,
    "intermediate_size": Keys.FEED_FORWARD_LENGTH,
    "num_layers": Keys.BLOCK_COUNT,
    "vocab_size": Keys.VOCAB_SIZE,
    "num_heads": Keys.HEAD_COUNT,
    "num_kv_heads": Keys.HEAD_COUNT_KV,
    "head_dim": Keys.KEY_LENGTH,
    "rms_eps": Keys.RMS_EPS,
    "rope_theta": Keys.ROPE_FREQ_BASE,
    "loops": Keys.LOOP_COUNT,
    "window": Keys.WINDOW_SIZE,
    "emb_scale": Keys.EMB_SCALE,
    "hidden_scale": Keys.HIDDEN_SCALE,
    "normalize_per_loop": Keys.NORMALIZE_PER_LOOP,
    "gate_mode": Keys.GATE_MODE,
    "gate_norm_eps": Keys.GATE_NORM_EPS,
    "eos_token_ids": Keys.EOS_TOKEN_IDS,
}
# Keys a `llama` file made by llama.cpp must have; the rest take PLTConfig defaults or are derived.
LLAMA_REQUIRED = ("context_length", "hidden_size", "intermediate_size", "num_layers", "num_heads")


# PLTConfig field -> GGUF key, for the fields an `iquestloopcoder` (V1) file stores. The window
# is stored as loop_window_size (keys including the current one), i.e. `window + 1`.
V1_METADATA: dict[str, str] = {
    **{name: key for name, key in METADATA.items() if key.startswith("{arch}.")},
    "loops": Keys.V1_LOOP_COUNT,
    "eos_token_ids": Keys.V1_EOS_TOKEN_IDS,
}


def config_to_metadata(cfg: PLTConfig) -> dict[str, object]:
    """GGUF key -> value for a `pltcoder` or `iquestloopcoder` file (int, float, bool, str, list[int])."""
    out: dict[str, object] = {}
    if cfg.is_v1:
        for name, key in V1_METADATA.items():
            value = getattr(cfg, name)
            out[Keys.of(key, ARCH_V1)] = list(value) if isinstance(value, tuple) else value
        out[Keys.V1_WINDOW_SIZE] = cfg.local_keys
        out[Keys.of(Keys.VALUE_LENGTH, ARCH_V1)] = cfg.head_dim
        out[Keys.V1_FORMAT_VERSION] = FORMAT_VERSION
        return out
    for name, key in METADATA.items():
        value = getattr(cfg, name)
        out[Keys.of(key, ARCH)] = list(value) if isinstance(value, tuple) else value
    out[Keys.of(Keys.VALUE_LENGTH, ARCH)] = cfg.head_dim
    out[Keys.PLT_FORMAT_VERSION] = FORMAT_VERSION
    return out


_HF_REQUIRED = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")
_UNSET = object()


def _hf(cfg: dict, key: str, name: str, default: object = _UNSET) -> object:
    """config.json `key` as PLTConfig field `name` (`default` when absent or null), range-checked."""
    value = cfg.get(key)
    if value is None and default is not _UNSET:
        value = default
    problem = field_problem(name, value)
    if problem:
        raise ArchError(f"{key} {problem}")
    return value


def _hf_bool(cfg: dict, key: str, default: bool) -> bool:
    value = cfg.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ArchError(f"{key} must be true or false, got {short_repr(value)}")
    return value


def _scale(cfg: dict, key: str, name: str) -> float:
    """`plt_emb_scale` / `plt_hidden_scale`: null means 1.0."""
    return float(_hf(cfg, key, name, 1.0))  # type: ignore[arg-type]


def _window(value: object) -> int:
    """`plt_window_size` is flash-attn style [left, right] (right must be 0) or a plain int."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2 or as_int(value[1]) != 0:
            raise ArchError(f"plt_window_size must be [left, 0], got {short_repr(value)}")
        value = value[0]
    problem = field_problem("window", value)
    if problem:
        raise ArchError(f"plt_window_size {problem}")
    return value  # type: ignore[return-value]


def _ids(key: str, value: object) -> tuple[int, ...]:
    if value is None:
        return ()
    ids = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    if any(as_int(v) is None or not 0 <= v <= MAX_INT32 for v in ids):
        raise ArchError(f"{key} must be a token id or a list of them, got {short_repr(value)}")
    return ids  # type: ignore[return-value]


def config_from_hf(cfg: dict) -> PLTConfig:
    """Build a PLTConfig from an HF `config.json` dict (PLT or Llama family).

    Every value is type- and range-checked (see `field_problem`). Raises ArchError naming
    the first missing, malformed or unsupported key.
    """
    archs = cfg.get("architectures")
    arch = archs[0] if isinstance(archs, list) and archs else None
    if not isinstance(arch, str) or arch not in SUPPORTED_HF_ARCHS:
        raise ArchError(
            f"unsupported architecture {short_repr(archs)}; supported: {', '.join(SUPPORTED_HF_ARCHS)}"
        )
    _check_family(cfg, arch)
    for key in _HF_REQUIRED:
        if cfg.get(key) is None:
            raise ArchError(f"config.json is missing required key {key!r}")
    if cfg.get("rope_scaling"):
        raise ArchError(f"rope_scaling {short_repr(cfg['rope_scaling'])} is not supported (only plain RoPE)")
    if cfg.get("attention_bias") or cfg.get("mlp_bias"):
        raise ArchError("attention_bias / mlp_bias = true is not supported")
    if cfg.get("hidden_act", "silu") != "silu":
        raise ArchError(f"hidden_act {short_repr(cfg['hidden_act'])} is not supported (only silu)")
    hidden = _hf(cfg, "hidden_size", "hidden_size")
    heads = _hf(cfg, "num_attention_heads", "num_heads")
    if cfg.get("head_dim") is None and hidden % heads:  # type: ignore[operator]
        raise ArchError(
            f"hidden_size {hidden} is not a multiple of num_attention_heads {heads} (no head_dim given)"
        )
    common = dict(
        vocab_size=_hf(cfg, "vocab_size", "vocab_size"),
        hidden_size=hidden,
        intermediate_size=_hf(cfg, "intermediate_size", "intermediate_size"),
        num_layers=_hf(cfg, "num_hidden_layers", "num_layers"),
        num_heads=heads,
        num_kv_heads=_hf(cfg, "num_key_value_heads", "num_kv_heads", heads),
        head_dim=_hf(cfg, "head_dim", "head_dim", hidden // heads),  # type: ignore[operator]
        context_length=_hf(cfg, "max_position_embeddings", "context_length", 4096),
        rms_eps=float(_hf(cfg, "rms_norm_eps", "rms_eps", 1e-6)),  # type: ignore[arg-type]
        rope_theta=float(_hf(cfg, "rope_theta", "rope_theta", 10000.0)),  # type: ignore[arg-type]
        rope_neox=True,
        tied_embeddings=_hf_bool(cfg, "tie_word_embeddings", False),
        bos_token_id=_hf(cfg, "bos_token_id", "bos_token_id", None),
        eos_token_ids=_ids("eos_token_id", cfg.get("eos_token_id")),
    )
    if arch in HF_LLAMA_ARCHS:
        return check_config(PLTConfig(**common, loops=1, gate_mode="none"))  # type: ignore[arg-type]
    if arch in HF_V1_ARCHS:
        return _v1_config(cfg, common)
    for key in ("plt_num_loops", "plt_window_size"):
        if cfg.get(key) is None:
            raise ArchError(f"config.json is missing required key {key!r}")
    gate = "hidden" if _hf_bool(cfg, "plt_gate_use_hidden_states", True) else "query"
    loops = _hf(cfg, "plt_num_loops", "loops")
    return check_config(
        PLTConfig(
            **common,  # type: ignore[arg-type]
            loops=loops,  # type: ignore[arg-type]
            window=_window(cfg["plt_window_size"]),
            emb_scale=_scale(cfg, "plt_emb_scale", "emb_scale"),
            hidden_scale=_scale(cfg, "plt_hidden_scale", "hidden_scale"),
            normalize_per_loop=_hf_bool(cfg, "plt_normalize_per_loop", True),
            gate_mode=gate if loops > 1 else "none",  # type: ignore[operator]
            gate_norm_eps=common["rms_eps"],  # type: ignore[arg-type]
        )
    )


def _check_family(cfg: dict, arch: str) -> None:
    """Refuse a config whose model_type or loop keys belong to another family than `arch`:
    a V2 config relabelled V1 (or the reverse) would otherwise run fluent but wrong."""
    model_type = cfg.get("model_type")
    if model_type is not None and model_type != HF_MODEL_TYPES[arch]:
        raise ArchError(
            f"model_type {short_repr(model_type)} does not match architecture {arch} "
            f"(expected {HF_MODEL_TYPES[arch]!r}); relabelled config?"
        )
    foreign = {
        "IQuestPLTCoderForCausalLM": HF_V1_LOOP_KEYS,
        "IQuestLoopCoderForCausalLM": HF_V2_LOOP_KEYS,
        "LlamaForCausalLM": HF_V1_LOOP_KEYS + HF_V2_LOOP_KEYS,
    }[arch]
    present = [key for key in foreign if key in cfg]
    if present:
        raise ArchError(
            f"{arch} config holds {present[0]!r}, a key of another model family; relabelled config?"
        )


def _v1_config(cfg: dict, common: dict) -> PLTConfig:
    """IQuest-Coder-V1-Loop (§5): `loop_num` loops, `loop_window_size` local keys including self."""
    for key in HF_V1_LOOP_KEYS:
        if cfg.get(key) is None:
            raise ArchError(f"config.json is missing required key {key!r}")
    loops = _hf(cfg, "loop_num", "loops")
    if loops < 2:  # type: ignore[operator]
        raise ArchError(f"loop_num must be at least 2 for IQuestLoopCoderForCausalLM, got {loops}")
    keys = as_int(cfg["loop_window_size"])
    if keys is None or not 1 <= keys <= MAX_WINDOW + 1:
        raise ArchError(
            f"loop_window_size must be an integer between 1 and {MAX_WINDOW + 1}, "
            f"got {short_repr(cfg['loop_window_size'])}"
        )
    return check_config(
        PLTConfig(
            **common,  # type: ignore[arg-type]
            loops=loops,  # type: ignore[arg-type]
            window=keys - 1,
            normalize_per_loop=False,
            gate_mode="query",
            gate_norm_eps=common["rms_eps"],  # type: ignore[arg-type]
            arch=ARCH_V1,
        )
    )
