"""What the agent loop reports while it works. The default does nothing; UIs override methods.

The CLI's progress display (`plt_agent.agent.progress`) and the chat REPL subclass
`AgentEvents`. Methods must return quickly and must not raise. Every long wait is announced:
`phase` before one without a model (loading it, running the tests or a tool), `progress`
during a model call (from the backend: the prompt going through the cache, the reply
growing); the next other event ends it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plt_agent.agent.actions import Action
    from plt_agent.agent.outcome import Outcome, Verdict
    from plt_agent.models.base import Reply
    from tools.base import Observation


class AgentEvents:
    def phase(self, name: str) -> None:
        """A wait begins that has no counts of its own ("loading the model", "running the tests")."""

    def progress(self, phase: str, done: int, total: int) -> None:
        """A model call's progress: phase "prompt" (prompt tokens in the cache so far, of
        `total`) or "reply" (reply tokens so far, of the cap `total`)."""

    def first_tests(self, verdict: Verdict) -> None:
        """The first test run of a fix, before any model call: its command, why it was chosen,
        and what fails."""

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
