"""Progress lines for a terminal (rich, on stderr): one line per step, action, test run and note,
and a live line (`plt_agent.liveline`) through every long wait in between.

`ConsoleEvents(console)` implements `AgentEvents`. Before the first model call it says which
test command runs and why, and which tests fail. During a wait (loading the model, running
the tests or a tool, the model reading its prompt or writing its reply) a live line on a
terminal shows the phase, tokens done of the total, tokens per second and the time so far;
without a terminal the same shows as a plain line now and then. With `show_replies`, the
model's replies are shown (dimmed, shortened). This module only prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

from plt_agent.agent.events import AgentEvents
from plt_agent.display import literal, plural
from plt_agent.liveline import LiveLine

if TYPE_CHECKING:
    from plt_agent.agent.actions import Action
    from plt_agent.agent.outcome import Outcome, Verdict
    from plt_agent.models.base import Reply
    from tools.base import Observation


def _short(text: str, limit: int = 100) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


PHASES = {"prompt": "the model reads the prompt", "reply": "the model writes its reply"}
SHOWN_IDS = 8  # failing test ids listed before the first model call


class ConsoleEvents(AgentEvents):
    def __init__(self, console: Console, *, show_replies: bool = False, live: bool | None = None) -> None:
        self.console = console
        self.show_replies = show_replies
        self.line = LiveLine(console, live=live)
        self._model_phase = ""

    def close(self) -> None:
        """End the progress line, however the run ended."""
        self.line.stop()

    def phase(self, name: str) -> None:
        self._model_phase = ""
        self.line.phase(name)

    def progress(self, phase: str, done: int, total: int) -> None:
        if phase != self._model_phase:
            self._model_phase = phase
            self.line.phase(PHASES.get(phase, phase), total=total, done=done)
        self.line.update(done, total)

    def first_tests(self, verdict: Verdict) -> None:
        self.line.stop()
        reason = f" [dim]({literal(verdict.reason)})[/]" if verdict.reason else ""
        self.console.print(f"tests: {literal(verdict.command)}{reason}", highlight=False, soft_wrap=True)
        if verdict.warning:
            self.console.print(f"[yellow]warning:[/] {literal(verdict.warning)}", highlight=False)
        ids = verdict.failing_ids
        if ids:
            more = f", ... ({len(ids) - SHOWN_IDS} more)" if len(ids) > SHOWN_IDS else ""
            count = plural(verdict.failing or len(ids), "test")
            shown = literal(", ".join(ids[:SHOWN_IDS]) + more)
            self.console.print(f"[red]{count} failing:[/] {shown}", highlight=False, soft_wrap=True)
        elif verdict.passed:
            self.console.print("[green]the tests pass[/]")
        else:
            self.console.print("[red]the tests fail[/] [dim](no test ids in their output)[/]")

    def step_started(self, step: int, max_steps: int, prompt_tokens: int) -> None:
        self.line.stop()
        self._model_phase = ""
        self.console.print(
            f"[bold cyan]step {step}/{max_steps}[/] [dim]prompt {plural(prompt_tokens, 'token')}[/]",
            highlight=False,
        )
        self.line.phase("waiting for the model")

    def reply(self, reply: Reply) -> None:
        self.line.stop()
        u = reply.usage
        rate = u.completion_tokens / u.seconds if u.seconds > 0 else 0.0
        self.console.print(
            f"  [dim]reply: {plural(u.completion_tokens, 'token')} in {u.seconds:.1f}s ({rate:.0f} tok/s), "
            f"{plural(u.cached_tokens, 'prompt token')} reused[/]",
            highlight=False,
        )
        if self.show_replies and reply.content.strip():
            self.console.print(f"  [dim]{literal(_short(reply.content, 160))}[/]", highlight=False)

    def action(self, action: Action) -> None:
        self.line.stop()
        args = ", ".join(f"{k}={_short(str(v), 60)!r}" for k, v in action.arguments.items())
        self.console.print(f"  [yellow]->[/] {literal(action.name)}({literal(args)})", highlight=False)

    def observation(self, action: Action, observation: Observation) -> None:
        self.line.stop()
        mark = "[green]ok[/]" if observation.ok else "[red]failed[/]"
        first = observation.text.strip().splitlines()[0] if observation.text.strip() else "(no output)"
        self.console.print(f"     {mark} [dim]{literal(_short(first))}[/]", highlight=False)

    def verified(self, verdict: Verdict) -> None:
        self.line.stop()
        if verdict.passed:
            self.console.print("  [bold green]tests pass[/]")
        else:
            if not verdict.started or verdict.failing is None:
                self.console.print("  [red]the tests did not run through[/] [dim](not counted)[/]")
                return
            self.console.print(f"  [red]tests still fail ({verdict.failing} failing)[/]", highlight=False)

    def note(self, message: str) -> None:
        self.console.print(f"  [magenta]note:[/] {literal(message)}", highlight=False)

    def finished(self, outcome: Outcome) -> None:
        self.line.stop()
