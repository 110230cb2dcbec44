"""Check that tasks are sound by running them, on fresh copies.

For each task: the patches apply cleanly (`git apply --check`), the structure is right
(`tasks.structural_problems`), then base + test patch: every FAIL_TO_PASS test fails and
every PASS_TO_PASS test passes; base + gold + test patch: all of them pass.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from plt_agent.eval.checkout import evaluation_copy, materialize
from plt_agent.eval.errors import EvalError
from plt_agent.eval.patches import git_apply
from plt_agent.eval.pytest_run import run_pytest
from plt_agent.eval.tasks import Task, structural_problems


@dataclass
class Validation:
    instance_id: str
    problems: list[str] = field(default_factory=list)
    base_f2p_failing: int = 0
    gold_passing: int = 0
    n_tests: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def validate_task(task: Task, *, per_test_timeout: int = 30, python: str | None = None) -> Validation:
    result = Validation(task.instance_id, structural_problems(task), n_tests=len(task.test_ids))
    with tempfile.TemporaryDirectory(prefix=f"plt-validate-{task.instance_id}-") as tmp:
        try:
            _run_checks(task, Path(tmp), result, per_test_timeout, python)
        except EvalError as exc:
            result.problems.append(str(exc))
    return result


def _run_checks(task: Task, tmp: Path, result: Validation, timeout: int, python: str | None) -> None:
    base = materialize(task, tmp / "check")
    for name, patch in (("gold", task.gold_patch), ("test", task.test_patch)):
        ok, message = git_apply(base, patch, check_only=True)
        if not ok:
            result.problems.append(f"the {name} patch does not apply cleanly: {message}")
    if result.problems:
        return
    before, _ = evaluation_copy(task, "", tmp / "before")
    run = run_pytest(before, task.test_ids, per_test_timeout=timeout, python=python)
    result.base_f2p_failing = sum(not run.passed(t) for t in task.fail_to_pass)
    result.problems += [
        f"FAIL_TO_PASS passes without the fix: {t}" for t in task.fail_to_pass if run.passed(t)
    ]
    result.problems += [
        f"PASS_TO_PASS fails at base: {t} ({run.status(t)})" for t in task.pass_to_pass if not run.passed(t)
    ]
    after, _ = evaluation_copy(task, task.gold_patch, tmp / "after")
    run = run_pytest(after, task.test_ids, per_test_timeout=timeout, python=python)
    result.gold_passing = sum(run.passed(t) for t in task.test_ids)
    result.problems += [
        f"fails with the gold patch: {t} ({run.status(t)})" for t in task.test_ids if not run.passed(t)
    ]
