"""`fix_repository`: what `plt-agent fix` and `plt-agent demo` run, without the CLI around it.

1. check the directory (a git work tree unless `no_git`), snapshot it (`Workspace`);
2. run the tests: without a message, their failures are the task (passing tests: nothing
   to do); with a message, the message is the task and the tests judge the end;
3. pick the action format for the model and how long a reply may be (`profile`: native
   tools, text protocol, or whole-file rewrites for a tiny model);
4. run the agent within its budgets, logging a trajectory;
5. on success keep the changes in the work tree (commit them only when asked, and only the
   files the agent changed); on failure or interruption put every file back as it was,
   the user's own uncommitted edits included, unless the request says `keep_changes`
   (the eval harness: like SWE-bench, it grades whatever diff the agent left).

The whole run holds the repository's run lock and journals ahead of every change
(tools.runs, tools.workspace), so a second run refuses (or waits), and a run killed midway
is put back by the next one. The model's git commands that would change HEAD, the index,
refs or stash are refused; whatever its commands changed there anyway is put back at the
end of every run. The only git change a fix makes is the one `--commit`.
This module knows nothing about the terminal: `events` and `confirm` come from the caller.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from plt_agent.agent.actions import Action
from plt_agent.agent.events import AgentEvents
from plt_agent.agent.loop import Agent
from plt_agent.agent.outcome import Outcome, Verdict
from plt_agent.agent.profile import Profile, choose_profile
from plt_agent.agent.run import AgentSettings
from plt_agent.agent.trajectory import Trajectory
from plt_agent.agent.wholefile.strategy import WholeFileRun
from plt_agent.config import Config, setting_source
from plt_agent.errors import PltAgentError, UsageError
from plt_agent.models.base import Model
from tools import git
from tools.base import Tool
from tools.procs import signals_deferred
from tools.restore import RestoreReport
from tools.runs import begin_run
from tools.workspace import Workspace

FIX_TOOLS = ("view", "search", "find", "edit", "write", "insert", "run_tests", "bash")


@dataclass(frozen=True)
class FixRequest:
    path: Path
    message: str | None = None
    no_git: bool = False
    commit: bool = False
    trajectory: Path | None = None
    keep_changes: bool = False  # leave the agent's edits in the tree even when the run fails
    test_cmd_source: str = ""  # where config.test_cmd came from (`config.setting_source`), if set


@dataclass
class FixResult:
    outcome: Outcome
    mode: str
    model: str
    diff: str = ""
    trajectory: Path | None = None
    restored: list[str] = field(default_factory=list)
    kept_by_user: list[str] = field(default_factory=list)  # files not restored: changed by someone else
    commit: str = ""
    notes: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)  # what a dead earlier run left, put back first

    @property
    def fixed(self) -> bool:
        """Success: verified by the tests, nothing to do, or (no tests at all) submitted by the model."""
        return self.outcome.status in ("fixed", "nothing_to_fix", "submitted")


def open_workspace(request: FixRequest, config: Config) -> Workspace:
    root = request.path.expanduser().resolve()
    if not root.is_dir():
        raise UsageError(f"{request.path} is not a directory")
    if not request.no_git and git.find_root(root) is None:
        raise UsageError(
            f"{root} is not inside a git repository; run `git init` there, or pass --no-git "
            "(plt-agent still keeps its own snapshot to undo its changes)"
        )
    source = (request.test_cmd_source or setting_source("test_cmd", root)) if config.test_cmd else ""
    return Workspace(
        root, use_git=not request.no_git, test_command=config.test_cmd, test_command_source=source
    )


def make_verifier(workspace: Workspace, run_tool: Callable | None = None) -> Callable[[], Verdict]:
    """A function that runs the tests and reports a Verdict (pytest counts when available).

    Failing tests are counted only when the tests ran (pytest exit 0 or 1): a run stopped at
    collection or crashed at start-up has no count, so it can never look like progress."""
    if run_tool is None:
        from tools.registry import run_tool

    def verify() -> Verdict:
        obs = run_tool("run_tests", {}, workspace)
        data = obs.data or {}
        if not data:
            raise UsageError(f"cannot run the tests: {obs.text} (pass --test-cmd or set test_cmd)")
        failing = None
        if data.get("framework") == "pytest" and data.get("collected"):
            failing = int(data.get("failed", 0)) + int(data.get("errors", 0))
        started = data.get("started", data.get("exit_code") not in (None, 126, 127))
        return Verdict(
            passed=bool(data.get("success")),
            summary=obs.text,
            failing=failing,
            failing_ids=list(data.get("failing") or []),
            command=str(data.get("command", "")),
            reason=str(data.get("reason", "")),
            warning=str(data.get("warning", "")),
            started=bool(started) and not data.get("timed_out"),
        )

    return verify


def check_first_run(verdict: Verdict) -> None:
    """UsageError when the tests could not even start: nothing the model could fix."""
    if verdict.started:
        return
    tail = [line for line in verdict.summary.splitlines() if line.strip()][-1:] or ["(no output)"]
    raise UsageError(
        f"the test command did not start the tests: `{verdict.command}` ({verdict.reason}) said: "
        f"{tail[0][:300]}; pass --test-cmd or set [tool.plt-agent] test_cmd"
    )


def settings_from(config: Config, profile: Profile, *, verify_after_edits: bool) -> AgentSettings:
    return AgentSettings(
        mode="tools" if profile.mode == "tools" else "text",
        max_steps=config.max_steps,
        max_tokens=config.max_tokens,
        max_seconds=config.max_seconds,
        reply_tokens=profile.reply_tokens,
        temperature=config.temperature,
        verify_after_edits=verify_after_edits,
        prose_chars=profile.prose_chars,
    )


def fix_tools() -> list[Tool]:
    from tools.registry import default_tools

    return [t for t in default_tools() if t.name in FIX_TOOLS]


def fix_repository(
    request: FixRequest,
    config: Config,
    model_loader: Callable[[], Model],
    *,
    events: AgentEvents | None = None,
    confirm: Callable[[Action], bool | str] | None = None,
    should_stop: Callable[[], bool] | None = None,
    wait: bool = False,
) -> FixResult:
    """Run one fix (see the module docstring). Raises UsageError for bad input before any change.

    Holds the repository's run lock throughout (RepositoryBusy when another run holds it,
    unless `wait`); first puts back what a dead earlier run left (reported in `recovered`).
    """
    events = events or AgentEvents()
    if request.message is not None and not request.message.strip():
        raise UsageError("the task message is empty")
    workspace = open_workspace(request, config)
    run = begin_run(
        workspace, "fix", wait=wait, on_wait=lambda h: events.note(f"waiting for {h.describe()} to finish")
    )
    completed = False  # False: the journal stays unfinished, for the next run to put back
    try:
        recovered = [line for rec in run.recovered for line in rec.lines()]
        for line in recovered:
            events.note(line)
        try:
            result = _fix(request, config, model_loader, workspace, events, confirm, should_stop)
        except BaseException:  # Ctrl-C, SIGTERM: the shell tool has already killed its command
            with signals_deferred():  # a second Ctrl-C must not cut the restore short
                workspace.restore_all()  # stopped or crashed: every file and git part back
            completed = True
            raise
        completed = True
        result.recovered = recovered
        return result
    finally:
        run.finish(completed=completed)


def _fix(
    request: FixRequest,
    config: Config,
    model_loader: Callable[[], Model],
    workspace: Workspace,
    events: AgentEvents,
    confirm: Callable[[Action], bool | str] | None,
    should_stop: Callable[[], bool] | None,
) -> FixResult:
    dirty_before = git.dirty_files(workspace.root) if not request.no_git else set()
    verify = make_verifier(workspace)
    first = None
    if request.message is None or _has_tests(workspace):
        events.phase("running the tests")
        first = verify()
        check_first_run(first)
        events.first_tests(first)
    if request.message is None and first is not None and first.passed:
        return FixResult(Outcome("nothing_to_fix", message="the tests already pass"), "none", "(not loaded)")
    events.phase("loading the model")
    model = model_loader()
    failing = first is not None and not first.passed
    issue = request.message is not None and first is not None and first.passed
    profile = choose_profile(config, model, has_failure=failing, issue=issue)
    mode = profile.mode
    trajectory = Trajectory(request.trajectory)
    trajectory.log(
        "start",
        model=model.name,
        context_window=model.context_window,
        mode=mode,
        task=request.message,
        repo=str(workspace.root),
        settings=config.__dict__,
    )
    events.note(f"model {model.name} (context {model.context_window} tokens), mode {mode}")
    outcome = _run(
        request,
        config,
        model,
        profile,
        workspace,
        verify,
        first,
        events,
        confirm,
        should_stop,
        trajectory,
    )
    result = FixResult(outcome, mode, model.name, trajectory=request.trajectory)
    if outcome.status == "submitted" and failing:
        events.phase("running the tests")
        outcome.status = "fixed" if verify().passed else "not_fixed"
    if result.fixed or request.keep_changes:
        _put_back_git(workspace.restore_git(), result.notes)
        result.diff = workspace.diff()
        if result.fixed and request.commit and not request.no_git:
            result.commit = _commit(workspace, dirty_before, outcome, result.notes)
        if not result.fixed and result.diff:
            result.notes.append("the run did not succeed; its changes are kept as asked (keep_changes)")
    else:
        report = workspace.restore_all()
        result.restored = report.restored + report.removed
        result.kept_by_user = sorted(report.skipped)
        _put_back_git(report, result.notes)
    return result


def _put_back_git(report: RestoreReport, notes: list[str]) -> None:
    if report.git_restored:
        notes.append(
            "the model's commands changed git state; put back as it was: " + ", ".join(report.git_restored)
        )
    for part, why in report.git_skipped.items():
        notes.append(f"warning: git {part} was changed by the model's commands and not put back ({why})")


def _run(
    request: FixRequest,
    config: Config,
    model: Model,
    profile: Profile,
    workspace: Workspace,
    verify: Callable[[], Verdict],
    first: Verdict | None,
    events: AgentEvents,
    confirm: Callable[[Action], bool | str] | None,
    should_stop: Callable[[], bool] | None,
    trajectory: Trajectory,
) -> Outcome:
    if profile.mode == "whole-file":
        if first is None or (first.passed and not request.message):
            raise UsageError(
                "the whole-file mode needs the repository's tests: failing, or passing with a -m task"
            )
        run = WholeFileRun(
            model,
            workspace,
            verify,
            settings=settings_from(config, profile, verify_after_edits=True),
            rounds=profile.rounds,
            events=events,
            trajectory=trajectory,
            should_stop=should_stop,
        )
        return run.run_issue(request.message, first) if first.passed else run.run(first, request.message)
    from plt_agent.agent import prompts

    failing_output = first.summary if first is not None and not first.passed else None
    task = prompts.fix_task(
        message=request.message,
        test_cmd=_test_cmd(first),
        test_output=failing_output,
        repo_map=_repo_map(workspace, (request.message or "") + (failing_output or "")),
    )
    settings = settings_from(config, profile, verify_after_edits=request.message is None)
    agent = Agent(
        model,
        workspace,
        fix_tools(),
        settings=settings,
        verify=verify if first else None,
        confirm=confirm,
        events=events,
        trajectory=trajectory,
        should_stop=should_stop,
    )
    budget = agent.budget
    task = budget.clip(task, max(256, budget.window // 3))
    return agent.run(task)


def _has_tests(workspace: Workspace) -> bool:
    from tools.testenv import choose_test_command

    return choose_test_command(workspace.root, workspace.test_command) is not None


def _test_cmd(first: Verdict | None) -> str | None:
    if first is None:
        return None
    line = first.summary.splitlines()[0] if first.summary else ""
    return line[2:] if line.startswith("$ ") else None


def _repo_map(workspace: Workspace, query: str) -> str | None:
    try:
        from tools.registry import run_tool
    except ImportError:
        return None
    obs = run_tool("repo_map", {"query": query[:2000]} if query else {}, workspace)
    return obs.text if obs.ok else None


def _commit(workspace: Workspace, dirty_before: set[str], outcome: Outcome, notes: list[str]) -> str:
    files = workspace.changed_files()
    mixed = sorted(set(files) & dirty_before)
    if mixed:
        notes.append(
            f"not committed: {', '.join(mixed)} also held your own uncommitted changes; "
            "the fix is left in the working tree"
        )
        return ""
    message = f"plt-agent fix: {', '.join(files)}\n\n{outcome.message or outcome.status}"
    try:
        return git.commit_files(workspace.root, files, message)
    except git.GitError as exc:
        raise PltAgentError(f"the fix is in the working tree but `git commit` failed: {exc}") from None


def default_trajectory_path(root: Path) -> Path:
    from plt_agent.store import store_root

    stamp = time.strftime("%Y%m%d-%H%M%S")
    return store_root() / "trajectories" / f"{stamp}-{root.name}.jsonl"
