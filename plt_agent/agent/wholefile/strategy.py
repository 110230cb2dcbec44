"""The whole-file strategy, for models too small to drive tools (SmolLM2-135M and the like).

The scaffold does the navigation, the model only rewrites one file. Two goals:

- failing tests (`run(first)`): make them pass. Candidates come from the failure
  (`tools.localize.candidate_files`: traceback, names on the failing lines, the failing test's
  imports, the repository map); the prompt shows the failing test output;
- an issue text while the visible tests pass (`run_issue(statement, first)`, a `-m` task
  whose revealing tests the agent cannot see): candidates come from the text
  (`tools.localize.issue_candidates`: files and names it mentions, the repository map; data files
  such as .json/.ini count); the prompt shows the statement and, when the file is only
  reached through other code, the snippet that uses it (`tools.localize.usage_snippet`).

Each attempt:
1. show the model the task and the whole candidate file, and ask for the corrected file in
   one fenced block (a single fresh prompt each attempt: tiny models do best without
   history); the reply room is about the file's size again;
2. take the FIRST fenced block (generation stops as soon as it is closed, or earlier when the
   reply rambles or loops: `ReplyWatch`) and apply it as the smallest change
   (`answers.merge_answer`); reject answers that do not parse or change nothing;
3. write it and run the visible tests. Failing goal: pass -> "fixed"; fewer failures ->
   keep and go on from there. Issue goal: still passing -> "submitted" (the change is kept;
   whether it solves the issue only the hidden tests can tell); a change that breaks a
   visible test is rejected. Otherwise the file is put back and the next attempt is warmer
   (temperature steps) or on the next candidate; a second round over the candidates uses
   temperatures not tried yet (`profile.temperature_rounds`).

Budgets, stops, token accounting and the trajectory are the loop's (`run.Run`).
This module knows nothing about the CLI or git.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from plt_agent.agent.actions import first_closed_block, first_code_block
from plt_agent.agent.events import AgentEvents
from plt_agent.agent.outcome import Outcome, Verdict
from plt_agent.agent.profile import FAILURE_ROUNDS, ISSUE_ROUNDS, Rounds, temperature_rounds
from plt_agent.agent.run import AgentSettings, Run, Stop
from plt_agent.agent.trajectory import Trajectory
from plt_agent.agent.wholefile.answers import check_answer, merge_answer
from plt_agent.agent.wholefile.prompts import failure_excerpt, issue_prompt, prompt
from plt_agent.models.base import ContextOverflow, Model, text_tokens
from plt_agent.models.replywatch import ReplyWatch
from tools.localize import (
    candidate_files,
    issue_candidates,
    names_definitions_of,
    repo_map_ranking,
    usage_snippet,
)
from tools.workspace import Workspace

MAX_FILE_CHARS = 12_000
_FENCE_START = re.compile(r"^[ \t]*(?:```|~~~)", re.MULTILINE)


class WholeFileRun:
    def __init__(
        self,
        model: Model,
        workspace: Workspace,
        verify: Callable[[], Verdict],
        *,
        settings: AgentSettings,
        rounds: Rounds | None = None,
        events: AgentEvents | None = None,
        trajectory: Trajectory | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.model = model
        self.workspace = workspace
        self.verify = verify
        self.settings = settings
        self.rounds = rounds  # None: the profile's rounds for the goal
        self.events = events or AgentEvents()
        self.trajectory = trajectory or Trajectory(None)
        self.current = Run(settings, self.events, self.trajectory, should_stop)  # the run in progress
        self.statement: str | None = None  # the issue text (issue goal) or None (failing tests)
        self.task: str | None = None  # the user's own words alongside failing tests (`fix -m`)
        self._usage: dict[str, tuple[str, str] | None] = {}

    def run(self, first: Verdict, task: str | None = None) -> Outcome:
        """Try to make `first` (a failing verdict) pass; see the module docstring. `task`, the
        user's words (`fix -m`), is shown to the model with the failure in every prompt."""
        self.task = task
        ranked = repo_map_ranking(self.workspace, f"{task or ''}\n{first.summary}")
        candidates = candidate_files(self.workspace, first.summary, ranked=ranked)
        self.events.note("whole-file mode; candidate files: " + ", ".join(candidates))
        rounds = self.rounds or temperature_rounds(self.settings.temperature, FAILURE_ROUNDS)
        failed = f"no answer for {', '.join(candidates)} made the tests pass"
        return self._attempts(candidates, rounds, first, failed)

    def run_issue(self, statement: str, first: Verdict) -> Outcome:
        """Change a file for the issue `statement` while `first` (a passing verdict) stays green."""
        self.statement = statement
        ranked = repo_map_ranking(self.workspace, statement)
        candidates = issue_candidates(self.workspace, statement, ranked=ranked)
        self.events.note("whole-file mode for an issue; candidate files: " + ", ".join(candidates))
        rounds = self.rounds or temperature_rounds(self.settings.temperature, ISSUE_ROUNDS)
        failed = f"no answer for {', '.join(candidates)} changed the code and kept the tests passing"
        return self._attempts(candidates, rounds, first, failed)

    def _attempts(self, candidates: list[str], rounds: Rounds, first: Verdict, failed: str) -> Outcome:
        def attempts() -> Stop:
            baseline = first
            for temperatures in rounds:
                for path in candidates:
                    baseline = self._try_file(path, baseline, temperatures)
            return Stop("not_fixed", failed)

        return self.current.execute(attempts)

    def _try_file(self, path: str, baseline: Verdict, temperatures: tuple[float, ...]) -> Verdict:
        for temperature in temperatures:
            self.current.check_budgets()
            original = self.workspace.read_text(path)
            if len(original) > MAX_FILE_CHARS:
                self.events.note(f"{path} is too large for a whole-file answer; skipped")
                return baseline
            if self._answer_tokens(original) > self.settings.reply_tokens:
                self.events.note(
                    f"{path} is too large to rewrite within the reply cap of "
                    f"{self.settings.reply_tokens} tokens (reply_tokens); skipped"
                )
                return baseline
            variants = self._ask(path, original, baseline, temperature)
            baseline = self._try_variants(path, original, variants, baseline)
        return baseline

    def _try_variants(self, path: str, original: str, variants: list[str], baseline: Verdict) -> Verdict:
        """Test each variant; stop at a pass, keep the best improvement, else restore the file."""
        best: tuple[Verdict, str] | None = None
        for new in variants:
            verdict = self._apply(path, new)
            if verdict.passed and self.statement is not None:
                self.events.note(f"kept a change to {path}: the visible tests still pass")
                raise Stop("submitted", f"changed {path}; the visible tests still pass")
            if verdict.passed:
                raise Stop("fixed", f"the tests pass after rewriting {path}")
            if _fewer(verdict, best[0] if best else baseline):
                best = (verdict, new)
        if best is None:
            self.workspace.write_text(path, original)
            return baseline
        self.workspace.write_text(path, best[1])
        self.events.note(f"kept a change to {path}: fewer failing tests ({best[0].failing})")
        return best[0]

    def _ask(self, path: str, original: str, baseline: Verdict, temperature: float) -> list[str]:
        step = self.current.next_step()
        messages = self._messages(path, original, baseline)
        prompt_tokens, room = self._reply_room(messages, original)
        self.events.step_started(step, self.settings.max_steps, prompt_tokens)
        for message in messages:
            self.trajectory.log("message", index=-1, message=message)
        watch = ReplyWatch(
            self.events.text,
            complete=_has_closed_block,
            opener=_FENCE_START,
            prose_chars=self.settings.prose_chars,
            user_stop=self.current.should_stop,
            source=original,  # a repetition copied from the file is no loop
        )
        reply = self.model.complete(
            messages,
            max_tokens=room,
            temperature=temperature,
            on_text=watch.feed,
            should_stop=watch.done,
            on_progress=self.events.progress,
        )
        self.current.replied(reply, temperature=temperature, path=path, cut=watch.reason)
        if watch.interrupted(reply):
            raise Stop("cancelled", "stopped by the user")
        return self._variants(path, original, reply.content, watch)

    def _messages(self, path: str, original: str, baseline: Verdict) -> list[dict[str, str]]:
        if self.statement is None:
            return prompt(path, original, failure_excerpt(baseline.summary), self.task)
        if path not in self._usage:
            self._usage[path] = self._usage_for(path)
        return issue_prompt(path, original, self.statement, self._usage[path])

    def _usage_for(self, path: str) -> tuple[str, str] | None:
        """The code that uses `path`, shown when the statement names none of the file's definitions."""
        assert self.statement is not None
        if names_definitions_of(self.workspace, path, self.statement):
            return None
        return usage_snippet(self.workspace, path, self.statement)

    def _variants(self, path: str, original: str, content: str, watch: ReplyWatch) -> list[str]:
        block = first_code_block(content)
        if block is None:
            self._reject(path, watch.describe() or "the reply has no fenced code block", format_error=True)
            return []
        self.current.format_errors = 0
        variants, problems = [], []
        for new in merge_answer(path, original, block[1]):
            problem = check_answer(path, original, new)
            (problems if problem else variants).append(problem or new)
        if not variants:
            self._reject(path, problems[0], format_error=False)
        return variants

    def _answer_tokens(self, original: str) -> int:
        """Tokens a whole-file answer for `original` needs: the file again plus a little."""
        return text_tokens(self.model, original) * 5 // 4 + 64

    def _reply_room(self, messages: list[dict[str, str]], original: str) -> tuple[int, int]:
        """(prompt tokens, reply room): room for the file again plus a little, within the window
        and never above `reply_tokens` (the hard cap of every mode)."""
        prompt_tokens = self.model.count_tokens(messages)
        cap = self.settings.reply_tokens
        need = min(cap, max(min(256, cap), self._answer_tokens(original)))
        room = self.model.context_window - prompt_tokens
        if room < min(need, 256):
            raise ContextOverflow(
                f"the whole-file prompt needs {prompt_tokens} tokens plus room for the answer; "
                f"the context window of {self.model.name} is {self.model.context_window}"
            )
        return prompt_tokens, min(need, room)

    def _reject(self, path: str, why: str, *, format_error: bool) -> None:
        self.trajectory.log(
            "action",
            step=self.current.steps,
            name="rewrite",
            arguments={"path": path},
            refused="format" if format_error else "unusable",
            message=why,
        )
        self.events.note(f"answer not used: {why}")
        if format_error:
            self.current.bad_reply("no code block")

    def _apply(self, path: str, new: str) -> Verdict:
        self.workspace.write_text(path, new)
        self.trajectory.log(
            "action", step=self.current.steps, name="write", arguments={"path": path}, ok=True, chars=len(new)
        )
        return self.current.check(self.verify)


def _has_closed_block(text: str) -> bool:
    return text.count("```") >= 2 and first_closed_block(text) is not None


def _fewer(verdict: Verdict, baseline: Verdict) -> bool:
    return verdict.failing is not None and baseline.failing is not None and verdict.failing < baseline.failing
