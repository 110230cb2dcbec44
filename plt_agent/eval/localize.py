"""The localisation figure: where the repo map ranks the file to fix, given the failing tests.

For a task: run its tests at base + test patch (the failures the user would see), give that
output to `tools.repomap.rank_files` as the query over the base tree (what the agent sees:
no hidden tests), and find `file_to_fix` in the ranking. A task without failures (no-op),
without a file to fix, or whose file to fix does not exist at base (the fix adds it) is
left out of the rates, with the reason recorded.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from plt_agent.eval.checkout import evaluation_copy, materialize
from plt_agent.eval.pytest_run import run_pytest
from plt_agent.eval.tasks import Task

QUERY_CHARS = 6000


@dataclass
class Localization:
    instance_id: str
    file_to_fix: str | None
    rank: int | None = None  # 1-based; None when not ranked at all
    n_ranked: int = 0
    top: list[str] = field(default_factory=list)
    skipped: str = ""  # why the task does not count

    @property
    def counted(self) -> bool:
        return not self.skipped


def failure_text(task: Task, tmp: Path, *, python: str | None = None) -> str:
    """pytest's report for the task's failing tests at base + test patch."""
    repo, _ = evaluation_copy(task, "", tmp / "failing")
    run = run_pytest(repo, list(task.fail_to_pass), python=python)
    return run.output


def localize_task(task: Task, *, python: str | None = None) -> Localization:
    from tools.repomap import rank_files

    loc = Localization(task.instance_id, task.file_to_fix)
    if not task.fail_to_pass:
        loc.skipped = "no failing tests (no-op task)"
        return loc
    if not task.file_to_fix:
        loc.skipped = "no file_to_fix"
        return loc
    with tempfile.TemporaryDirectory(prefix=f"plt-localize-{task.instance_id}-") as tmp:
        base = materialize(task, Path(tmp) / "base")
        if not (base / task.file_to_fix).exists():
            loc.skipped = f"{task.file_to_fix} does not exist before the fix"
            return loc
        query = _query(failure_text(task, Path(tmp), python=python))
        ranking = [path for path, _score in rank_files(base, query)]
    loc.n_ranked = len(ranking)
    loc.top = ranking[:3]
    loc.rank = ranking.index(task.file_to_fix) + 1 if task.file_to_fix in ranking else None
    return loc


def _query(output: str) -> str:
    """The failure part of pytest's output (the last QUERY_CHARS characters hold the tracebacks)."""
    return output[-QUERY_CHARS:]


def rates(results: list[Localization]) -> dict[str, float | int]:
    counted = [r for r in results if r.counted]
    n = len(counted)

    def within(k: int) -> int:
        return sum(1 for r in counted if r.rank is not None and r.rank <= k)

    return {
        "counted": n,
        "skipped": len(results) - n,
        "top1": within(1),
        "top3": within(3),
        "top1_rate": within(1) / n if n else 0.0,
        "top3_rate": within(3) / n if n else 0.0,
    }
