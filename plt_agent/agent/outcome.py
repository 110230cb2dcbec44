"""How an agent run ended and what it spent, and what a test run found: plain data.

Statuses: "fixed" (the tests pass), "submitted" (a change nothing could verify), "answered"
(a chat reply), "not_fixed", "nothing_to_fix", "max_steps", "max_tokens", "max_seconds",
"format_errors" (replies without the asked form, in a row), "stuck" (repeated actions),
"context_overflow", "model_error", "cancelled" (by the user); "running" until it ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Status = Literal[
    "running",
    "fixed",
    "submitted",
    "answered",
    "not_fixed",
    "nothing_to_fix",
    "max_steps",
    "max_tokens",
    "max_seconds",
    "format_errors",
    "stuck",
    "context_overflow",
    "model_error",
    "cancelled",
]


@dataclass
class Verdict:
    passed: bool
    summary: str  # short test report for the model (failing tests, first assertion)
    failing: int | None = None  # failing tests, only when tests ran (None: unknown, or a crash first)
    failing_ids: list[str] = field(default_factory=list)
    command: str = ""  # the test command that ran
    reason: str = ""  # why that command (tools.testenv)
    warning: str = ""  # set when it ran outside the project's environment
    started: bool = True  # False: the test runner never started (not installed, crashed at start-up)


@dataclass
class Outcome:
    status: Status
    steps: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    seconds: float = 0.0
    message: str = ""
    answer: str = ""  # the final reply text (chat)
    loops_cut: int = 0  # replies ended early because they repeated themselves

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens
