"""Solvers: what changes a task's fresh checkout. The agent (`fix` in-process) or the oracle.

`make_solver(spec)`:
- `oracle`: the gold patch through the agent's edit tools (`oracle.apply_with_tools`);
- anything else is a model spec for `plt-agent fix` (`llama:PATH`, `openai:URL#MODEL`,
  a store name, ...). `scripted:DIR` where DIR is a directory replays `DIR/<instance_id>.jsonl`
  for each task; `scripted:FILE.jsonl` replays the same file for every task.

A solver returns `SolveResult`: status, steps, tokens, format errors and failed edits, read
from the agent's own trajectory (JSONL) so the figures are the ones the agent logged.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from plt_agent.eval.tasks import Task
from tools.registry import file_editors

EDIT_ACTIONS = (*file_editors(), "rewrite")  # "rewrite": a whole-file answer


@dataclass
class SolveResult:
    status: str  # the agent's outcome ("fixed", "max_steps", ...) or "applied" / "error"
    steps: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    format_errors: int = 0
    failed_edits: int = 0
    seconds: float = 0.0
    error: str = ""
    trajectory: str | None = None
    mode: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Solver(Protocol):
    name: str

    def solve(self, task: Task, repo: Path, trajectory: Path | None) -> SolveResult: ...


class OracleSolver:
    name = "oracle"

    def solve(self, task: Task, repo: Path, trajectory: Path | None) -> SolveResult:
        from plt_agent.eval.oracle import apply_with_tools
        from tools.workspace import Workspace

        started = time.perf_counter()
        workspace = Workspace(repo)
        workspace.snapshot()
        run = apply_with_tools(task.gold_patch, workspace)
        failed = [c for c in run.failed if c.name in EDIT_ACTIONS]
        return SolveResult(
            status="applied" if not run.failed else "edit_failed",
            steps=len(run.calls),
            failed_edits=len(failed),
            seconds=time.perf_counter() - started,
            error="; ".join(c.text.splitlines()[0] for c in run.failed),
        )


class AgentSolver:
    """`plt-agent fix REPO -m PROBLEM_STATEMENT --model SPEC` run in this process.

    Like SWE-bench harnesses, it keeps whatever the agent changed (`keep_changes`): a run that
    edits and then runs out of budget is still graded on its diff."""

    def __init__(self, spec: str | None, *, max_steps: int | None = None, overrides: dict | None = None):
        self.spec = spec
        self.name = spec or "default"
        self.max_steps = max_steps
        self.overrides = dict(overrides or {})
        self._models: dict[str, Any] = {}

    def spec_for(self, task: Task) -> str | None:
        if self.spec and self.spec.startswith("scripted:"):
            path = Path(self.spec[len("scripted:") :])
            if path.is_dir():
                return f"scripted:{path / (task.instance_id + '.jsonl')}"
        return self.spec

    def solve(self, task: Task, repo: Path, trajectory: Path | None) -> SolveResult:
        from plt_agent.agent.fix import FixRequest, fix_repository
        from plt_agent.config import load_config

        started = time.perf_counter()
        flags = {"model": self.spec_for(task), "max_steps": self.max_steps, **self.overrides}
        try:
            config = load_config(repo, flags)
            request = FixRequest(
                repo, message=task.problem_statement, trajectory=trajectory, keep_changes=True
            )
            result = fix_repository(request, config, lambda: self._model(config))
        except Exception as exc:  # a crash is one task's failure, not the whole run's
            return SolveResult(
                "error",
                seconds=time.perf_counter() - started,
                error=f"{type(exc).__name__}: {exc}",
                trajectory=str(trajectory) if trajectory else None,
                notes=[traceback.format_exc(limit=4)],
            )
        solved = (
            metrics_from_trajectory(trajectory) if trajectory and trajectory.exists() else SolveResult("")
        )
        solved.status = result.outcome.status
        solved.mode = result.mode
        solved.seconds = time.perf_counter() - started
        solved.trajectory = str(trajectory) if trajectory else None
        solved.notes += list(result.notes)
        if not solved.steps:
            solved.steps = result.outcome.steps
            solved.prompt_tokens = result.outcome.prompt_tokens
            solved.completion_tokens = result.outcome.completion_tokens
        return solved

    def _model(self, config: Any) -> Any:
        """Load the model once per process; scripted replays start afresh for every task."""
        from plt_agent.models import ModelOptions, load_model

        spec = config.model or ""
        if spec.startswith("scripted:") or spec not in self._models:
            model = load_model(config.model, ModelOptions.from_config(config))
            if spec.startswith("scripted:"):
                return model
            self._models[spec] = model
        return self._models[spec]


def metrics_from_trajectory(path: Path) -> SolveResult:
    """Steps, tokens, format errors and failed edits as the agent logged them."""
    from plt_agent.agent.trajectory import read_events

    out = SolveResult("")
    for event in read_events(path):
        kind = event.get("type")
        if kind == "reply":
            usage = event.get("usage") or {}
            out.prompt_tokens += int(usage.get("prompt_tokens", 0))
            out.completion_tokens += int(usage.get("completion_tokens", 0))
            out.steps = max(out.steps, int(event.get("step", 0)))
        elif kind == "action":
            if event.get("refused") == "format":
                out.format_errors += 1
            elif event.get("name") in EDIT_ACTIONS and (
                event.get("ok") is False or event.get("refused") == "unusable"
            ):
                out.failed_edits += 1
        elif kind == "end":
            out.status = str(event.get("status", ""))
            out.steps = int(event.get("steps", out.steps))
    return out


def make_solver(spec: str | None, *, max_steps: int | None = None) -> Solver:
    if spec == "oracle":
        return OracleSolver()
    return AgentSolver(spec, max_steps=max_steps)
