"""What an evaluation run leaves behind: the report JSON, swebench predictions, the table.

`build_report` gathers per-task results and the summary figures (resolved/partial counts,
resolve rate, mean steps/tokens/time, format errors, failed edits, localisation rates);
`write_outputs` writes REPORT.json and `preds.jsonl` (swebench's prediction format:
instance_id, model_name_or_path, model_patch) next to it; `summary_line` is the closing
`N passed, N failed`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from rich.table import Table

from plt_agent.display import literal
from plt_agent.eval.grading import PARTIAL, RESOLVED
from plt_agent.eval.runner import TaskResult

PREDS_FILE = "preds.jsonl"


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 3) if values else 0.0


def summarize(results: list[TaskResult]) -> dict:
    n = len(results)
    resolved = sum(r.status == RESOLVED for r in results)
    partial = sum(r.status == PARTIAL for r in results)
    summary = {
        "total": n,
        "resolved": resolved,
        "partial": partial,
        "not_resolved": n - resolved - partial,
        "resolve_rate": round(resolved / n, 4) if n else 0.0,
        "patch_apply_failures": sum(not r.patch_applied for r in results),
        "touched_file_to_fix": sum(r.touched_file_to_fix for r in results),
        "mean_steps": _mean([r.steps for r in results]),
        "mean_tokens": _mean([r.tokens for r in results]),
        "total_tokens": sum(r.tokens for r in results),
        "mean_wall_seconds": _mean([r.wall_seconds for r in results]),
        "format_errors": sum(r.format_errors for r in results),
        "failed_edits": sum(r.failed_edits for r in results),
        "solver_errors": sum(r.solver_status == "error" for r in results),
    }
    return summary


def localization_rates(results: list[TaskResult]) -> dict | None:
    """Top-1/top-3 rates of the repo map over the results that were localised (None: none were)."""
    from plt_agent.eval.localize import Localization, rates

    items = [
        Localization(r.instance_id, r.file_to_fix, rank=r.localization_rank, skipped=r.localization_skipped)
        for r in results
        if r.localized
    ]
    return rates(items) if items else None


def build_report(results: list[TaskResult], *, model: str, tasks: str) -> dict:
    return {
        "model": model,
        "tasks": tasks,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "summary": summarize(results),
        "localization": localization_rates(results),
        "results": [r.to_json() for r in results],
    }


def write_outputs(report: dict, path: Path) -> Path:
    """Write the report to `path` and preds.jsonl beside it; returns the preds path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    preds = path.parent / PREDS_FILE
    with open(preds, "w", encoding="utf-8") as fh:
        for r in report["results"]:
            record = {
                "instance_id": r["instance_id"],
                "model_name_or_path": report["model"],
                "model_patch": r["model_patch"],
            }
            fh.write(json.dumps(record) + "\n")
    return preds


def results_table(results: list[TaskResult], title: str = "") -> Table:
    table = Table(title=title or None, show_lines=False)
    for col, justify in (
        ("task", "left"),
        ("result", "left"),
        ("F2P", "right"),
        ("P2P", "right"),
        ("agent", "left"),
        ("steps", "right"),
        ("tokens", "right"),
        ("fmt err", "right"),
        ("bad edits", "right"),
        ("time s", "right"),
        ("loc", "right"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    colour = {RESOLVED: "green", PARTIAL: "yellow"}
    for r in results:
        table.add_row(
            literal(r.instance_id),
            f"[{colour.get(r.status, 'red')}]{r.status}[/]",
            f"{r.f2p_passed}/{r.f2p_total}",
            f"{r.p2p_passed}/{r.p2p_total}",
            r.solver_status,
            str(r.steps),
            str(r.tokens),
            str(r.format_errors),
            str(r.failed_edits),
            f"{r.wall_seconds:.1f}",
            "-" if r.localization_rank is None else str(r.localization_rank),
        )
    return table


def summary_line(results: list[TaskResult]) -> str:
    passed = sum(r.status == RESOLVED for r in results)
    return f"{passed} passed, {len(results) - passed} failed"
