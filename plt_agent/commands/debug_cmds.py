"""`plt-agent debug make-tiny`: random tiny checkpoints in the release layout, for tests.

Thin: the work is in `converters.tiny`, imported inside the command.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer
from rich.console import Console

from plt_agent.commands.common import group
from plt_agent.display import literal

console = Console()


class GateMode(str, Enum):
    hidden = "hidden"
    query = "query"


class Family(str, Enum):
    v2 = "v2"
    v1 = "v1"


def make_tiny(
    out_dir: Path = typer.Argument(..., help="Directory to write the checkpoint into (created if needed)."),
    seed: int = typer.Option(0, help="Random seed of the weights."),
    loops: int = typer.Option(2, help="plt_num_loops (L)."),
    layers: int = typer.Option(2, help="Physical layers."),
    hidden: int = typer.Option(64, help="Hidden size D."),
    heads: int = typer.Option(4, help="Query heads."),
    kv_heads: int = typer.Option(2, help="Key/value heads."),
    head_dim: int = typer.Option(16, help="Head dimension."),
    intermediate: int = typer.Option(128, help="SwiGLU inner size."),
    vocab: int = typer.Option(None, help="Vocabulary size (the tokenizer is trained to exactly this size)."),
    window: int = typer.Option(
        4,
        help="v2: window W (the local branch sees W+1 keys); v1: loop_window_size (keys incl. the current).",
    ),
    emb_scale: float = typer.Option(0.707, help="plt_emb_scale (a)."),
    hidden_scale: float = typer.Option(0.5, help="plt_hidden_scale (b)."),
    gate: GateMode = typer.Option(
        GateMode.hidden, help="Gate input: hidden states (release) or query (V1 style)."
    ),
    normalize_per_loop: bool = typer.Option(True, help="plt_normalize_per_loop."),
    shards: int = typer.Option(2, help="Number of safetensors shards (1 writes model.safetensors)."),
    llama: bool = typer.Option(False, "--llama", help="Write a plain LlamaForCausalLM checkpoint instead."),
    tied: bool = typer.Option(False, "--tied", help="Tie the output matrix to the embeddings (no lm_head)."),
    family: Family = typer.Option(
        Family.v2,
        help="v2: LoopCoder-V2 (IQuestPLTCoderForCausalLM); v1: IQuest-Coder-V1-Loop "
        "(IQuestLoopCoderForCausalLM: loop_num, loop_window_size, model.gate_projections; "
        "the plt options and --gate are ignored).",
    ),
) -> None:
    """Write a random tiny checkpoint in the exact layout of the LoopCoder-V2 release (or, with
    --family v1, of IQuest-Coder-V1-Loop), for tests."""
    from converters.tiny import TinyOptions, n_parameters
    from converters.tiny import make_tiny as run_make_tiny

    options = dict(
        seed=seed,
        loops=loops,
        layers=layers,
        hidden=hidden,
        heads=heads,
        kv_heads=kv_heads,
        head_dim=head_dim,
        intermediate=intermediate,
        vocab=vocab,
        window=window,
        emb_scale=emb_scale,
        hidden_scale=hidden_scale,
        gate=gate.value,
        normalize_per_loop=normalize_per_loop,
        shards=shards,
        llama=llama,
        tied=tied,
        family=family.value,
    )
    path = run_make_tiny(out_dir, **options)
    n = n_parameters(TinyOptions(**options))
    if llama:
        kind = "LlamaForCausalLM"
    elif family is Family.v1:
        kind = f"IQuestLoopCoderForCausalLM, {loops} loops, window {window} keys"
    else:
        kind = f"IQuestPLTCoderForCausalLM, {loops} loops, gate {gate.value}"
    console.print(f"wrote {literal(path)} ({kind}, {n:,} parameters, {shards} shard(s))")


def register(app: typer.Typer) -> None:
    """Add the `debug` group (`make-tiny`) to the root app."""
    debug = group("debug", "Developer tools: tiny checkpoints and other debugging aids.")
    debug.command("make-tiny")(make_tiny)
    app.add_typer(debug, name="debug")
