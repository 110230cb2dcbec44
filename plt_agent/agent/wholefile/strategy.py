"""The whole-file strategy, for models too small to drive tools (SmolLM2-135M and the like).

The scaffold does the navigation, the model only rewrites one file. Two goals:

- failing tests (`run(first)`): make them pass. Candidates come from the failure
  (`localize.candidate_files`: traceback, names on the failing lines, the failing test's
  imports, the repository map); the prompt shows the failing test output;
- an issue text while the visible tests pass (`run_issue(statement, first)`, a `-m` task
  whose revealing tests the agent cannot see): candidates come from the text
  (`localize.issue_candidates`: files and names it mentions, the repository map; data files
  such as .json/.ini count); the prompt shows the statement and, when the file is only
  reached through other code, the snippet that uses it (`localize.usage_snippet`).

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
   temperatures not tried yet.

Budgets (steps = model calls, tokens, seconds) and the trajectory work as in the loop.
This module knows nothing about the CLI or git.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict

from plt_agent.agent.actions import first_closed_block, first_code_block
from plt_agent.agent.context import head_tail
from plt_agent.agent.events import AgentEvents
from plt_agent.agent.loop import AgentSettings, Outcome, Verdict
from plt_agent.agent.replywatch import ReplyWatch
from plt_agent.agent.trajectory import Trajectory, log_end
from plt_agent.agent.wholefile.answers import check_answer, fence_lang, merge_answer
from plt_agent.models.base import ContextOverflow, Model, ModelError
from tools.localize import (
    candidate_files,
    issue_candidates,
    names_definitions_of,
    repo_map_ranking,
    usage_snippet,
)
from tools.workspace import Workspace

SYSTEM = "You are an expert programmer. You fix bugs. You answer with code only."
# Two rounds over the candidates: a greedy model repeats itself at one temperature, so every
# retry uses a new one (the second round interleaves the first). An issue's candidates are
# less certain than a traceback's, so it tries more files with fewer temperatures each.
TEMPERATURE_ROUNDS = ((0.0, 0.3, 0.6, 0.8), (0.45, 0.7, 0.9, 1.0))
ISSUE_TEMPERATURE_ROUNDS = ((0.0, 0.6), (0.3, 0.9))
MAX_FILE_CHARS = 12_000
PROSE_CHARS = 600  # text allowed before the code block starts
_FENCE_START = re.compile(r"^[ \t]*(?:```|~~~)", re.MULTILINE)


def prompt(path: str, content: str, failure: str) -> list[dict[str, str]]:
    lang = fence_lang(path)
    user = (
        f"The tests fail with this error:\n```\n{failure.strip()}\n```\n\n"
        f"This is the file {path}:\n```{lang}\n{content.rstrip()}\n```\n\n"
        f"Find the bug in {path} and fix it so the tests pass. "
        f"Reply with the complete corrected file {path} in one ```{lang} code block."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def issue_prompt(
    path: str, content: str, statement: str, usage: tuple[str, str] | None = None
) -> list[dict[str, str]]:
    """The prompt for an issue text: the report, how the file is used (optional), the file."""
    lang = fence_lang(path)
    parts = [f"A user reported this problem:\n\n{statement.strip()}"]
    if usage is not None:
        parts.append(f"This code in {usage[0]} uses {path}:\n```python\n{usage[1].rstrip()}\n```")
    parts.append(f"This is the file {path}:\n```{lang}\n{content.rstrip()}\n```")
    parts.append(
        f"Fix the problem by correcting {path}. "
        f"Reply with the complete corrected file {path} in one ```{lang} code block."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def failure_excerpt(text: str, max_chars: int = 1800) -> str:
    """The informative part of a test report: failing ids and traceback heads, kept short."""
    lines = [ln for ln in text.splitlines() if not ln.startswith("$ ")]
    return head_tail("\n".join(lines), max_chars)


# -- the strategy ------------------------------------------------------------------------------


class WholeFileRun:
    def __init__(
        self,
        model: Model,
        workspace: Workspace,
        verify: Callable[[], Verdict],
        *,
        settings: AgentSettings,
        events: AgentEvents | None = None,
        trajectory: Trajectory | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.model = model
        self.workspace = workspace
        self.verify = verify
        self.settings = settings
        self.events = events or AgentEvents()
        self.trajectory = trajectory or Trajectory(None)
        self.should_stop = should_stop
        self.started = time.perf_counter()
        self.outcome = Outcome("running")
        self.format_errors = 0
        self.statement: str | None = None  # the issue text (issue goal) or None (failing tests)
        self._usage: dict[str, tuple[str, str] | None] = {}

    def run(self, first: Verdict) -> Outcome:
        """Try to make `first` (a failing verdict) pass; see the module docstring."""
        candidates = candidate_files(
            self.workspace, first.summary, ranked=repo_map_ranking(self.workspace, first)
        )
        self.events.note("whole-file mode; candidate files: " + ", ".join(candidates))
        rounds = _rounds(self.settings.temperature, TEMPERATURE_ROUNDS)
        return self._attempts(
            candidates, rounds, first, f"no answer for {', '.join(candidates)} made the tests pass"
        )

    def run_issue(self, statement: str, first: Verdict) -> Outcome:
        """Change a file for the issue `statement` while `first` (a passing verdict) stays green."""
        self.statement = statement
        ranked = repo_map_ranking(self.workspace, statement)
        candidates = issue_candidates(self.workspace, statement, ranked=ranked)
        self.events.note("whole-file mode for an issue; candidate files: " + ", ".join(candidates))
        rounds = _rounds(self.settings.temperature, ISSUE_TEMPERATURE_ROUNDS)
        failed = f"no answer for {', '.join(candidates)} changed the code and kept the tests passing"
        return self._attempts(candidates, rounds, first, failed)

    def _attempts(
        self, candidates: list[str], rounds: list[list[float]], first: Verdict, failed: str
    ) -> Outcome:
        baseline = first
        try:
            for temperatures in rounds:
                for path in candidates:
                    baseline = self._try_file(path, baseline, temperatures)
        except _Done as done:
            return self._finish(done.status, done.message)
        except ContextOverflow as exc:
            return self._finish("context_overflow", str(exc))
        except ModelError as exc:
            return self._finish("model_error", str(exc))
        return self._finish("not_fixed", failed)

    def _try_file(self, path: str, baseline: Verdict, temperatures: list[float]) -> Verdict:
        for temperature in temperatures:
            self._check_budgets()
            original = self.workspace.read_text(path)
            if len(original) > MAX_FILE_CHARS:
                self.events.note(f"{path} is too large for a whole-file answer; skipped")
                return baseline
            variants = self._ask(path, original, baseline, temperature)
            baseline = self._try_variants(path, original, variants, baseline)
        return baseline

    def _try_variants(self, path: str, original: str, variants: list[str], baseline: Verdict) -> Verdict:
        """Test each variant; stop at a pass, keep the best improvement, else restore the file."""
        best: tuple[Verdict, str] | None = None
        for new in variants:
            verdict = self._apply(path, original, new)
            if verdict.passed and self.statement is not None:
                self.events.note(f"kept a change to {path}: the visible tests still pass")
                raise _Done("submitted", f"changed {path}; the visible tests still pass")
            if verdict.passed:
                raise _Done("fixed", f"the tests pass after rewriting {path}")
            if _fewer(verdict, best[0] if best else baseline):
                best = (verdict, new)
        if best is None:
            self.workspace.write_text(path, original)
            return baseline
        self.workspace.write_text(path, best[1])
        self.events.note(f"kept a change to {path}: fewer failing tests ({best[0].failing})")
        return best[0]

    def _ask(self, path: str, original: str, baseline: Verdict, temperature: float) -> list[str]:
        self.outcome.steps += 1
        messages = self._messages(path, original, baseline)
        prompt_tokens, room = self._reply_room(messages, original)
        self.events.step_started(self.outcome.steps, self.settings.max_steps, prompt_tokens)
        for message in messages:
            self.trajectory.log("message", index=-1, message=message)
        watch = ReplyWatch(
            self.events.text,
            complete=_has_closed_block,
            opener=_FENCE_START,
            prose_chars=PROSE_CHARS,
            user_stop=self.should_stop,
        )
        reply = self.model.complete(
            messages, max_tokens=room, temperature=temperature, on_text=watch.feed, should_stop=watch.done
        )
        self._account(reply.usage)
        self.trajectory.log(
            "reply",
            step=self.outcome.steps,
            content=reply.content,
            tool_calls=[],
            finish_reason=reply.finish_reason,
            usage=asdict(reply.usage),
            temperature=temperature,
            path=path,
            cut=watch.reason,
        )
        self.events.reply(reply)
        if watch.reason == "cancelled":
            raise _Done("cancelled", "stopped by the user")
        return self._variants(path, original, reply.content, watch)

    def _messages(self, path: str, original: str, baseline: Verdict) -> list[dict[str, str]]:
        if self.statement is None:
            return prompt(path, original, failure_excerpt(baseline.summary))
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
            why = watch.describe() or "the reply has no fenced code block"
            self._reject(path, why, format_error=True)
            return []
        self.format_errors = 0
        variants, problems = [], []
        for new in merge_answer(path, original, block[1]):
            problem = check_answer(path, original, new)
            (problems if problem else variants).append(problem or new)
        if not variants:
            self._reject(path, problems[0], format_error=False)
        return variants

    def _reply_room(self, messages: list[dict[str, str]], original: str) -> tuple[int, int]:
        """(prompt tokens, reply room): room for the file again plus a little, within the window."""
        prompt_tokens = self.model.count_tokens(messages)
        file_tokens = self.model.count_tokens([{"role": "user", "content": original}])
        need = min(self.settings.reply_tokens * 4, max(256, file_tokens * 5 // 4 + 64))
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
            step=self.outcome.steps,
            name="rewrite",
            arguments={"path": path},
            refused="format" if format_error else "unusable",
            message=why,
        )
        self.events.note(f"answer not used: {why}")
        if format_error:
            self.format_errors += 1
            if self.format_errors >= self.settings.max_format_errors:
                raise _Done("format_errors", f"{self.format_errors} replies in a row had no code block")

    def _apply(self, path: str, original: str, new: str) -> Verdict:
        self.workspace.write_text(path, new)
        self.trajectory.log(
            "action", step=self.outcome.steps, name="write", arguments={"path": path}, ok=True, chars=len(new)
        )
        verdict = self.verify()
        self.trajectory.log(
            "verify", passed=verdict.passed, failing=verdict.failing, summary=verdict.summary[:2000]
        )
        self.events.verified(verdict)
        return verdict

    def _account(self, usage) -> None:  # type: ignore[no-untyped-def]
        self.outcome.prompt_tokens += usage.prompt_tokens
        self.outcome.completion_tokens += usage.completion_tokens
        self.outcome.cached_tokens += usage.cached_tokens

    def _check_budgets(self) -> None:
        s, o = self.settings, self.outcome
        if self.should_stop and self.should_stop():
            raise _Done("cancelled", "stopped by the user")
        if o.steps >= s.max_steps:
            raise _Done("max_steps", f"used all {s.max_steps} steps")
        if o.tokens >= s.max_tokens:
            raise _Done("max_tokens", f"used {o.tokens} of {s.max_tokens} tokens")
        if time.perf_counter() - self.started >= s.max_seconds:
            raise _Done("max_seconds", f"used the {s.max_seconds:g} s time budget")

    def _finish(self, status: str, message: str) -> Outcome:
        o = self.outcome
        o.status, o.message, o.seconds = status, message, time.perf_counter() - self.started
        log_end(self.trajectory, o)
        self.events.finished(o)
        return o


def _has_closed_block(text: str) -> bool:
    return text.count("```") >= 2 and first_closed_block(text) is not None


class _Done(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _rounds(first: float, table: tuple[tuple[float, ...], ...]) -> list[list[float]]:
    """The temperature rounds of `table`, starting at the configured temperature."""
    rounds = [[first] + [t for t in table[0] if t > first]]
    rounds.append([t for t in table[1] if t > first and t not in rounds[0]])
    return [r for r in rounds if r]


def _fewer(verdict: Verdict, baseline: Verdict) -> bool:
    return verdict.failing is not None and baseline.failing is not None and verdict.failing < baseline.failing
