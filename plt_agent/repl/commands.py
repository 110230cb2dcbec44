"""The chat's slash commands: /add /drop /files /diff /undo /test /run /model /tokens /clear /help /exit.

Each command is a function `(repl, argument_text) -> None` registered in COMMANDS with its
usage and one line of help. `find_command` accepts unambiguous prefixes (`/ex` is /exit).
Commands talk to the user through `repl.terminal` and change `repl.session`; they never
raise for the user's mistakes, they say what went wrong.

This module knows the session and the tools' registry, not how lines are read.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from plt_agent.display import plural
from plt_agent.errors import PltAgentError
from plt_agent.repl.session import ChatSession
from plt_agent.repl.terminal import Terminal
from tools.base import ToolError
from tools.registry import run_tool
from tools.shell import BashTool

NO_CHANGES = "no changes since the chat started"  # /diff and /undo say the same state the same way


class Repl(Protocol):
    """What a command works with (`plt_agent.repl.app.Repl`): the session, the terminal, and
    whether the loop goes on."""

    session: ChatSession
    terminal: Terminal
    running: bool


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    help: str
    run: Callable[[Repl, str], None]


def _split(repl: Repl, text: str) -> list[str] | None:
    try:
        return shlex.split(text)
    except ValueError as exc:
        repl.terminal.error(f"cannot read the arguments: {exc}")
        return None


def cmd_add(repl: Repl, text: str) -> None:
    patterns = _split(repl, text)
    if not patterns:
        repl.terminal.error("usage: /add FILE... (paths, directories or globs inside the repository)")
        return
    session = repl.session
    for pattern in patterns:
        try:
            matches = session.match_files(pattern)
        except ToolError as exc:
            repl.terminal.error(str(exc))
            continue
        if not matches:
            repl.terminal.error(f"no file matches {pattern}")
        for rel in matches:
            problem = session.add_file(rel)
            if problem:
                repl.terminal.error(f"not added: {problem}")
            else:
                repl.terminal.say(f"added {rel} to the chat")


def cmd_drop(repl: Repl, text: str) -> None:
    patterns = _split(repl, text)
    if patterns is None:
        return
    dropped = repl.session.drop(patterns)
    if dropped:
        repl.terminal.say("dropped " + ", ".join(dropped))
    else:
        repl.terminal.info("no file in the chat matches" if patterns else "no files in the chat")


def cmd_files(repl: Repl, text: str) -> None:
    session = repl.session
    if not session.files:
        repl.terminal.info("no files in the chat; /add FILE to put one in")
        return
    unsent = set(session.unsent_files())
    for rel in session.files:
        state = "goes with your next message" if rel in unsent else "the model has its current contents"
        repl.terminal.say(f"  {rel}  ({state})")


def cmd_diff(repl: Repl, text: str) -> None:
    diff = repl.session.workspace.diff()
    if not diff:
        repl.terminal.info(NO_CHANGES)
        return
    repl.terminal.diff(diff)


def cmd_undo(repl: Repl, text: str) -> None:
    observation = run_tool("undo", {}, repl.session.workspace)
    if not any(observation.data.get(key) for key in ("restored", "removed", "skipped")):
        repl.terminal.info(f"nothing to undo: {NO_CHANGES}")  # the words /diff uses
        return
    repl.terminal.say(observation.text, style="" if observation.ok else "yellow")
    if observation.data.get("restored") or observation.data.get("removed"):
        repl.session.pending.append(f"Note: I undid all of your changes to the files.\n{observation.text}")


def cmd_test(repl: Repl, text: str) -> None:
    args = {"command": text.strip()} if text.strip() else {}
    repl.terminal.info(f"running the tests{': ' + text.strip() if text.strip() else ''} ...")
    observation = run_tool("run_tests", args, repl.session.workspace)
    repl.terminal.say(observation.text)
    if observation.data.get("success"):
        return
    repl.session.pending.append(f"I ran the tests; they do not pass:\n{observation.text}")
    repl.terminal.info("the test output goes with your next message (e.g. type: fix the failing tests)")


def cmd_run(repl: Repl, text: str) -> None:
    if not text.strip():
        repl.terminal.error("usage: /run COMMAND")
        return
    # the user's own command: git is not refused, and what it does to git is not the agent's
    observation = BashTool().run({"command": text.strip()}, repl.session.workspace, allow_git=True)
    repl.terminal.say(observation.text)
    repl.session.pending.append(f"I ran `{text.strip()}`:\n{observation.text}")
    repl.terminal.info("the output goes with your next message")


def cmd_model(repl: Repl, text: str) -> None:
    session = repl.session
    if text.strip():
        repl.terminal.info(f"loading {text.strip()} ...")
        try:
            session.switch_model(text.strip())
        except PltAgentError as exc:
            repl.terminal.error(f"model not changed: {exc}")
            return
        repl.terminal.say("switched model; the conversation starts afresh (files stay in the chat)")
    model = session.model
    protocol = "native tool calls" if session.agent.native else "text tool protocol"
    repl.terminal.say(f"model: {model.name} (context {model.context_window} tokens, {protocol})")


def cmd_tokens(repl: Repl, text: str) -> None:
    session = repl.session
    parts = session.token_parts()
    window = session.model.context_window
    for label, tokens in parts:
        repl.terminal.say(f"  {tokens:>7,}  {label}")
    total = sum(tokens for _, tokens in parts)
    reply = session.agent.settings.reply_tokens
    repl.terminal.say(
        f"  {total:>7,}  total of a {window:,}-token window ({100 * total / window:.0f}%), "
        f"{max(0, window - total):,} left; a reply may take up to {reply:,}"
    )
    unsent = set(session.unsent_files())
    for rel in session.files:
        if rel not in unsent:
            repl.terminal.info(f"  ({rel}: {session.file_tokens(rel):,} tokens, part of the conversation)")
    t = session.totals
    loops = f", {plural(t.loops_cut, 'looping reply', 'looping replies')} cut" if t.loops_cut else ""
    repl.terminal.info(
        f"this session so far: {plural(t.steps, 'model call')}, "
        f"{plural(t.prompt, 'prompt token')} + {plural(t.completion, 'reply token')}{loops}"
    )


def cmd_clear(repl: Repl, text: str) -> None:
    repl.session.clear()
    repl.terminal.say("conversation cleared (files stay in the chat and go with your next message)")


def cmd_help(repl: Repl, text: str) -> None:
    repl.terminal.say("Type a message to ask the model; it can read, search and edit files and run commands.")
    for command in COMMANDS.values():
        repl.terminal.say(f"  {(command.name + ' ' + command.usage).ljust(18)} {command.help}")
    repl.terminal.info("Ctrl-C stops an answer; Ctrl-D or /exit leaves.")


def cmd_exit(repl: Repl, text: str) -> None:
    repl.running = False


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in [
        Command("/add", "FILE...", "put files in the chat (their contents go to the model)", cmd_add),
        Command("/drop", "[FILE...]", "take files out of the chat (all with no argument)", cmd_drop),
        Command("/files", "", "list the files in the chat", cmd_files),
        Command("/diff", "", "show the changes made since the chat started", cmd_diff),
        Command("/undo", "", "undo the changes made since the chat started", cmd_undo),
        Command("/test", "[CMD]", "run the tests; failures go with your next message", cmd_test),
        Command("/run", "CMD", "run a shell command; its output goes with your next message", cmd_run),
        Command("/model", "[SPEC]", "show the model, or switch to another one", cmd_model),
        Command("/tokens", "", "token use of the context against the model's window", cmd_tokens),
        Command("/clear", "", "forget the conversation (keeps the files)", cmd_clear),
        Command("/help", "", "this list", cmd_help),
        Command("/exit", "", "leave (also Ctrl-D)", cmd_exit),
    ]
}
ALIASES = {"/quit": "/exit", "/q": "/exit", "/?": "/help"}


def find_command(word: str) -> Command | list[str]:
    """The command `word` names (exactly, by alias, or by unique prefix), else the candidates."""
    word = ALIASES.get(word, word)
    if word in COMMANDS:
        return COMMANDS[word]
    candidates = [name for name in COMMANDS if name.startswith(word)]
    return COMMANDS[candidates[0]] if len(candidates) == 1 else candidates
