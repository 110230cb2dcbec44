"""One plt-agent run at a time per repository: a lock file that names its holder.

`RunLock(path).acquire(kind, command)` takes the lock or raises `RepositoryBusy` (exit code
2, one line naming the holder); with `wait=True` it polls until the holder is done. The
file holds JSON: the holder's pid, its process start time (clock ticks since boot, field 22
of /proc/PID/stat) and the boot id, so a reused pid is not mistaken for the holder; the
wall-clock start, the kind of run (fix, chat, hook, tool) and the command line.

A holder whose process is gone (or is a zombie) is stale: `acquire` takes the lock over and
returns the stale holder, so the caller can put back what that run left (tools.runs) before
it changes anything. Reading, taking over and dropping the lock happen under a short
`flock` on a guard file next to it, so two runs never both take over a stale lock. Within
one process the lock is re-entrant (counted).

This module knows nothing about journals, git or tools.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from tools.errors import ToolError
from tools.fsutil import durable_write, fsync_dir

POLL_S = 0.5


class RepositoryBusy(ToolError):
    """Another live plt-agent run holds the repository (exit code 2); `holder` says who."""

    exit_code = 2

    def __init__(self, message: str, holder: Holder | None = None):
        super().__init__(message)
        self.holder = holder


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a lock, or wrote a journal."""

    pid: int
    start: int | None  # process start, clock ticks since boot (None where /proc is missing)
    boot: str
    started: float  # wall clock, seconds since the epoch
    kind: str = ""
    command: str = ""

    @classmethod
    def from_json(cls, raw: object) -> Holder | None:
        if not isinstance(raw, dict):
            return None
        try:
            return cls(
                int(raw["pid"]),
                None if raw.get("start") is None else int(raw["start"]),
                str(raw.get("boot", "")),
                float(raw.get("started", 0.0)),
                str(raw.get("kind", "")),
                str(raw.get("command", "")),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    def is_us(self) -> bool:
        me = this_process()
        return (self.pid, self.start, self.boot) == (me.pid, me.start, me.boot)

    def alive(self) -> bool:
        """True while the very process that wrote this record is running (not a zombie)."""
        if self.boot and _boot_id() and self.boot != _boot_id():
            return False
        stat = _proc_stat(self.pid)
        if stat is None:
            if Path("/proc/self/stat").exists():
                return False
            return _kill_probe(self.pid)
        state, start = stat
        return state not in ("Z", "X", "x") and (self.start is None or start == self.start)

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        what = f"`{self.command}`" if self.command else self.kind or "plt-agent"
        return f"{what} (pid {self.pid}, started {when})"


def this_process(kind: str = "", command: str | None = None) -> Holder:
    stat = _proc_stat(os.getpid())
    text = " ".join(sys.argv) if command is None else command
    return Holder(os.getpid(), stat[1] if stat else None, _boot_id(), time.time(), kind, text)


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) from /proc/PID/stat, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()  # the name may hold spaces and parentheses
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


_BOOT: list[str] = []


def _boot_id() -> str:
    if not _BOOT:
        try:
            _BOOT.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
        except OSError:
            _BOOT.append("")
    return _BOOT[0]


def _kill_probe(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_HELD: dict[str, int] = {}  # lock path -> how many times this process holds it


class RunLock:
    """The lock file at `path` (its folder is created on first use)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def holder(self) -> Holder | None:
        try:
            return Holder.from_json(json.loads(self.path.read_text()))
        except (OSError, ValueError):
            return None

    def acquire(
        self,
        kind: str,
        command: str | None = None,
        *,
        wait: bool = False,
        on_wait: Callable[[Holder], None] | None = None,
    ) -> Holder | None:
        """Take the lock; returns the stale holder it took over from (None if it was free)."""
        told = False
        while True:
            with self._guard():
                current = self.holder()
                key = str(self.path)
                if current is not None and current.is_us() and _HELD.get(key):
                    _HELD[key] += 1
                    return None
                if current is None or current.is_us() or not current.alive():
                    durable_write(self.path, json.dumps(this_process(kind, command).to_json()).encode())
                    _HELD[key] = 1
                    return None if current is None or current.is_us() else current
            if not wait:
                raise RepositoryBusy(
                    f"another plt-agent run is working in this repository: {current.describe()}; "
                    "wait for it to finish (or pass --wait), or stop it",
                    current,
                )
            if on_wait is not None and not told:
                on_wait(current)
                told = True
            time.sleep(POLL_S)

    def release(self) -> None:
        key = str(self.path)
        if not _HELD.get(key):
            return
        _HELD[key] -= 1
        if _HELD[key]:
            return
        del _HELD[key]
        with self._guard():
            current = self.holder()
            if current is not None and current.is_us():
                self.path.unlink(missing_ok=True)
                fsync_dir(self.path.parent)

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(self.path.name + ".guard"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing drops the flock
