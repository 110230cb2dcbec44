"""Engine commands: `generate` (stream text), `logits` (parity dumps) and `bench engine`.

The engine is imported inside each command so `plt-agent --help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from plt_agent.errors import UsageError

MODEL_ARG = typer.Argument(..., help="A GGUF model file (pltcoder from `plt-agent convert`, or a llama.cpp llama GGUF).")


def _parse_ids(text: str) -> list[int]:
    try:
        ids = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise UsageError(f"--ids must be comma-separated integers, got {text!r}") from None
    if not ids:
        raise UsageError("--ids is empty")
    return ids


def _parse_mode(mode: str) -> tuple[str, int]:
    if mode in ("full", "decode"):
        return mode, 0
    if mode.startswith("chunks:"):
        try:
            size = int(mode.split(":", 1)[1])
        except ValueError:
            size = 0
        if size > 0:
            return "chunks", size
    raise UsageError(f"--mode must be full, decode or chunks:N (N > 0), got {mode!r}")


def generate(
    model: Path = MODEL_ARG,
    prompt: str = typer.Option(..., "-p", "--prompt", help="The prompt text (with --chat: the user message)."),
    chat: bool = typer.Option(False, "--chat", help="Wrap the prompt in the model's chat template."),
    system: str = typer.Option(None, "--system", help="A system message (with --chat)."),
    n: int = typer.Option(256, "-n", "--max-tokens", help="Maximum number of tokens to generate."),
    temperature: float = typer.Option(0.0, "--temperature", "-t", help="0 = greedy."),
    top_k: int = typer.Option(0, "--top-k", help="Keep the k most likely tokens (0 = off)."),
    top_p: float = typer.Option(1.0, "--top-p", help="Nucleus sampling mass (1 = off)."),
    min_p: float = typer.Option(0.0, "--min-p", help="Drop tokens below min_p x the top probability."),
    repeat_penalty: float = typer.Option(1.0, "--repeat-penalty", help="Penalty for recently used tokens (1 = off)."),
    seed: int = typer.Option(None, "--seed", help="Random seed for sampling."),
    stop: list[str] = typer.Option([], "--stop", help="Stop when this string appears (repeatable)."),
    ctx: int = typer.Option(None, "--ctx", help="Context size in tokens (default: min(trained, 8192))."),
    threads: int = typer.Option(None, "--threads", help="CPU threads (default: all cores)."),
    decode_mode: str = typer.Option("fused", "--decode-mode", help="fused (one pass for all loops) or serial."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or gpu."),
) -> None:
    """Generate text from a GGUF model, streaming it to stdout (statistics go to stderr)."""
    from engine import api

    params = api.SamplingParams(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p,
                                repeat_penalty=repeat_penalty, seed=seed)
    with api.load(model, n_ctx=ctx, threads=threads, decode_mode=decode_mode, device=device) as m:
        tok = m.tokenizer
        if chat:
            messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
            text = tok.render_chat(messages)
        else:
            text = prompt
        ids = tok.encode_prompt(text)
        result = m.generate(ids, params, max_tokens=n, stop=stop,
                            on_text=lambda s: (sys.stdout.write(s), sys.stdout.flush()))
        sys.stdout.write("\n")
        decode_s = max(result.seconds - result.prompt_seconds, 1e-9)
        typer.echo(
            f"[{len(ids)} prompt tokens in {result.prompt_seconds:.2f}s, {len(result.token_ids)} generated in "
            f"{decode_s:.2f}s ({len(result.token_ids) / decode_s:.1f} tok/s), finish: {result.finish_reason}]",
            err=True,
        )


def logits(
    model: Path = MODEL_ARG,
    ids: str = typer.Option(..., "--ids", help="Comma-separated token ids, e.g. 1,2,3."),
    mode: str = typer.Option("full", "--mode", help="full (one prefill), decode (token by token), chunks:N."),
    out: Path = typer.Option(..., "-o", "--out", help="Where to write float32 logits [n_ids, vocab] (.npy)."),
    kv_type: str = typer.Option("auto", "--kv-type", help="auto (f32 for f32 weights), f16 or f32."),
    decode_mode: str = typer.Option("fused", "--decode-mode", help="fused or serial (for --mode decode)."),
    threads: int = typer.Option(None, "--threads", help="CPU threads."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or gpu."),
) -> None:
    """Write the logits of every position of --ids to a .npy file (the parity-check interface)."""
    import numpy as np

    from engine import api

    token_ids = _parse_ids(ids)
    how, size = _parse_mode(mode)
    with api.load(model, n_ctx=max(len(token_ids), 1), threads=threads, kv_type=kv_type, decode_mode=decode_mode,
                  device=device) as m:
        runner = m.runner
        if how == "full":
            result = runner.prefill(token_ids, chunk=len(token_ids), all_logits=True)
        elif how == "chunks":
            result = runner.prefill(token_ids, chunk=size, all_logits=True)
        else:
            result = np.stack([runner.decode(t) for t in token_ids])
    if out.parent and not out.parent.exists():
        raise UsageError(f"output directory {out.parent} does not exist")
    np.save(out, result.astype(np.float32))
    typer.echo(f"wrote {out} {list(result.shape)} ({how}{':' + str(size) if size else ''})", err=True)


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Engine")(generate)
    app.command(rich_help_panel="Engine")(logits)
