"""`plt-agent convert`: HF checkpoint -> GGUF.

Thin: the work is in `converters`; this module parses flags, draws the progress bar and
the summary tables. Heavy imports happen inside the commands.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer
from rich.console import Console

from plt_agent.display import literal

console = Console()


class OutType(str, Enum):
    f32 = "f32"
    f16 = "f16"
    bf16 = "bf16"
    q8_0 = "q8_0"
    q4_0 = "q4_0"
    q4_k = "q4_k"
    q6_k = "q6_k"


def convert(
    src_dir: Path = typer.Argument(
        ..., help="HF checkpoint directory (config.json, safetensors, tokenizer.json)."
    ),
    output: Path = typer.Option(..., "-o", "--output", help="GGUF file to write."),
    outtype: OutType = typer.Option(OutType.f16, "--outtype", "-t", help="Type of the weight matrices."),
    check: bool = typer.Option(
        False, "--check", help="Re-read the GGUF and report per-tensor error vs the source."
    ),
) -> None:
    """Convert a LoopCoder-V2 (or Llama-family) HF checkpoint into a self-contained `pltcoder` GGUF.

    Norms and gate tensors stay F32; matrices take --outtype (K-quants through ggml's own
    quantizer). Streams tensor by tensor and writes OUT atomically (temp file + rename).
    """
    from converters.convert import convert as run_convert

    with _ProgressBar() as bar:
        report = run_convert(src_dir, output, outtype.value, progress=bar)
    _print_summary(report)
    if check:
        _run_check(src_dir, output)


class _ProgressBar:
    """A rich progress bar over the source bytes, fed by `converters.convert.Progress` calls."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("{task.description:<32}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._task = None

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._progress.stop()

    def start(self, plans: list) -> None:
        self._progress.start()
        self._task = self._progress.add_task("converting", total=sum(p.bytes_in for p in plans))

    def advance(self, plan, nbytes: int) -> None:
        self._progress.update(self._task, advance=nbytes, description=plan.name)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _print_summary(report) -> None:
    from rich.table import Table

    by_type: dict[str, list] = {}
    for p in report.plans:
        by_type.setdefault(p.qtype.name, []).append(p)
    table = Table(title=f"{literal(report.output)} ({report.outtype})")
    for col in ("type", "tensors", "bytes in", "bytes out"):
        table.add_column(col, justify="left" if col == "type" else "right")
    for name, plans in sorted(by_type.items()):
        table.add_row(
            name, str(len(plans)), _size(sum(p.bytes_in for p in plans)), _size(sum(p.nbytes for p in plans))
        )
    table.add_row(
        "total", str(len(report.plans)), _size(report.bytes_in), _size(report.bytes_out), style="bold"
    )
    console.print(table)
    rate = report.bytes_in / report.seconds / 2**20 if report.seconds else 0.0
    console.print(
        f"{len(report.metadata)} metadata keys; {report.seconds:.2f} s ({rate:.0f} MiB/s of source)"
    )
    for note in report.notes:
        console.print(f"[yellow]note:[/] {literal(note)}", highlight=False)


def _run_check(src_dir: Path, output: Path) -> None:
    from rich.table import Table

    from converters.check import check_gguf
    from converters.errors import ConvertError

    rows = check_gguf(src_dir, output)
    table = Table(title=f"check {literal(output)}")
    for col in ("tensor", "type", "max abs err", "max rel err", "err / bound", "ok"):
        table.add_column(col, justify="left" if col in ("tensor", "type") else "right")
    for r in rows:
        mark = "[green]ok[/]" if r.ok else f"[red]FAIL[/] {literal(r.problem)}"
        table.add_row(
            literal(r.name),
            r.qtype,
            f"{r.max_abs_err:.3g}",
            f"{r.max_rel_err:.3g}",
            f"{r.bound_ratio:.3f}",
            mark,
        )
    console.print(table)
    failed = [r.name for r in rows if not r.ok]
    if failed:
        raise ConvertError(
            f"check failed: {len(failed)} tensor(s) differ from the source beyond their type's bound: "
            + ", ".join(failed[:5])
            + (" ..." if len(failed) > 5 else "")
        )
    console.print(f"check passed: {len(rows)} tensors within their type's error bound")


def register(app: typer.Typer) -> None:
    """Add `convert` to the root app."""
    app.command("convert")(convert)
