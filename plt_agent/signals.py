"""Stopping on SIGTERM and SIGHUP as cleanly as on Ctrl-C.

Python's default for SIGTERM (and SIGHUP, a closed terminal) ends the process on the spot:
no `finally`, so a shell command the agent started would live on and the files the agent
changed would stay changed. Inside `stop_signals()` the first of these signals raises
`Terminated` in the main thread instead, so the usual cleanup runs in its usual order (the
shell tool kills its command and everything it started, then `fix` puts the files back);
further ones are ignored until the block ends, so they cannot cut that cleanup short
(SIGKILL still ends everything). Leaving the block with `Terminated` prints one line and
exits with 128 + the signal number, as a shell reports a process ended by that signal.

Ctrl-C keeps Python's KeyboardInterrupt (the CLI exits 130 after the same cleanup).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Terminated(BaseException):
    """Raised in the main thread when a stop signal arrives inside `stop_signals()`."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """SIGTERM/SIGHUP raise `Terminated` inside the block (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    state = {"raised": False}

    def handler(signum: int, frame: Any) -> None:
        if not state["raised"]:
            state["raised"] = True
            raise Terminated(signum)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS if signal.getsignal(sig) is not None}
    try:
        yield
    except Terminated as stop:
        with contextlib.suppress(OSError, ValueError):
            print(f"plt-agent: {stop}", file=sys.stderr, flush=True)
        raise SystemExit(128 + stop.signum) from None
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
