"""The chat's state: the model, the repository workspace, the files in the chat, the agent.

`ChatSession` holds what one `plt-agent chat` knows between lines: the files the user put in
the chat, the agent (plt_agent.agent.Agent, run in chat mode: it acts with the tools until
it replies without an action) whose append-only message list is the conversation, and
outputs waiting to go with the next message (/run, /test, /undo notes). A chat file's
contents go with the next message when it is added and again whenever it has changed since
(the model's own edits included), so the history stays append-only and the backend's KV
cache stays valid.

It does no terminal I/O and knows no slash commands (plt_agent.repl.commands, .app do).
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plt_agent.agent.events import AgentEvents
from plt_agent.agent.loop import Agent
from plt_agent.agent.outcome import Outcome
from plt_agent.agent.run import AgentSettings
from plt_agent.models.base import Model
from tools.registry import default_tools
from tools.workspace import Workspace

MAX_FILE_BYTES = 200_000
CHAT_MAX_STEPS = 20


@dataclass
class Totals:
    """Tokens and model calls spent in this session."""

    prompt: int = 0
    completion: int = 0
    steps: int = 0
    loops_cut: int = 0  # replies ended early because they repeated themselves


@dataclass
class _Turn:
    """What `ask` needs to take an unanswered turn back out."""

    start: int  # messages before the turn
    sent: dict[str, str]
    pending: list[str]
    changed: dict[str, str]  # changed files and their digests when the turn began


@dataclass
class ChatSession:
    workspace: Workspace
    model: Model
    load_model: Callable[[str], Model]
    settings: AgentSettings = field(default_factory=AgentSettings)
    mode: str = "auto"  # config `mode`: auto | tools | text | whole-file
    confirm: Callable[[Any], bool] | None = None
    files: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    totals: Totals = field(default_factory=Totals)
    _sent: dict[str, str] = field(default_factory=dict)  # file -> digest of the copy the model has
    _agent: Agent | None = None
    run: Any = None  # tools.runs.Run: the repository's run lock and journal, held for the session

    @property
    def root(self) -> Path:
        return self.workspace.root

    # ---- files in the chat ---------------------------------------------------------------

    def match_files(self, pattern: str) -> list[str]:
        """Repository files a user's pattern names: a path, a directory, or a glob."""
        known = self.workspace.files()
        if any(ch in pattern for ch in "*?["):
            return [f for f in known if fnmatch.fnmatch(f, pattern)]
        rel = self.workspace.relpath(self.workspace.resolve(pattern))
        if (self.root / rel).is_dir():
            prefix = "" if rel in ("", ".") else rel.rstrip("/") + "/"
            return [f for f in known if f.startswith(prefix)]
        return [rel] if (self.root / rel).is_file() else []

    def add_file(self, rel: str) -> str | None:
        """Put `rel` in the chat; the reason when it cannot be added."""
        path = self.root / rel
        if path.stat().st_size > MAX_FILE_BYTES:
            return f"{rel} is larger than {MAX_FILE_BYTES // 1000} KB"
        if b"\0" in path.read_bytes()[:8192]:
            return f"{rel} looks like a binary file"
        if rel not in self.files:
            self.files.append(rel)
        return None

    def drop(self, patterns: list[str]) -> list[str]:
        """Take files out of the chat (all of them with no patterns); the ones dropped."""
        wanted = [p.removeprefix("./") for p in patterns]
        dropped = [
            f for f in self.files if not wanted or any(f == p or fnmatch.fnmatch(f, p) for p in wanted)
        ]
        self.files = [f for f in self.files if f not in dropped]
        for rel in dropped:
            self._sent.pop(rel, None)
        return dropped

    def unsent_files(self) -> list[str]:
        """Chat files the model has not seen in their current state."""
        return [rel for rel in self.files if self._sent.get(rel) != self._digest(rel)]

    def _digest(self, rel: str) -> str:
        path = self.root / rel
        return hashlib.sha1(path.read_bytes()).hexdigest() if path.is_file() else "missing"

    def _file_block(self, rel: str) -> str:
        path = self.root / rel
        if not path.is_file():
            return f"{rel}: (this file no longer exists)"
        text = self.workspace.read_text(rel)
        return f"{rel}\n```\n{text}{'' if not text or text.endswith(chr(10)) else chr(10)}```"

    # ---- the conversation ----------------------------------------------------------------

    @property
    def agent(self) -> Agent:
        if self._agent is None:
            self._agent = Agent(
                self.model,
                self.workspace,
                default_tools(),
                settings=self._agent_settings(),
                confirm=self.confirm,
            )
        return self._agent

    def _agent_settings(self) -> AgentSettings:
        native = self.mode == "tools" or (self.mode == "auto" and self.model.supports_tools)
        return AgentSettings(
            mode="tools" if native else "text",
            max_steps=min(self.settings.max_steps, CHAT_MAX_STEPS),
            max_tokens=self.settings.max_tokens,
            max_seconds=self.settings.max_seconds,
            reply_tokens=self.settings.reply_tokens,
            temperature=self.settings.temperature,
            verify_after_edits=False,
        )

    def compose(self, text: str) -> str:
        """The user's message with changed chat files and waiting outputs in front; marks them sent."""
        parts = []
        unsent = self.unsent_files()
        if unsent:
            parts.append(
                "Files in the chat (current contents):\n\n" + "\n\n".join(self._file_block(r) for r in unsent)
            )
            for rel in unsent:
                self._sent[rel] = self._digest(rel)
        parts += self.pending
        self.pending = []
        return "\n\n".join([*parts, text])

    def ask(self, text: str, events: AgentEvents, should_stop: Callable[[], bool]) -> Outcome:
        """One chat turn: the agent acts with the tools until it answers (or is stopped).

        A turn that ends without an answer (stopped by the user, a budget, a failure) is taken
        out of the conversation again: the model never sees a half turn or a marker standing in
        for its answer, and the next message is sent as if this one had not been (the chat
        files and outputs it carried go again, with a note of the files changed meanwhile)."""
        agent = self.agent
        agent.events, agent.should_stop = events, should_stop
        turn = _Turn(len(agent.messages), dict(self._sent), list(self.pending), self._changed())
        answered = False
        try:
            outcome = agent.run(self.compose(text), purpose="chat")
            answered = outcome.status in ("answered", "submitted")
        finally:
            if not answered:
                self._forget(turn)
        self.totals.prompt += outcome.prompt_tokens
        self.totals.completion += outcome.completion_tokens
        self.totals.steps += outcome.steps
        self.totals.loops_cut += outcome.loops_cut
        return outcome

    def _changed(self) -> dict[str, str]:
        return {rel: self._digest(rel) for rel in self.workspace.changed_files()}

    def _forget(self, turn: _Turn) -> None:
        """Take an unanswered turn out of the conversation (see `ask`)."""
        del self.agent.messages[turn.start :]
        self.agent.observations[:] = [i for i in self.agent.observations if i < turn.start]
        self._sent, self.pending = turn.sent, turn.pending
        moved = sorted(rel for rel, digest in self._changed().items() if turn.changed.get(rel) != digest)
        if moved:
            self.pending.append("Files changed since my last message: " + ", ".join(moved) + ".")

    def clear(self) -> None:
        """Forget the conversation; chat files will be sent again with the next message."""
        self._agent = None
        self._sent = {}
        self.pending = []

    def switch_model(self, spec: str) -> Model:
        """Load `spec` and use it from now on (on failure the loader raises and nothing changes)."""
        self.model = self.load_model(spec)
        self.clear()
        return self.model

    # ---- token use ---------------------------------------------------------------------------

    def token_parts(self) -> list[tuple[str, int]]:
        """(part, tokens) of the context the next message would be sent with."""
        agent = self.agent
        count = self.model.count_tokens
        base = count([])
        system = agent.messages[:1] or [{"role": "system", "content": _system_text(agent)}]
        parts = [("system prompt", count(system) - base)]
        if agent.native:
            parts.append(("tool descriptions", count([], agent.schemas) - base))
        history = agent.messages[1:]
        if history:
            parts.append((f"conversation ({len(history)} messages)", count(history) - base))
        for rel in self.unsent_files():
            parts.append(
                (f"{rel} (goes with the next message)", count([_user(self._file_block(rel))]) - base)
            )
        if self.pending:
            parts.append(("outputs for the next message", count([_user("\n\n".join(self.pending))]) - base))
        return parts

    def file_tokens(self, rel: str) -> int:
        """Tokens one chat file takes as it would be sent now."""
        count = self.model.count_tokens
        return count([_user(self._file_block(rel))]) - count([])


def _user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def _system_text(agent: Agent) -> str:
    from plt_agent.agent import prompts

    return prompts.system_prompt(agent.schemas, native=agent.native, purpose="chat")
