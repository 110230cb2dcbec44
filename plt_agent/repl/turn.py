"""Showing one chat turn as it happens: the agent's events, rendered on the Terminal.

`ChatEvents` streams the model's prose as it arrives (tool-call markup is held back, not
shown), then prints each action as one line, the diff of every file an edit changed, and a
short head of other tools' output. `describe_action` is that one line.

This module knows the agent's event interface and the Terminal, not the session's state.
"""

from __future__ import annotations

import difflib
from typing import Any

from plt_agent.agent.events import AgentEvents
from plt_agent.liveline import LiveLine
from plt_agent.repl.terminal import Stream, Terminal
from tools.registry import file_editors

ACTION_MARKERS = ("<function", "<tool_call", "<parameter")
OUTPUT_HEAD_LINES = 8


class ProseFilter:
    """Passes streamed text through until tool-call markup starts; holds back a partial marker."""

    def __init__(self) -> None:
        self.buffer = ""
        self.done = False

    def feed(self, chunk: str) -> str:
        if self.done:
            return ""
        self.buffer += chunk
        cut = min((i for i in (self.buffer.find(m) for m in ACTION_MARKERS) if i >= 0), default=-1)
        if cut >= 0:
            self.done = True
            out, self.buffer = self.buffer[:cut], ""
            return out
        keep = _partial_marker_len(self.buffer)
        out, self.buffer = self.buffer[: len(self.buffer) - keep], self.buffer[len(self.buffer) - keep :]
        return out

    def flush(self) -> str:
        out, self.buffer = ("" if self.done else self.buffer), ""
        return out


def _partial_marker_len(text: str) -> int:
    for n in range(min(len(text), max(map(len, ACTION_MARKERS)) - 1), 0, -1):
        if any(m.startswith(text[-n:]) for m in ACTION_MARKERS):
            return n
    return 0


def describe_action(name: str, args: dict[str, Any]) -> str:
    """One line for the user: the tool and its main argument."""
    main = args.get("path") or args.get("command") or args.get("pattern") or args.get("query") or ""
    if isinstance(main, list):
        main = " ".join(map(str, main))
    main = str(main).splitlines()[0] if str(main).strip() else ""
    extra = ""
    if name == "view" and (args.get("start") or args.get("line")):
        extra = f" from line {args.get('start') or args.get('line')}"
    return f"-> {name} {main[:100]}{extra}".rstrip()


class ChatEvents(AgentEvents):
    """Shows a turn: a progress line while the model reads the prompt (a live line on a
    terminal, plain `...` lines after a quiet spell elsewhere), then the answer as it streams.
    `close()` ends the progress line (the chat calls it however the turn ends)."""

    def __init__(self, terminal: Terminal, workspace: Any) -> None:
        self.terminal = terminal
        self.workspace = workspace
        self.stream: Stream | None = None
        self.filter = ProseFilter()
        self.line = LiveLine(terminal.console, live=terminal.interactive)
        self._replying = False
        self._before: tuple[str, str | None] | None = None

    def step_started(self, step: int, max_steps: int, prompt_tokens: int) -> None:
        self.filter = ProseFilter()
        self._replying = False
        self.line.phase("the model reads the prompt", total=prompt_tokens)

    def progress(self, phase: str, done: int, total: int) -> None:
        if self.stream is not None:
            return  # the answer is showing: it is the progress
        if phase == "reply" and not self._replying:
            self._replying = True
            self.line.phase("the model writes its reply", total=total, done=done)
        self.line.update(done, total)

    def text(self, chunk: str) -> None:
        shown = self.filter.feed(chunk)
        if shown:
            self._stream().write(shown)

    def reply(self, reply: Any) -> None:
        rest = self.filter.flush()
        if rest:
            self._stream().write(rest)
        self.line.stop()
        if self.stream is not None:
            self.stream.end()
            self.stream = None

    def close(self) -> None:
        self.line.stop()

    def _stream(self) -> Stream:
        """The answer's stream, begun at its first visible text (the progress line goes then)."""
        if self.stream is None:
            self.line.stop()
            self.stream = self.terminal.begin_stream()
        return self.stream

    def action(self, action: Any) -> None:
        self.terminal.say(describe_action(action.name, action.arguments), style="bold cyan")
        path = action.arguments.get("path")
        editor = action.name in file_editors()
        self._before = (path, self._read(path)) if editor and isinstance(path, str) else None

    def observation(self, action: Any, observation: Any) -> None:
        if self._before is not None and observation.ok:
            path, old = self._before
            self.terminal.diff(_diff(path, old, self._read(path)))
        elif not observation.ok:
            self.terminal.say(_head(observation.text, OUTPUT_HEAD_LINES), style="yellow")
        elif action.name in ("bash", "run_tests", "undo", "diff"):
            self.terminal.info(_head(observation.text, OUTPUT_HEAD_LINES))
        self._before = None

    def note(self, message: str) -> None:
        self.terminal.info(message)

    def _read(self, path: str | None) -> str | None:
        if not path:
            return None
        try:
            target = self.workspace.resolve(path)
            return target.read_text(encoding="utf-8", errors="replace") if target.is_file() else None
        except Exception:
            return None


def _diff(path: str, old: str | None, new: str | None) -> str:
    a = f"a/{path}" if old is not None else "/dev/null"
    b = f"b/{path}" if new is not None else "/dev/null"
    lines = difflib.unified_diff((old or "").splitlines(True), (new or "").splitlines(True), a, b)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _head(text: str, lines: int) -> str:
    rows = text.rstrip().splitlines()
    more = f"\n[... {len(rows) - lines} more lines]" if len(rows) > lines else ""
    return "\n".join(rows[:lines]) + more
