"""Engine commands: `generate` (stream text), `logits` (parity dumps) and `bench engine`.

The engine is imported inside each command so `plt-agent --help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from plt_agent.display import plural
from plt_agent.errors import UsageError

THREADS_ENV = "PLT_AGENT_THREADS"  # the config key `threads`; the engine reads no environment itself
MODEL_ARG = typer.Argument(
    ...,
    metavar="MODEL",
    help="A GGUF file, plt:PATH, llama:PATH or a store name (`plt-agent models list`); "
    "run by plt-agent's engine (PLT files, and llama GGUFs as a one-loop model).",
)
KV_TYPE_HELP = "KV cache type: f16 (default), q8_0 (about half the memory) or f32."
MEMORY_ENV = "PLT_AGENT_MEMORY_LIMIT"
KERNELS_HELP = (
    "Weight kernels: auto (the loop-aware kernels where built and supported, else ggml's), "
    "ggml, or loop (ours; an error where unavailable)."
)


def _model_file(spec: str, command: str) -> Path:
    """The GGUF file a model spec names (the one parser every command uses)."""
    from plt_agent.models.spec import local_gguf

    return local_gguf(spec, command=command)


def _memory_limit_option():  # noqa: ANN202 - a typer option
    return typer.Option(
        None,
        "--memory-limit",
        envvar=MEMORY_ENV,
        help="Memory the engine may use, e.g. 8G (default: what the machine has free); "
        "a context that needs more is refused before anything large is allocated.",
    )


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
    model: str = MODEL_ARG,
    prompt: str = typer.Option(
        ..., "-p", "--prompt", help="The prompt text (with --chat: the user message)."
    ),
    chat: bool = typer.Option(False, "--chat", help="Wrap the prompt in the model's chat template."),
    system: str = typer.Option(None, "--system", help="A system message (with --chat)."),
    n: int = typer.Option(256, "-n", "--max-tokens", help="Maximum number of tokens to generate."),
    temperature: float = typer.Option(0.0, "--temperature", "-t", help="0 = greedy."),
    top_k: int = typer.Option(0, "--top-k", help="Keep the k most likely tokens (0 = off)."),
    top_p: float = typer.Option(1.0, "--top-p", help="Nucleus sampling mass (1 = off)."),
    min_p: float = typer.Option(0.0, "--min-p", help="Drop tokens below min_p x the top probability."),
    repeat_penalty: float = typer.Option(
        1.0, "--repeat-penalty", help="Penalty for recently used tokens (1 = off)."
    ),
    seed: int = typer.Option(None, "--seed", help="Random seed for sampling."),
    stop: list[str] = typer.Option([], "--stop", help="Stop when this string appears (repeatable)."),
    ctx: int = typer.Option(
        None, "--ctx", help="Context size in tokens (default: the trained length, or what fits in memory)."
    ),
    kv_type: str = typer.Option("auto", "--kv-type", help=KV_TYPE_HELP + " auto: f32 for f32 weights."),
    threads: int = typer.Option(
        None, "--threads", envvar=THREADS_ENV, help="CPU threads (default: all cores)."
    ),
    decode_mode: str = typer.Option(
        "fused", "--decode-mode", help="fused (one pass for all loops) or serial."
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu or gpu."),
    memory_limit: str = _memory_limit_option(),
    kernels: str = typer.Option(None, "--kernels", help=KERNELS_HELP),
) -> None:
    """Generate text from a GGUF model, streaming it to stdout (statistics go to stderr)."""
    from engine import api

    if not prompt.strip():
        raise UsageError("empty prompt: give the text to continue with -p/--prompt")
    path = _model_file(model, "generate")
    params = api.SamplingParams(
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        min_p=min_p,
        repeat_penalty=repeat_penalty,
        seed=seed,
    )
    _check_kernels(kernels)
    with api.load(
        path,
        n_ctx=ctx,
        threads=threads,
        kv_type=kv_type,
        decode_mode=decode_mode,
        device=device,
        memory_limit=memory_limit,
        kernels=kernels,
    ) as m:
        tok = m.tokenizer
        if chat:
            messages = ([{"role": "system", "content": system}] if system else []) + [
                {"role": "user", "content": prompt}
            ]
            text = tok.render_chat(messages)
        else:
            text = prompt
        ids = tok.encode_prompt(text)
        result = m.generate(
            ids, params, max_tokens=n, stop=stop, on_text=lambda s: (sys.stdout.write(s), sys.stdout.flush())
        )
        sys.stdout.write("\n")
        decode_s = max(result.seconds - result.prompt_seconds, 1e-9)
        n_out = len(result.token_ids)
        typer.echo(
            f"[{plural(len(ids), 'prompt token')} in {result.prompt_seconds:.2f}s, {n_out} generated "
            f"in {decode_s:.2f}s ({n_out / decode_s:.1f} tok/s), finish: {result.finish_reason}, "
            f"{_kernels_note(m.runner.kernels)}]",
            err=True,
        )


def logits(
    model: str = MODEL_ARG,
    ids: str = typer.Option(..., "--ids", help="Comma-separated token ids, e.g. 1,2,3."),
    mode: str = typer.Option("full", "--mode", help="full (one prefill), decode (token by token), chunks:N."),
    out: Path = typer.Option(..., "-o", "--out", help="Where to write float32 logits [n_ids, vocab] (.npy)."),
    kv_type: str = typer.Option("auto", "--kv-type", help=KV_TYPE_HELP + " auto: f32 for f32 weights."),
    decode_mode: str = typer.Option("fused", "--decode-mode", help="fused or serial (for --mode decode)."),
    threads: int = typer.Option(None, "--threads", envvar=THREADS_ENV, help="CPU threads."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or gpu."),
    memory_limit: str = _memory_limit_option(),
    kernels: str = typer.Option(None, "--kernels", help=KERNELS_HELP),
) -> None:
    """Write the logits of every position of --ids to a .npy file (the parity-check interface)."""
    import numpy as np

    from engine import api

    token_ids = _parse_ids(ids)
    how, size = _parse_mode(mode)
    _check_kernels(kernels)
    path = _model_file(model, "logits")
    with api.load(
        path,
        n_ctx=max(len(token_ids), 1),
        threads=threads,
        kv_type=kv_type,
        decode_mode=decode_mode,
        device=device,
        memory_limit=memory_limit,
        kernels=kernels,
    ) as m:
        runner = m.runner
        if how == "full":
            result = runner.prefill(token_ids, chunk=len(token_ids), all_logits=True)
        elif how == "chunks":
            result = runner.prefill(token_ids, chunk=size, all_logits=True)
        else:
            result = np.stack([runner.decode(t) for t in token_ids])
        note = _kernels_note(runner.kernels)
    if out.parent and not out.parent.exists():
        raise UsageError(f"output directory {out.parent} does not exist")
    np.save(out, result.astype(np.float32))
    typer.echo(f"wrote {out} {list(result.shape)} ({how}{':' + str(size) if size else ''}, {note})", err=True)


def _kernels_note(kernels) -> str:  # noqa: ANN001 - engine.loopkernels.Kernels
    return f"{kernels.name} kernels" + (f" ({kernels.isa})" if kernels.isa else "")


def _check_kernels(kernels: str | None) -> None:
    if kernels is not None and kernels not in ("auto", "ggml", "loop"):
        raise UsageError(f"--kernels must be auto, ggml or loop, got {kernels!r}")


def _synthetic_model(size: str, qtype: str, loops: int | None = None, preset: str = "plt") -> Path:
    """A cached random-weight GGUF (made on first use): about `size` bytes in `qtype` of the
    family `preset` (plt, v1-40b-loop), or a real model's exact shape (`size` = a preset name,
    e.g. loopcoder-v2)."""
    from converters.synthetic import (
        FAMILIES,
        PRESETS,
        parse_size,
        preset_config,
        synthetic_config,
        write_synthetic,
    )
    from plt_agent.store import store_root

    if preset not in FAMILIES:
        raise UsageError(f"--preset must be one of {', '.join(FAMILIES)}, got {preset!r}")
    if size in PRESETS:
        if preset != "plt":
            raise UsageError(f"--preset {preset} goes with --synthetic SIZE, not with --synthetic {size}")
        cfg = preset_config(size, loops)
        stem = f"synthetic-{size}"
    else:
        family = FAMILIES[preset]
        cfg = synthetic_config(
            parse_size(size), family.shape, loops=loops or 2, qtype=qtype, family=family.family
        )
        reduced = f", reduced from the real {family.real_layers}" if family.real_layers else ""
        typer.echo(
            f"synthetic {preset}: {cfg.num_layers} layers{reduced} x hidden {cfg.hidden_size}", err=True
        )
        stem = f"synthetic-{preset}-{cfg.num_layers}x{cfg.hidden_size}"
    suffix = f"-L{cfg.loops}" if cfg.loops != 2 else ""
    path = store_root() / "bench" / f"{stem}{suffix}-{qtype}.gguf"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        typer.echo(
            f"writing a synthetic {size} {qtype} {preset} ({cfg.num_layers} layers) to {path}",
            err=True,
        )
        write_synthetic(path, cfg, qtype=qtype)
    return path


def bench_engine(
    model: str = typer.Argument(
        None, metavar="MODEL", help="A GGUF file, plt:PATH, llama:PATH or a store name (or use --synthetic)."
    ),
    synthetic: str = typer.Option(
        None,
        "--synthetic",
        help="Benchmark a random-weight PLT of this size (e.g. 1.5G) or of a real model's shape "
        "(loopcoder-v2); written once to the model cache.",
    ),
    loops: int = typer.Option(None, "--loops", help="Loops of the synthetic model (default 2)."),
    qtype: str = typer.Option(
        "q8_0", "--type", help="Matrix type of the synthetic model: q8_0, q4_0, q4_k, q6_k."
    ),
    preset: str = typer.Option(
        "plt",
        "--preset",
        help="Synthetic shape: plt (small LoopCoder-V2-like) or v1-40b-loop (IQuest-Coder-V1-40B-Loop's "
        "real width; the layer count follows from the size, far below its 80).",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the figures as JSON (stdout)."),
    threads: int = typer.Option(
        None, "--threads", envvar=THREADS_ENV, help="CPU threads for ours and llama.cpp (default: all cores)."
    ),
    prompt_tokens: int = typer.Option(
        256, "--prompt-tokens", help="Prompt length for prefill and before decoding."
    ),
    decode_tokens: int = typer.Option(
        32, "--decode-tokens", help="Decode steps per round (median is reported)."
    ),
    rounds: int = typer.Option(3, "--rounds", help="Rounds; variants run interleaved, medians are reported."),
    llama_cpp: bool = typer.Option(
        True, "--llama-cpp/--no-llama-cpp", help="Also time llama-cpp-python (llama files)."
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu or gpu."),
    memory_limit: str = _memory_limit_option(),
    kv_type: str = typer.Option("f16", "--kv-type", help=KV_TYPE_HELP),
    context_sweep: str = typer.Option(
        None,
        "--context-sweep",
        help="Decode and prefill tok/s per context length instead, e.g. 512,2k,8k,32k "
        "(ours and llama.cpp's side by side where it can load the file).",
    ),
    fill: str = typer.Option(
        None,
        "--fill",
        help="Sweep: reach each depth by a real prompt (prefill; default for files under 2 GiB) "
        "or by writing random K/V straight into the cache and timing one --chunk on top (direct).",
    ),
    chunk: int = typer.Option(
        512, "--chunk", help="Sweep: prefill chunk (with --fill direct: the timed chunk)."
    ),
    plot: Path = typer.Option(None, "--plot", help="Sweep: also save a PNG plot here (needs matplotlib)."),
    kernels: str = typer.Option(
        None,
        "--kernels",
        help=KERNELS_HELP + " With loop, ggml's also run side by side (single and fused).",
    ),
) -> None:
    """Decode and prefill speed: fused vs serial vs single-loop on the same weights, and vs llama.cpp."""
    import json

    from engine.api import bench as run

    if (model is None) == (synthetic is None):
        raise UsageError("give a MODEL.gguf or --synthetic SIZE (not both)")
    if loops is not None and (synthetic is None or loops < 1):
        raise UsageError("--loops N (N >= 1) goes with --synthetic")
    _check_kernels(kernels)
    path = (
        _synthetic_model(synthetic, qtype, loops, preset) if synthetic else _model_file(model, "bench engine")
    )
    say = (lambda msg: typer.echo(f"  {msg}", err=True)) if not json_out else None
    if context_sweep:
        if plot:
            _check_plot()
        options = {"decode_tokens": decode_tokens, "threads": threads, "llama_cpp": llama_cpp}
        options |= {"device": device, "memory_limit": memory_limit, "kernels": kernels, "progress": say}
        result = _sweep(path, context_sweep, kv_type, fill, chunk, options)
        if plot:
            _save_plot(result, plot)
        typer.echo(json.dumps(result, indent=2)) if json_out else _print_sweep(result)
        return
    result = run(
        path,
        threads=threads,
        prompt_tokens=prompt_tokens,
        decode_tokens=decode_tokens,
        rounds=rounds,
        llama_cpp=llama_cpp,
        device=device,
        kv_type=kv_type,
        kernels=kernels,
        progress=say,
    )
    if json_out:
        typer.echo(json.dumps(result, indent=2))
    else:
        _print_bench(result)


def _print_bench(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    from plt_agent.display import literal

    table = Table(
        title=f"{literal(result['model'])} ({result['matrix_type']}, {result['layers']} layers, "
        f"{result['weights_mib']} MiB, {result['backend']} x{result['threads']})"
    )
    for col in (
        "variant",
        "loops",
        "passes/step",
        "decode ms/step",
        "decode tok/s",
        "prefill tok/s",
        "KV bytes/token",
        "ring+carry",
    ):
        table.add_column(col, justify="right")
    for name, v in result["variants"].items():
        table.add_row(
            name,
            str(v["loops"]),
            str(v["decode_passes"]),
            f"{v['decode_step_ms']:.2f}",
            f"{v['decode_tok_s']:.1f}",
            f"{v['prefill_tok_s']:.1f}",
            str(v["kv_bytes_per_token"]),
            str(v["constant_state_bytes"]),
        )
    if "llama_cpp" in result:
        ll = result["llama_cpp"]
        table.add_row(
            "llama-cpp-python",
            "1",
            "1",
            f"{1e3 / ll['decode_tok_s']:.2f}",
            f"{ll['decode_tok_s']:.1f}",
            f"{ll['prefill_tok_s']:.1f}",
            "",
            "",
        )
    console = Console()
    console.print(table)
    keys = (
        "fused_over_single",
        "serial_over_single",
        "rows_over_single",
        "serial_over_fused",
        "fused_speedup_over_ggml",
        "single_speedup_over_ggml",
        "fused_over_single_ggml",
        "ours_over_llamacpp",
        "ours_over_llamacpp_prefill",
    )
    if "note" in result:
        console.print(result["note"])
    for key in keys:
        if key in result:
            console.print(f"{key} = {result[key]:.3f}")
    k = result.get("kernels", {})
    console.print(
        f"kernels: {k.get('kernels')}"
        + (f" ({k['isa']})" if k.get("isa") else "")
        + (f" - {k['reason']}" if k.get("reason") else "")
    )
    for key, label in (("yardstick", "ggml"), ("yardstick_loop", "loop")):
        if key in result:
            y = result[key]
            console.print(
                f"yardstick ({label}): {y['matrix']} ({y['type']} {y['shape'][0]}x{y['shape'][1]}) times "
                f"{y['columns']} columns costs {y['ratio']:.2f}x one column "
                f"({y['cols_ms']:.3f} vs {y['one_col_ms']:.3f} ms)"
            )
    console.print(f"peak RSS = {result['peak_rss_mib']:.0f} MiB")


def _sweep(path: Path, contexts: str, kv_type: str, fill: str | None, chunk: int, options: dict) -> dict:
    from engine.api import context_sweep, parse_contexts

    try:
        lengths = parse_contexts(contexts)
    except ValueError as exc:
        raise UsageError(f"--context-sweep: {exc}") from None
    if fill is None:
        fill = "prefill" if path.stat().st_size < 2 * 2**30 else "direct"
    if fill not in ("prefill", "direct"):
        raise UsageError(f"--fill must be prefill or direct, got {fill!r}")
    if chunk < 1:
        raise UsageError(f"--chunk must be positive, got {chunk}")
    return context_sweep(path, lengths, kv_type=kv_type, fill=fill, chunk=chunk, **options)


def _check_plot() -> None:
    from plt_agent.commands.sweep_plot import check_plot

    try:
        check_plot()
    except ImportError as exc:
        raise UsageError(str(exc)) from None


def _save_plot(result: dict, out: Path) -> None:
    from plt_agent.commands.sweep_plot import plot

    try:
        plot(result, out)
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    typer.echo(f"wrote {out}", err=True)


def _print_sweep(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    how = "prompt of c tokens" if result["fill"] == "prefill" else f"{result['chunk']} tokens at depth c"
    table = Table(
        title=f"{result['model']} ({result['layers']} layers, {result['loops']} loops, "
        f"{result['kv_type']} cache, x{result['threads']} threads; prefill: {how}; "
        f"decode: median of {result['decode_tokens']} steps)"
    )
    cols = [
        "context",
        "decode tok/s",
        "llama.cpp",
        "ratio",
        "prefill tok/s",
        "llama.cpp",
        "ratio",
        "KV MiB",
        "bytes/token",
    ]
    for col in cols:
        table.add_column(col, justify="right")
    for row in result["rows"]:
        ours = row["ours"]
        if "error" in ours:
            table.add_row(str(row["context"]), "does not fit", "", "", "", "", "", "", "")
            continue
        ll = row.get("llama_cpp", {})
        table.add_row(
            str(row["context"]),
            f"{ours['decode_tok_s']:.1f}",
            f"{ll['decode_tok_s']:.1f}" if ll else "",
            f"{row['decode_ratio']:.2f}x" if ll else "",
            f"{ours['prefill_tok_s']:.1f}",
            f"{ll['prefill_tok_s']:.1f}" if ll else "",
            f"{row['prefill_ratio']:.2f}x" if ll else "",
            f"{ours['kv_mib']:.0f}",
            str(ours["kv_bytes_per_token"]),
        )
    console = Console()
    console.print(table)
    for row in result["rows"]:
        if "error" in row["ours"]:
            console.print(f"context {row['context']}: {row['ours']['error']}")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Engine")(generate)
    app.command(rich_help_panel="Engine")(logits)
    bench = typer.Typer(
        help="Benchmarks (figures printed side by side, measured in one run).", no_args_is_help=True
    )
    bench.command("engine")(bench_engine)
    app.add_typer(bench, name="bench", rich_help_panel="Engine")
