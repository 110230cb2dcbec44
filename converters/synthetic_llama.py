"""Random-weight `llama` GGUF files that llama.cpp itself loads: its speed at a PLT's shape.

`write_synthetic_llama(path, cfg, qtype)` writes a plain Llama (architecture `llama`, one
loop, no gate) with the layer shapes of `cfg` and random blocks as `converters.synthetic`
makes them, plus a SentencePiece-style vocabulary of `cfg.vocab_size` placeholder tokens
(`<unk>`, `<s>`, `</s>`, the 256 byte tokens, then `t<i>`), which is all llama.cpp needs to
load the file. Our engine runs the same file, so the two are timed on identical weights. The
numbers are noise; the shapes, types and byte counts are the real thing.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gguf import GGUFWriter

from converters.synthetic import _format, write_random_gguf
from engine.arch import ARCH_LLAMA, PLTConfig

TOKEN_NORMAL, TOKEN_UNKNOWN, TOKEN_CONTROL, TOKEN_BYTE = 1, 2, 3, 6


def llama_config(cfg: PLTConfig) -> PLTConfig:
    """The one-loop, gateless Llama with the shapes of `cfg` (llama.cpp's interleaved RoPE)."""
    return replace(
        cfg,
        loops=1,
        window=0,
        gate_mode="none",
        emb_scale=1.0,
        hidden_scale=1.0,
        rope_neox=False,
        arch=ARCH_LLAMA,
        bos_token_id=1,
        eos_token_ids=(2,),
    )


def vocabulary(n: int) -> tuple[list[str], list[int]]:
    """Placeholder tokens and their llama.cpp token types; n must hold the specials and bytes."""
    if n < 259:
        raise ValueError(f"a llama vocabulary needs at least 259 tokens, got {n}")
    tokens = ["<unk>", "<s>", "</s>", *(f"<0x{b:02X}>" for b in range(256))]
    types = [TOKEN_UNKNOWN, TOKEN_CONTROL, TOKEN_CONTROL, *([TOKEN_BYTE] * 256)]
    tokens += [f"t{i}" for i in range(len(tokens), n)]
    types += [TOKEN_NORMAL] * (n - len(types))
    return tokens, types


def write_synthetic_llama(path: Path, cfg: PLTConfig, seed: int = 0, qtype: str = "q8_0") -> Path:
    """Write a random-weight llama GGUF with `cfg`'s shapes (matrices `qtype`, vectors F32)."""
    fmt = _format(qtype)
    cfg = llama_config(cfg)
    return write_random_gguf(path, ARCH_LLAMA, cfg, fmt, seed, lambda w: _metadata(w, cfg, fmt.file_type))


def _metadata(writer: GGUFWriter, cfg: PLTConfig, file_type: int) -> None:
    writer.add_name("synthetic llama (random weights, for benchmarks)")
    writer.add_file_type(file_type)
    writer.add_context_length(cfg.context_length)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_block_count(cfg.num_layers)
    writer.add_head_count(cfg.num_heads)
    writer.add_head_count_kv(cfg.num_kv_heads)
    writer.add_key_length(cfg.head_dim)
    writer.add_value_length(cfg.head_dim)
    writer.add_rope_dimension_count(cfg.head_dim)
    writer.add_rope_freq_base(cfg.rope_theta)
    writer.add_layer_norm_rms_eps(cfg.rms_eps)
    writer.add_vocab_size(cfg.vocab_size)
    tokens, types = vocabulary(cfg.vocab_size)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * len(tokens))
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(False)
