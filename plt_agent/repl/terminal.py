"""The chat's terminal: reading lines (with editing and history), and showing answers.

`Terminal.open(history_file)` picks one of two modes:
- interactive (stdin and stdout are terminals): prompt_toolkit line editing with a
  persistent history file; answers stream into a small live tail of raw text, then print
  once rendered as markdown; diffs are syntax-coloured;
- plain (anything else, e.g. a script piping commands in): lines are read from stdin as
  they come, answers are written chunk by chunk as plain text.

Tab completes the word before the cursor (what follows the line's last space) with what
`Terminal.complete` returns for the text before the cursor (`(replacement, display)` pairs;
the chat sets it; unset, Tab completes nothing).

Ctrl-C while a prompt is shown clears the line (and, on an empty line, says how to leave);
Ctrl-D ends input. `interruptible()` is the window in which Ctrl-C means "stop the answer":
the first press sets a flag the model polls (`should_stop`) and calls `on_stop` (the chat
uses it to end a running shell command at once), a second press raises KeyboardInterrupt
for a model that does not listen.

This module knows nothing about models, files or commands.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown
from rich.syntax import Syntax
from rich.text import Text

from plt_agent.display import literal, printable

EXIT_HINT = "(to leave, type /exit or press Ctrl-D)"
PROMPT = "> "


class Terminal:
    """Reads user lines and shows output; `interactive` says which of the two modes it is in."""

    def __init__(self, console: Console, reader: Callable[[], str], interactive: bool):
        self.console = console
        self._read = reader
        self.interactive = interactive
        self._stop_requested = False
        self.complete: Callable[[str], list[tuple[str, str]]] | None = None  # Tab's candidates

    @classmethod
    def open(
        cls, history_file: Path | None, stdin: TextIO | None = None, stdout: TextIO | None = None
    ) -> Terminal:
        stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
        interactive = stdin.isatty() and stdout.isatty()
        console = Console(file=stdout, highlight=False, soft_wrap=not interactive)
        terminal = cls(console, _line_reader(stdin), interactive)
        if interactive:
            terminal._read = _prompt_reader(history_file, lambda text: (terminal.complete or _none)(text))
        return terminal

    # ---- input -------------------------------------------------------------------------

    def read(self) -> str | None:
        """The next line of input; None at end of input (Ctrl-D, EOF)."""
        while True:
            try:
                return self._read()
            except EOFError:
                return None
            except KeyboardInterrupt:
                self.console.print(f"[dim]{EXIT_HINT}[/]")

    def ask_yes_no(self, question: str, default: bool = True) -> bool:
        """A yes/no question (interactive mode only; plain mode takes the default)."""
        if not self.interactive:
            return default
        from prompt_toolkit import prompt

        try:
            answer = prompt(f"{question} [{'Y/n' if default else 'y/N'}] ").strip().lower()
        except (EOFError, KeyboardInterrupt):
            return False
        return default if not answer else answer.startswith("y")

    # ---- output ------------------------------------------------------------------------

    def info(self, text: str) -> None:
        self.console.print(f"[dim]{literal(text, 100_000, lines=True)}[/]")

    def say(self, text: str, style: str = "") -> None:
        self.console.print(Text(printable(text, 100_000, lines=True), style=style))

    def error(self, text: str) -> None:
        self.console.print(Text(printable(text, 100_000, lines=True), style="bold red"))

    def markdown(self, text: str) -> None:
        if self.interactive:
            self.console.print(Markdown(text))
        else:
            self.console.print(text, markup=False)

    def diff(self, text: str) -> None:
        if not text.strip():
            return
        if self.interactive:
            self.console.print(Syntax(text, "diff", theme="ansi_dark", background_color="default"))
        else:
            self.console.print(text.rstrip("\n"), markup=False)

    def begin_stream(self) -> Stream:
        """Start showing an answer that arrives in pieces; call `end()` when it is complete."""
        return Stream(self.console, self.interactive)

    # ---- Ctrl-C while working ----------------------------------------------------------

    @contextmanager
    def interruptible(self, on_stop: Callable[[], Any] | None = None) -> Iterator[Callable[[], bool]]:
        """Inside this block Ctrl-C asks the work to stop; yields the `should_stop` poll.

        `on_stop` runs (inside the signal handler, so it must only set flags) at the first press."""
        self._stop_requested = False

        def on_sigint(signum: int, frame: Any) -> None:
            if self._stop_requested:
                raise KeyboardInterrupt
            self._stop_requested = True
            if on_stop is not None:
                on_stop()

        previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            yield lambda: self._stop_requested
        finally:
            signal.signal(signal.SIGINT, previous)

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested


class Stream:
    """One answer being shown as it arrives.

    Interactive: a live view of the last lines of raw text while streaming, replaced at
    `end()` by the whole answer rendered as markdown. Plain: the text as it comes.
    """

    def __init__(self, console: Console, interactive: bool):
        self.console = console
        self.chunks: list[str] = []
        self.live = (
            Live(Text(""), console=console, transient=True, refresh_per_second=12) if interactive else None
        )
        if self.live is not None:
            self.live.start()

    def write(self, piece: str) -> None:
        if not piece:
            return
        self.chunks.append(piece)
        if self.live is None:
            self.console.file.write(piece)
            self.console.file.flush()
        else:
            self.live.update(Text(_tail("".join(self.chunks), self.console.size.height - 2)))

    def end(self) -> str:
        text = "".join(self.chunks)
        if self.live is not None:
            self.live.stop()
            if text.strip():
                self.console.print(Markdown(text))
        elif text and not text.endswith("\n"):
            self.console.file.write("\n")
            self.console.file.flush()
        return text


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-max(3, lines) :])


def _line_reader(stdin: TextIO) -> Callable[[], str]:
    def read() -> str:
        line = stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\r\n")

    return read


def _none(text: str) -> list[tuple[str, str]]:
    return []


def _prompt_reader(
    history_file: Path | None, complete: Callable[[str], list[tuple[str, str]]]
) -> Callable[[], str]:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import Completer, Completion
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    from prompt_toolkit.key_binding import KeyBindings

    history: Any = InMemoryHistory()
    if history_file is not None:
        try:
            history_file.parent.mkdir(parents=True, exist_ok=True)
            history = FileHistory(str(history_file))
        except OSError:
            pass
    bindings = KeyBindings()

    @bindings.add("c-c")
    def _(event: Any) -> None:
        if event.current_buffer.text:
            event.current_buffer.reset()
        else:
            event.app.exit(exception=KeyboardInterrupt())

    class _Complete(Completer):
        def get_completions(self, document: Any, complete_event: Any) -> Any:
            before = document.text_before_cursor
            word = before.rsplit(" ", 1)[-1]
            try:
                candidates = complete(before)
            except Exception:  # a completion problem must never end the chat
                return
            for replacement, display in candidates:
                yield Completion(replacement, start_position=-len(word), display=display)

    session: Any = PromptSession(
        history=history, key_bindings=bindings, completer=_Complete(), complete_while_typing=False
    )
    return lambda: session.prompt(PROMPT)
