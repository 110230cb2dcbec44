"""What every agent run shares, whichever strategy drives the model (the tool loop in `loop`,
the whole-file rewrites in `wholefile`): budgets, how a run ends, token accounting, records.

- `AgentSettings`: a run's budgets (steps = model calls, tokens, seconds) and reply limits;
- `Stop`: raised anywhere inside a run to end it with a status;
- `Run`: one run's clock and counts. A strategy calls `check_budgets()` before each model
  call, `replied(reply, ...)` after it (tokens counted, the `reply` record written, the UI
  told), `check(verify)` to run the tests (`verified(verdict)` records a run made elsewhere)
  and `bad_reply(what)` for a reply without
  the asked form (`max_format_errors` in a row stop the run); `execute(body)` runs the
  strategy until it returns or raises a `Stop` (a `ContextOverflow` or `ModelError` stops
  it too) and makes the `Outcome` of it (the `end` record written, the UI told).

This module knows nothing about tools, prompts or files.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from plt_agent.agent.events import AgentEvents
from plt_agent.agent.outcome import Outcome, Status, Verdict
from plt_agent.agent.trajectory import Trajectory
from plt_agent.display import plural
from plt_agent.models.base import ContextOverflow, ModelError, Reply
from plt_agent.models.wire import tool_call_to_wire


@dataclass(frozen=True)
class AgentSettings:
    mode: str = "text"  # "text" | "tools" (the whole-file strategy has its own runner)
    max_steps: int = 30
    max_tokens: int = 400_000
    max_seconds: float = 1800.0
    reply_tokens: int = 1024
    temperature: float = 0.0
    max_format_errors: int = 3
    max_repeats: int = 3
    verify_after_edits: bool = True  # run the verifier whenever an action changed files
    prose_chars: int | None = None  # cut a reply this long that has not started the asked form


class Stop(Exception):
    """Ends the run with `status`; `message` says why, for the user and the trajectory."""

    def __init__(self, status: Status, message: str = "") -> None:
        super().__init__(message)
        self.status: Status = status
        self.message = message


@dataclass
class Run:
    settings: AgentSettings
    events: AgentEvents
    trajectory: Trajectory
    should_stop: Callable[[], bool] | None = None
    started: float = field(default_factory=time.perf_counter)
    outcome: Outcome = field(default_factory=lambda: Outcome("running"))
    format_errors: int = 0  # replies in a row without the asked form

    @property
    def steps(self) -> int:
        return self.outcome.steps

    def check_budgets(self) -> None:
        """Stop when the user asked to, or a budget is spent."""
        s, o = self.settings, self.outcome
        if self.should_stop and self.should_stop():
            raise Stop("cancelled", "stopped by the user")
        if o.steps >= s.max_steps:
            raise Stop("max_steps", f"used all {plural(s.max_steps, 'step')}")
        if o.tokens >= s.max_tokens:
            raise Stop("max_tokens", f"used {o.tokens} of {s.max_tokens} tokens")
        if time.perf_counter() - self.started >= s.max_seconds:
            raise Stop("max_seconds", f"used the {s.max_seconds:g} s time budget")

    def next_step(self) -> int:
        self.outcome.steps += 1
        return self.outcome.steps

    def replied(self, reply: Reply, **fields: object) -> None:
        """Count the reply's tokens (and, `cut="repeating"`, the loop), write its `reply` record
        (plus `fields`), show it."""
        o = self.outcome
        o.loops_cut += fields.get("cut") == "repeating"
        o.prompt_tokens += reply.usage.prompt_tokens
        o.completion_tokens += reply.usage.completion_tokens
        o.cached_tokens += reply.usage.cached_tokens
        self.trajectory.log(
            "reply",
            step=o.steps,
            content=reply.content,
            tool_calls=[tool_call_to_wire(c) for c in reply.tool_calls],
            finish_reason=reply.finish_reason,
            usage=asdict(reply.usage),
            **fields,
        )
        self.events.reply(reply)

    def check(self, verify: Callable[[], Verdict]) -> Verdict:
        """Run the tests (the UI told: a wait), record and show the verdict."""
        self.events.phase("running the tests")
        return self.verified(verify())

    def verified(self, verdict: Verdict) -> Verdict:
        """Record a test run and show it."""
        self.trajectory.log(
            "verify", passed=verdict.passed, failing=verdict.failing, summary=verdict.summary[:2000]
        )
        self.events.verified(verdict)
        return verdict

    def bad_reply(self, what: str) -> None:
        """Count a reply without the asked form; Stop at `max_format_errors` in a row."""
        self.format_errors += 1
        if self.format_errors >= self.settings.max_format_errors:
            raise Stop("format_errors", f"{self.format_errors} replies in a row had {what}")

    def execute(self, body: Callable[[], Stop]) -> Outcome:
        """Run `body` until it returns or raises a `Stop` (or the model fails): the Outcome."""
        try:
            stop = body()
        except Stop as raised:
            stop = raised
        except ContextOverflow as exc:
            stop = Stop("context_overflow", str(exc))
        except ModelError as exc:
            stop = Stop("model_error", str(exc))
        return self._finish(stop.status, stop.message)

    def _finish(self, status: Status, message: str) -> Outcome:
        o = self.outcome
        o.status, o.message, o.seconds = status, message, time.perf_counter() - self.started
        self.trajectory.log(
            "end",
            status=o.status,
            steps=o.steps,
            tokens=o.tokens,
            prompt_tokens=o.prompt_tokens,
            completion_tokens=o.completion_tokens,
            cached_tokens=o.cached_tokens,
            loops_cut=o.loops_cut,
            seconds=round(o.seconds, 3),
            message=o.message,
        )
        self.events.finished(o)
        return o
