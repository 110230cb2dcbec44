"""What the agent loop reports while it works. The default does nothing; UIs override methods.

The CLI's progress display (`plt_agent.agent.progress`) and the chat REPL subclass
`AgentEvents`. Methods must return quickly and must not raise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plt_agent.agent.actions import Action
    from plt_agent.agent.outcome import Outcome, Verdict
    from plt_agent.models.base import Reply
    from tools.base import Observation


class AgentEvents:
    def step_started(self, step: int, max_steps: int, prompt_tokens: int) -> None:
        """A model call is about to start; `prompt_tokens` as counted with the model's tokenizer."""

    def text(self, chunk: str) -> None:
        """A piece of the model's reply, as it streams."""

    def reply(self, reply: Reply) -> None:
        """The model's whole reply."""

    def action(self, action: Action) -> None:
        """An action is about to run (or be refused)."""

    def observation(self, action: Action, observation: Observation) -> None:
        """What a tool returned."""

    def verified(self, verdict: Verdict) -> None:
        """The tests ran to check the work."""

    def note(self, message: str) -> None:
        """Anything else worth a line: format errors, elisions, retries."""

    def finished(self, outcome: Outcome) -> None:
        """The run ended."""
