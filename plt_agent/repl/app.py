"""`plt-agent chat`: the read-eval-print loop that ties the terminal, the session and the commands.

`run_chat(path, config, load_model)` opens the repository (a git work tree, or a plain
directory), takes its run lock for the whole session (tools.runs: a second chat or fix
refuses, or waits with --wait; what a dead earlier run left is put back first), loads the
model, takes a snapshot (what /diff and /undo compare against), then
reads lines until /exit or end of input: a line starting with "/" is a command, anything
else is a message for the model, answered with the agent in chat mode. Ctrl-C while the
model works stops the answer and ends a running shell command (the REPL goes on); errors
are printed as one line. The model's shell commands are asked about in a terminal, refused
when input comes from a script, and run unasked with `yes`.

This module knows the pieces' interfaces, not their insides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plt_agent.display import plural
from plt_agent.errors import PltAgentError, UsageError
from plt_agent.repl.commands import COMMANDS, find_command
from plt_agent.repl.complete import completions
from plt_agent.repl.session import ChatSession
from plt_agent.repl.terminal import Terminal
from plt_agent.repl.turn import ChatEvents, describe_action
from tools.base import ToolError
from tools.shell import stop_commands

STOPPED = {
    "cancelled": "answer stopped",
    "max_steps": "stopped: the model used all its steps for this message",
    "max_tokens": "stopped: the token budget is spent",
    "max_seconds": "stopped: the time budget is spent",
    "format_errors": "stopped: the model's replies had no usable action",
    "stuck": "stopped: the model kept repeating itself",
    "context_overflow": "stopped: the conversation no longer fits the model's window (/clear or /drop)",
    "model_error": "the model failed",
}


@dataclass
class Repl:
    session: ChatSession
    terminal: Terminal
    running: bool = True

    def handle(self, line: str) -> None:
        """One input line: a command or a message."""
        text = line.strip()
        if not text:
            return
        if text.startswith("/") and not text.startswith("//"):
            self.command(text)
        else:
            self.message(text.removeprefix("/"))

    def command(self, text: str) -> None:
        word, _, rest = text.partition(" ")
        found = find_command(word.lower())
        if isinstance(found, list):
            hint = f"did you mean {', '.join(found)}?" if found else "/help lists the commands"
            self.terminal.error(f"unknown command {word}; {hint}")
            return
        found.run(self, rest)

    def message(self, text: str) -> None:
        events = ChatEvents(self.terminal, self.session.workspace)
        try:
            with self.terminal.interruptible(on_stop=stop_commands) as should_stop:
                outcome = self.session.ask(text, events, should_stop)
        except KeyboardInterrupt:
            events.close()
            if events.stream is not None:
                events.stream.end()
            self.terminal.info("answer stopped")
            return
        finally:
            events.close()
        if outcome.status in STOPPED:
            detail = f": {outcome.message}" if outcome.status == "model_error" and outcome.message else ""
            self.terminal.say(STOPPED[outcome.status] + detail, style="yellow")
        loops = outcome.loops_cut
        loops_cut = f", {plural(loops, 'looping reply', 'looping replies')} cut" if loops else ""
        self.terminal.info(
            f"[{plural(outcome.steps, 'model call')}, {plural(outcome.prompt_tokens, 'prompt token')} + "
            f"{plural(outcome.completion_tokens, 'reply token')}{loops_cut}, {outcome.seconds:.1f} s]"
        )

    def loop(self) -> None:
        while self.running:
            line = self.terminal.read()
            if line is None:
                break
            try:
                self.handle(line)
            except (PltAgentError, ToolError, OSError) as exc:
                self.terminal.error(f"error: {exc}")
            except KeyboardInterrupt:
                self.terminal.info("interrupted")


def history_file() -> Path:
    from plt_agent.store import store_root

    return store_root() / "chat-history"


def open_workspace(path: Path, test_cmd: str | None) -> Any:
    from tools.git import NotARepository, repo_root
    from tools.workspace import Workspace

    if not path.is_dir():
        raise UsageError(f"{path} is not a directory")
    try:
        return Workspace(repo_root(path), test_command=test_cmd)
    except NotARepository:
        return Workspace(path, use_git=False, test_command=test_cmd)


def run_chat(
    path: Path,
    config: Any,
    load_model: Callable[..., Any],
    terminal: Terminal | None = None,
    *,
    wait: bool = False,
    yes: bool = False,
) -> int:
    """Run the chat until the user leaves; the exit code. `yes`: run the model's commands unasked."""
    from plt_agent.signals import stop_signals

    terminal = terminal or Terminal.open(history_file())
    with stop_signals():
        session = open_session(path, config, load_model, terminal, wait=wait, yes=yes)
        try:
            _banner(terminal, session)
            terminal.complete = lambda text: completions(text, session.root, session.files)
            Repl(session, terminal).loop()
        finally:
            session.run.finish()
    return 0


def open_session(
    path: Path,
    config: Any,
    load_model: Callable[..., Any],
    terminal: Terminal,
    *,
    wait: bool = False,
    yes: bool = False,
) -> ChatSession:
    """The workspace (run lock taken, dead run recovered, snapshot taken), the model and the
    session for `path`, as `config` says. The caller calls `session.run.finish()` at the end.
    `yes`: run the model's commands unasked."""
    from tools.runs import begin_run

    workspace = open_workspace(path, config.test_cmd)
    run = begin_run(
        workspace,
        "chat",
        rollback="inflight",
        wait=wait,
        on_wait=lambda h: terminal.info(f"waiting for {h.describe()} to finish"),
    )
    for rec in run.recovered:
        for line in rec.lines():
            terminal.say(line, style="yellow")
    try:
        return _new_session(workspace, run, config, load_model, terminal, yes)
    except BaseException:
        run.finish()
        raise


def _new_session(
    workspace: Any, run: Any, config: Any, load_model: Callable[..., Any], terminal: Terminal, yes: bool
) -> ChatSession:
    from plt_agent.agent.run import AgentSettings

    model = load_model(config.model, config, announce=terminal.info)
    settings = AgentSettings(
        max_steps=config.max_steps,
        max_tokens=config.max_tokens,
        max_seconds=config.max_seconds,
        reply_tokens=config.reply_tokens,
        temperature=config.temperature,
    )
    session = ChatSession(
        workspace,
        model,
        lambda spec: load_model(spec, config, announce=terminal.info),
        settings=settings,
        mode=config.mode,
        confirm=_confirmer(terminal, yes),
        run=run,
    )
    return session


def _banner(terminal: Terminal, session: ChatSession) -> None:
    model = session.model
    protocol = "native tool calls" if session.agent.native else "text tool protocol"
    terminal.say(f"plt-agent chat in {session.root}", style="bold")
    terminal.info(f"model {model.name} (context {model.context_window:,} tokens, {protocol})")
    terminal.info(f"commands: {' '.join(COMMANDS)}; Ctrl-C stops an answer, Ctrl-D leaves")


def _confirmer(terminal: Terminal, yes: bool = False) -> Callable[[Any], bool | str] | None:
    """`yes`: run the model's commands unasked; in a terminal, ask before each one; otherwise
    (input from a script) refuse them, and say why once."""
    from plt_agent.agent.permissions import refuse_commands, runs_command

    if yes:
        return None
    if not terminal.interactive:
        return refuse_commands(terminal.info)

    def confirm(action: Any) -> bool:
        if not runs_command(action):
            return True
        return terminal.ask_yes_no(f"{describe_action(action.name, action.arguments)}  run it?", default=True)

    return confirm
