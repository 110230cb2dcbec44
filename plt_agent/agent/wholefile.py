"""The whole-file strategy, for models too small to drive tools (SmolLM2-135M and the like).

The scaffold does the navigation, the model only rewrites one file:

1. rank the repository's source files against the failing test output (`candidate_files`):
   files the traceback points into, files that define the names the failing lines use, files
   the failing test imports, and the repository map's ranking; tests are never candidates;
2. show the model the failing test output and the whole candidate file, and ask for the
   corrected file in one fenced block (a single fresh prompt each attempt: tiny models do
   best without history);
3. take the FIRST fenced block (generation stops as soon as it is closed); for Python, apply
   it as the smallest change (`pysplice`: unchanged definitions keep their original text,
   docstrings and comments; a partial answer replaces only what it contains); reject
   answers that do not parse or change nothing;
4. write it and run the tests: pass -> done; fewer failures -> keep and go on from there;
   otherwise put the file back and try again, warmer (temperature steps) or with the
   next candidate; a second round over the candidates uses temperatures not tried yet.

Budgets (steps = model calls, tokens, seconds) and the trajectory work as in the loop.
This module knows nothing about the CLI or git.
"""

from __future__ import annotations

import ast
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import PurePosixPath

from plt_agent.agent.actions import first_closed_block, first_code_block
from plt_agent.agent.context import head_tail
from plt_agent.agent.events import AgentEvents
from plt_agent.agent.localize import candidate_files, is_test_file, repo_map_ranking
from plt_agent.agent.loop import AgentSettings, Outcome, Verdict
from plt_agent.agent.pysplice import changed_units, splice_python
from plt_agent.agent.trajectory import Trajectory
from plt_agent.models.base import ContextOverflow, Model, ModelError
from tools.workspace import Workspace

SYSTEM = "You are an expert programmer. You fix bugs. You answer with code only."
# Two rounds over the candidates: a greedy model repeats itself at one temperature, so every
# retry uses a new one (the second round interleaves the first).
TEMPERATURE_ROUNDS = ((0.0, 0.3, 0.6, 0.8), (0.45, 0.7, 0.9, 1.0))
MAX_SINGLE_CHANGES = 4  # per answer, how many one-definition variants are tested
MAX_FILE_CHARS = 12_000
_FENCE_LANG = {
    ".py": "python",
    ".js": "javascript",
    ".ts": "typescript",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cpp": "cpp",
    ".hpp": "cpp",
    ".rb": "ruby",
    ".php": "php",
}
# -- applying an answer ------------------------------------------------------------------------


def merge_answer(path: str, original: str, answer: str) -> list[str]:
    """New contents for the file to try, best guess first (see step 3 of the module docstring).

    For Python: the answer applied as the smallest change, then, when it changes several
    definitions, each change on its own (tiny models often fix one function and break
    another). Other languages: the answer as it is."""
    contents = []
    changed = changed_units(original, answer) if path.endswith(".py") else None
    spliced = splice_python(original, answer) if changed is not None else None
    contents.append(spliced if spliced is not None else answer)
    if changed and len(changed) > 1:
        contents += [
            splice_python(original, answer, only={name}) or "" for name in changed[:MAX_SINGLE_CHANGES]
        ]
    out = []
    for text in contents:
        if original.endswith("\n") and text and not text.endswith("\n"):
            text += "\n"
        if text not in out:
            out.append(text)
    return out


def check_answer(path: str, original: str, new: str) -> str:
    """Why `new` is unusable ('' when it is fine)."""
    if new.strip() == original.strip():
        return "the answer changes nothing"
    if not new.strip():
        return "the answer is empty"
    if path.endswith(".py"):
        try:
            tree = ast.parse(new)
        except SyntaxError as exc:
            return f"the answer does not parse (line {exc.lineno}: {exc.msg})"
        names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        if names and all(n.startswith("test") for n in names) and not is_test_file(path):
            return "the answer is a test file, not the corrected source"
    return ""


def prompt(path: str, content: str, failure: str) -> list[dict[str, str]]:
    lang = _FENCE_LANG.get(PurePosixPath(path).suffix, "")
    user = (
        f"The tests fail with this error:\n```\n{failure.strip()}\n```\n\n"
        f"This is the file {path}:\n```{lang}\n{content.rstrip()}\n```\n\n"
        f"Find the bug in {path} and fix it so the tests pass. "
        f"Reply with the complete corrected file {path} in one ```{lang} code block."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


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
    ) -> None:
        self.model = model
        self.workspace = workspace
        self.verify = verify
        self.settings = settings
        self.events = events or AgentEvents()
        self.trajectory = trajectory or Trajectory(None)
        self.started = time.perf_counter()
        self.outcome = Outcome("running")
        self.format_errors = 0

    def run(self, first: Verdict) -> Outcome:
        """Try to make `first` (a failing verdict) pass; see the module docstring."""
        baseline = first
        candidates = candidate_files(
            self.workspace, first.summary, ranked=repo_map_ranking(self.workspace, first)
        )
        self.events.note("whole-file mode; candidate files: " + ", ".join(candidates))
        try:
            for temperatures in _rounds(self.settings.temperature):
                for path in candidates:
                    baseline = self._try_file(path, baseline, temperatures)
        except _Done as done:
            return self._finish(done.status, done.message)
        except ContextOverflow as exc:
            return self._finish("context_overflow", str(exc))
        except ModelError as exc:
            return self._finish("model_error", str(exc))
        return self._finish("not_fixed", f"no answer for {', '.join(candidates)} made the tests pass")

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
        messages = prompt(path, original, failure_excerpt(baseline.summary))
        prompt_tokens, room = self._reply_room(messages)
        self.events.step_started(self.outcome.steps, self.settings.max_steps, prompt_tokens)
        for message in messages:
            self.trajectory.log("message", index=-1, message=message)
        watch = FirstBlockWatch(self.events.text)
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
        )
        self.events.reply(reply)
        block = first_code_block(reply.content)
        if block is None:
            self._reject(path, "the reply has no fenced code block", format_error=True)
            return []
        self.format_errors = 0
        variants, problems = [], []
        for new in merge_answer(path, original, block[1]):
            problem = check_answer(path, original, new)
            (problems if problem else variants).append(problem or new)
        if not variants:
            self._reject(path, problems[0], format_error=False)
        return variants

    def _reply_room(self, messages: list[dict[str, str]]) -> tuple[int, int]:
        """(prompt tokens, reply room): room for about the file again, within the window."""
        prompt_tokens = self.model.count_tokens(messages)
        need = min(self.settings.reply_tokens * 4, max(256, prompt_tokens))
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
        if o.steps >= s.max_steps:
            raise _Done("max_steps", f"used all {s.max_steps} steps")
        if o.tokens >= s.max_tokens:
            raise _Done("max_tokens", f"used {o.tokens} of {s.max_tokens} tokens")
        if time.perf_counter() - self.started >= s.max_seconds:
            raise _Done("max_seconds", f"used the {s.max_seconds:g} s time budget")

    def _finish(self, status: str, message: str) -> Outcome:
        o = self.outcome
        o.status, o.message, o.seconds = status, message, time.perf_counter() - self.started
        self.trajectory.log(
            "end",
            status=status,
            steps=o.steps,
            tokens=o.tokens,
            prompt_tokens=o.prompt_tokens,
            completion_tokens=o.completion_tokens,
            cached_tokens=o.cached_tokens,
            seconds=round(o.seconds, 3),
            message=message,
        )
        self.events.finished(o)
        return o


class FirstBlockWatch:
    """Streams text on and says "stop" once the reply holds one complete fenced block."""

    def __init__(self, forward: Callable[[str], None]) -> None:
        self.forward = forward
        self.text = ""

    def feed(self, chunk: str) -> None:
        self.text += chunk
        self.forward(chunk)

    def done(self) -> bool:
        return self.text.count("```") >= 2 and first_closed_block(self.text) is not None


class _Done(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _rounds(first: float) -> list[list[float]]:
    """The temperature rounds, starting at the configured temperature."""
    rounds = [[first] + [t for t in TEMPERATURE_ROUNDS[0] if t > first]]
    rounds.append([t for t in TEMPERATURE_ROUNDS[1] if t > first and t not in rounds[0]])
    return [r for r in rounds if r]


def _fewer(verdict: Verdict, baseline: Verdict) -> bool:
    return verdict.failing is not None and baseline.failing is not None and verdict.failing < baseline.failing
