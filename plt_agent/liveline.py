"""A status line for long waits: what is happening, how far along, how fast, for how long.

    line = LiveLine(console)
    line.phase("reading the prompt", total=2185)   # a new phase: its clock starts
    line.update(512)                               # tokens (or other units) done so far
    line.stop()                                    # the wait is over

On a terminal (`console.is_terminal`) it is one live line that redraws itself a few times a
second (`reading the prompt  512/2,185 tokens  94 tok/s  5.4 s`) and disappears when
stopped; anything printed meanwhile appears above it. Elsewhere (a pipe, a log file) it
prints a plain line when the wait (phases in a row, from the first `phase` after a `stop`)
has gone `quiet_s` seconds without output, and then every `every_s`, so logs show that
work goes on without filling up. `text()` is the current line, for a caller
that draws it itself (the chat draws it inside its answer area).

Thread-safe: the backends report progress from the thread that runs the model, the terminal
redraws from rich's thread, the plain lines come from a timer thread of their own.
This module only prints.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

from plt_agent.display import printable

THREAD_NAME = "plt-agent-liveline"  # the timer thread of the plain lines
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class _Render:
    """What rich's Live redraws: the line as it is at the moment of drawing."""

    def __init__(self, line: LiveLine) -> None:
        self.line = line

    def __rich__(self) -> Text:
        frame = SPINNER[int(time.monotonic() * 8) % len(SPINNER)]
        return Text(f"{frame} {self.line.text()}", style="cyan", no_wrap=True, overflow="ellipsis")


class LiveLine:
    def __init__(
        self,
        console: Console,
        *,
        live: bool | None = None,
        quiet_s: float = 5.0,
        every_s: float = 10.0,
        unit: str = "tokens",
    ) -> None:
        self.console = console
        self.live = console.is_terminal if live is None else live
        self.quiet_s, self.every_s, self.unit = quiet_s, every_s, unit
        self._lock = threading.Lock()
        self._name = ""
        self._done = 0
        self._total: int | None = None
        self._started = time.monotonic()
        self._first_done: tuple[float, int] | None = None  # (time, done) of the first update
        self._display: Live | None = None
        self._timer: threading.Thread | None = None
        self._stopped = threading.Event()
        self._stopped.set()
        self._quiet_since = time.monotonic()  # when the current wait began (plain lines)

    # -- reporting -------------------------------------------------------------------------------

    def phase(self, name: str, total: int | None = None, done: int = 0) -> None:
        """Start a phase (its clock, counters and rate start afresh) and show the line."""
        with self._lock:
            self._name, self._total, self._done = name, total, done
            self._started = time.monotonic()
            self._first_done = None
        self._show()

    def update(self, done: int, total: int | None = None) -> None:
        with self._lock:
            if self._first_done is None:
                self._first_done = (time.monotonic(), self._done)
            self._done = done
            if total is not None:
                self._total = total

    def stop(self) -> None:
        """Remove the line (terminal) or stop the plain lines (nothing is printed once this
        returns); a later `phase` shows it again."""
        self._stopped.set()
        display, self._display = self._display, None
        if display is not None:
            display.stop()
        timer, self._timer = self._timer, None
        if timer is not None and timer is not threading.current_thread():
            timer.join(1.0)  # it wakes at once: the event it waits on is set

    @property
    def active(self) -> bool:
        return self._display is not None or not self._stopped.is_set()

    # -- the text ------------------------------------------------------------------------------

    def text(self) -> str:
        """`phase  done/total unit  rate  elapsed`, with what is known so far."""
        with self._lock:
            name, done, total, first = self._name, self._done, self._total, self._first_done
            elapsed = time.monotonic() - self._started
        parts = [printable(name, 120)]
        if total:
            parts.append(f"{done:,}/{total:,} {self.unit}")
        elif done:
            parts.append(f"{done:,} {self.unit}")
        if first is not None and done > first[1]:
            rate = (done - first[1]) / max(time.monotonic() - first[0], 1e-6)
            parts.append(
                f"{rate:,.0f} {_per(self.unit)}/s" if rate >= 10 else f"{rate:.1f} {_per(self.unit)}/s"
            )
        parts.append(f"{elapsed:.1f} s" if elapsed < 100 else f"{elapsed:.0f} s")
        return "  ".join(parts)

    # -- showing -------------------------------------------------------------------------------

    def _show(self) -> None:
        if self.live:
            if self._display is None:
                self._display = Live(
                    _Render(self), console=self.console, transient=True, refresh_per_second=8
                )
                self._display.start()
            return
        if self._stopped.is_set():  # a new wait: its quiet time starts now
            self._quiet_since = time.monotonic()
            self._stopped = threading.Event()
            self._timer = threading.Thread(
                target=self._plain_lines, args=(self._stopped,), daemon=True, name=THREAD_NAME
            )
            self._timer.start()

    def _plain_lines(self, stopped: threading.Event) -> None:
        next_at = self._quiet_since + self.quiet_s
        while not stopped.wait(0.2):
            if time.monotonic() >= next_at:
                self.console.print(f"  ... {self.text()}", markup=False, highlight=False)
                next_at = time.monotonic() + self.every_s

    def __enter__(self) -> LiveLine:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _per(unit: str) -> str:
    return {"tokens": "tok"}.get(unit, unit)
