"""Progress lines for a terminal (rich, on stderr): one line per step, action, test run and note.

`ConsoleEvents(console)` implements `AgentEvents`. With `show_replies`, the model's replies
are shown (dimmed, shortened). This module only prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

from plt_agent.agent.events import AgentEvents
from plt_agent.display import literal

if TYPE_CHECKING:
    from plt_agent.agent.actions import Action
    from plt_agent.agent.outcome import Outcome, Verdict
    from plt_agent.models.base import Reply
    from tools.base import Observation


def _short(text: str, limit: int = 100) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


class ConsoleEvents(AgentEvents):
    def __init__(self, console: Console, *, show_replies: bool = False) -> None:
        self.console = console
        self.show_replies = show_replies

    def step_started(self, step: int, max_steps: int, prompt_tokens: int) -> None:
        self.console.print(
            f"[bold cyan]step {step}/{max_steps}[/] [dim]prompt {prompt_tokens} tokens[/]", highlight=False
        )

    def reply(self, reply: Reply) -> None:
        u = reply.usage
        rate = u.completion_tokens / u.seconds if u.seconds > 0 else 0.0
        self.console.print(
            f"  [dim]reply: {u.completion_tokens} tokens in {u.seconds:.1f}s ({rate:.0f} tok/s), "
            f"{u.cached_tokens} prompt tokens reused[/]",
            highlight=False,
        )
        if self.show_replies and reply.content.strip():
            self.console.print(f"  [dim]{literal(_short(reply.content, 160))}[/]", highlight=False)

    def action(self, action: Action) -> None:
        args = ", ".join(f"{k}={_short(str(v), 60)!r}" for k, v in action.arguments.items())
        self.console.print(f"  [yellow]->[/] {literal(action.name)}({literal(args)})", highlight=False)

    def observation(self, action: Action, observation: Observation) -> None:
        mark = "[green]ok[/]" if observation.ok else "[red]failed[/]"
        first = observation.text.strip().splitlines()[0] if observation.text.strip() else "(no output)"
        self.console.print(f"     {mark} [dim]{literal(_short(first))}[/]", highlight=False)

    def verified(self, verdict: Verdict) -> None:
        if verdict.passed:
            self.console.print("  [bold green]tests pass[/]")
        else:
            failing = f" ({verdict.failing} failing)" if verdict.failing is not None else ""
            self.console.print(f"  [red]tests still fail{failing}[/]", highlight=False)

    def note(self, message: str) -> None:
        self.console.print(f"  [magenta]note:[/] {literal(message)}", highlight=False)

    def finished(self, outcome: Outcome) -> None:
        return None
