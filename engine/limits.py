"""What a model config may hold: each field's type and range, checked before a file is trusted.

Lengths and ids are int32 inside ggml's kernels; the other bounds are far beyond any real
model but keep a hostile file from asking for absurd memory (2^31 layers) or from driving
the arithmetic to NaN (an epsilon of 0, a RoPE base below 1, a huge scale). The GGUF loader
and the converter both check values here (`field_problem`) before building a config, and
`engine.arch.check_config` checks a built one. Imports nothing; does no I/O.
"""

from __future__ import annotations

import math

GATE_MODES = ("hidden", "query", "none")
MAX_INT32 = 2**31 - 1
MAX_LAYERS = 4096
MAX_LOOPS = 64
MAX_WINDOW = 65536
MAX_SCALE = 1000.0
INT_LIMITS: dict[str, tuple[int, int]] = {
    "vocab_size": (1, MAX_INT32),
    "hidden_size": (1, MAX_INT32),
    "intermediate_size": (1, MAX_INT32),
    "num_layers": (1, MAX_LAYERS),
    "num_heads": (1, MAX_INT32),
    "num_kv_heads": (1, MAX_INT32),
    "head_dim": (2, MAX_INT32),
    "context_length": (1, MAX_INT32),
    "loops": (1, MAX_LOOPS),
    "window": (0, MAX_WINDOW),
}
FLOAT_LIMITS: dict[str, tuple[float, float]] = {
    "rms_eps": (1e-38, 1.0),  # > 0 and still > 0 as a float32
    "gate_norm_eps": (1e-38, 1.0),
    "rope_theta": (1.0, 1e30),  # below 1 the rotation angles grow without bound
    "emb_scale": (-MAX_SCALE, MAX_SCALE),
    "hidden_scale": (-MAX_SCALE, MAX_SCALE),
}
BOOL_FIELDS = ("normalize_per_loop", "rope_neox", "tied_embeddings")


def as_int(value: object) -> int | None:
    """`value` as an int when it is one (bools and floats are not), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_float(value: object) -> float | None:
    """`value` as a finite float when it is a finite number (bools are not), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def short_repr(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def field_problem(name: str, value: object) -> str | None:
    """Why `value` cannot be the PLTConfig field `name` ("must be ..., got ..."), or None."""
    if name in INT_LIMITS:
        lo, hi = INT_LIMITS[name]
        number = as_int(value)
        if number is None:
            return f"must be an integer, got {short_repr(value)}"
        if not lo <= number <= hi:
            return f"must be between {lo} and {hi}, got {number}"
        if name == "head_dim" and number % 2:
            return f"must be even (RoPE rotates pairs of dimensions), got {number}"
        return None
    if name in FLOAT_LIMITS:
        lo_f, hi_f = FLOAT_LIMITS[name]
        number_f = as_float(value)
        if number_f is None:
            return f"must be a finite number, got {short_repr(value)}"
        if not lo_f <= number_f <= hi_f:
            return f"must be between {lo_f:g} and {hi_f:g}, got {number_f:g}"
        return None
    if name in BOOL_FIELDS:
        return None if isinstance(value, bool) else f"must be true or false, got {short_repr(value)}"
    if name == "gate_mode":
        return (
            None
            if value in GATE_MODES
            else f"must be one of {', '.join(GATE_MODES)}, got {short_repr(value)}"
        )
    if name == "bos_token_id":
        ok = value is None or as_int(value) is not None and 0 <= value <= MAX_INT32  # type: ignore[operator]
        return None if ok else f"must be a token id, got {short_repr(value)}"
    if name == "eos_token_ids":
        ids = value if isinstance(value, (list, tuple)) else None
        if ids is None or any(as_int(v) is None or not 0 <= v <= MAX_INT32 for v in ids):
            return f"must be a list of token ids, got {short_repr(value)}"
    return None
