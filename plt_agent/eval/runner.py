"""Run a solver on tasks and grade the results: the engine behind `plt-agent eval`.

For each task, in a private temp dir:
1. `materialize` the base (hidden tests absent), as a one-commit git repo;
2. let the solver change it (the agent's trajectory goes to OUT/trajectories/ID.jsonl);
3. take `git diff` against the base commit as the model patch;
4. on a second fresh copy apply model patch + test patch, run FAIL_TO_PASS and
   PASS_TO_PASS, and `grade`;
5. optionally localise (the repo map's rank of the file to fix).
`run_tasks` does this for many tasks, in `workers` processes when asked for more than one.
"""

from __future__ import annotations

import multiprocessing
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from plt_agent.eval.checkout import diff_since_base, evaluation_copy, materialize
from plt_agent.eval.errors import EvalError
from plt_agent.eval.grading import NOT, Grade, grade, not_applied
from plt_agent.eval.patches import touched_files
from plt_agent.eval.pytest_run import run_pytest
from plt_agent.eval.solvers import Solver, SolveResult, make_solver
from plt_agent.eval.tasks import Task


@dataclass(frozen=True)
class RunOptions:
    model: str | None = None
    max_steps: int | None = None
    out_dir: Path | None = None  # trajectories go to out_dir/trajectories
    per_test_timeout: int = 30
    python: str | None = None
    localize: bool = True
    keep: bool = False  # keep each task's temp dirs (for debugging)


@dataclass
class TaskResult:
    instance_id: str
    status: str  # RESOLVED / PARTIAL / NOT
    solver_status: str = ""
    f2p_passed: int = 0
    f2p_total: int = 0
    p2p_passed: int = 0
    p2p_total: int = 0
    steps: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    format_errors: int = 0
    failed_edits: int = 0
    solve_seconds: float = 0.0
    wall_seconds: float = 0.0
    patch_applied: bool = True
    files_changed: list[str] = field(default_factory=list)
    file_to_fix: str | None = None
    touched_file_to_fix: bool = False
    localized: bool = False
    localization_rank: int | None = None
    localization_skipped: str = ""
    tags: list[str] = field(default_factory=list)
    error: str = ""
    trajectory: str | None = None
    model_patch: str = ""
    failing_tests: list[str] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_json(self) -> dict:
        return asdict(self)


_SOLVERS: dict[tuple, Solver] = {}  # one solver (and loaded model) per worker process


def _solver(options: RunOptions) -> Solver:
    key = (options.model, options.max_steps)
    if key not in _SOLVERS:
        _SOLVERS[key] = make_solver(options.model, max_steps=options.max_steps)
    return _SOLVERS[key]


def run_task(task: Task, options: RunOptions) -> TaskResult:
    """Solve and grade one task; never raises for a task's own failure."""
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f"plt-eval-{task.instance_id}-"))
    try:
        result = _run_in(task, options, tmp)
    except EvalError as exc:
        result = TaskResult(task.instance_id, NOT, "error", error=str(exc))
    finally:
        if not options.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    result.wall_seconds = time.perf_counter() - started
    result.tags = list(task.tags)
    result.file_to_fix = task.file_to_fix
    return result


def _run_in(task: Task, options: RunOptions, tmp: Path) -> TaskResult:
    work = materialize(task, tmp / "work")
    trajectory = _trajectory_path(task, options, tmp)
    solved = _solver(options).solve(task, work, trajectory)
    patch = diff_since_base(work)
    graded = _grade(task, patch, tmp / "eval", options)
    result = _result(task, solved, graded, patch)
    if options.localize:
        from plt_agent.eval.localize import localize_task

        loc = localize_task(task, python=options.python)
        result.localized, result.localization_rank, result.localization_skipped = True, loc.rank, loc.skipped
    return result


def _trajectory_path(task: Task, options: RunOptions, tmp: Path) -> Path:
    folder = options.out_dir / "trajectories" if options.out_dir else tmp
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{task.instance_id}.jsonl"


def _grade(task: Task, patch: str, dest: Path, options: RunOptions) -> Grade:
    repo, problem = evaluation_copy(task, patch, dest)
    if problem:
        return not_applied(task.fail_to_pass, task.pass_to_pass, problem)
    run = run_pytest(repo, task.test_ids, per_test_timeout=options.per_test_timeout, python=options.python)
    graded = grade(task.fail_to_pass, task.pass_to_pass, run.passed)
    if run.timed_out:
        graded.reason = "the test run timed out"
    return graded


def _result(task: Task, solved: SolveResult, graded: Grade, patch: str) -> TaskResult:
    files = touched_files(patch) if patch.strip() else []
    return TaskResult(
        instance_id=task.instance_id,
        status=graded.status,
        solver_status=solved.status,
        f2p_passed=len(graded.f2p_passed),
        f2p_total=len(task.fail_to_pass),
        p2p_passed=len(graded.p2p_passed),
        p2p_total=len(task.pass_to_pass),
        steps=solved.steps,
        prompt_tokens=solved.prompt_tokens,
        completion_tokens=solved.completion_tokens,
        format_errors=solved.format_errors,
        failed_edits=solved.failed_edits,
        solve_seconds=round(solved.seconds, 3),
        patch_applied=not graded.reason.startswith("the model patch does not apply"),
        files_changed=files,
        touched_file_to_fix=bool(task.file_to_fix and task.file_to_fix in files),
        error="; ".join(x for x in (solved.error, graded.reason) if x),
        trajectory=solved.trajectory,
        model_patch=patch,
        failing_tests=graded.f2p_failed + graded.p2p_failed,
    )


def run_tasks(
    tasks: list[Task],
    options: RunOptions,
    *,
    workers: int = 1,
    on_result: Callable[[TaskResult], None] | None = None,
) -> list[TaskResult]:
    """Every task's result, in the tasks' order; `on_result` sees each one as it finishes."""
    results: dict[str, TaskResult] = {}
    if workers <= 1:
        for task in tasks:
            results[task.instance_id] = run_task(task, options)
            if on_result:
                on_result(results[task.instance_id])
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = {pool.submit(run_task, task, options): task for task in tasks}
            for future in as_completed(futures):
                task = futures[future]
                try:
                    result = future.result()
                except Exception as exc:  # a worker died: that task failed, the others go on
                    result = TaskResult(task.instance_id, NOT, "error", error=f"worker failed: {exc}")
                results[result.instance_id] = result
                if on_result:
                    on_result(result)
    return [results[t.instance_id] for t in tasks]
