"""Ending a command and everything it started, whatever it did to escape.

A command runs in a new session (so its own process group) with a per-command marker in its
environment (`marker_env`). While any command runs, this process is the "child subreaper" of
its descendants (`prctl(PR_SET_CHILD_SUBREAPER)`): a daemonized grandchild is re-parented to
us rather than to init. `ProcessTree.kill()` ends the command: on Linux it stops, then kills,
round after round until a scan of /proc finds nothing left, every process started after the
leader (so a recycled pid is never hit) that
  - descends from the command's leader (the PPid chain), or
  - is in the leader's session or process group, or
  - carries the command's marker in its environment (inherited through `setsid`, double
    forks and daemonizing), or
  - holds the command's output pipe open, or
  - was re-parented to us (an orphan outside our own session that is no running command's
    leader: with several commands at once, one's sweep may end another's orphans),
and reaps the killed ones re-parented to us (and the re-parented ones that exited by
themselves, such as a daemon's intermediate parent). Elsewhere (no /proc) the process group is
killed, which is all POSIX offers.

Known limit: a process that clears its environment, starts its own session, closes the pipe
and is orphaned while subreaping is unavailable is not recognised (a cgroup or a pid
namespace would catch it; neither is assumed, as both need privileges this program should
not ask for).

`kill_leftovers(pid)` ends what the commands of a plt-agent that died (SIGKILL, a closed
terminal...) left running, for the run that recovers after it; `die_with_parent()` makes a
helper process die with its parent. `signals_deferred()` holds SIGINT/SIGTERM/SIGHUP back
while a kill is under way, so a second Ctrl-C cannot interrupt the cleanup of the first.
This module knows nothing about output.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MARKER_VAR = "PLT_AGENT_COMMAND"
PR_SET_CHILD_SUBREAPER = 36
PR_SET_PDEATHSIG = 1
_PROC = Path("/proc")
_SUBREAPER_LOCK = threading.Lock()
_subreaper_users = 0
_LEADERS: set[int] = set()  # leaders of the commands running now (never swept by another one)


def marker_env(env: dict[str, str]) -> tuple[dict[str, str], str]:
    """`env` with a fresh per-command marker added; also the marker's value."""
    token = f"{os.getpid()}-{secrets.token_hex(8)}"
    return {**env, MARKER_VAR: token}, token


def _set_subreaper(on: bool) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def die_with_parent() -> bool:
    """Linux: this process gets SIGKILL when its parent dies (even of SIGKILL); False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def kill_leftovers(owner_pid: int) -> int:
    """Kill what commands run by a dead plt-agent (`owner_pid`) left running; how many were hit.

    For a run that recovers after a crash: before it puts files back, nothing the dead run
    started may still be writing. Found by the marker in the environment (Linux /proc only)."""
    if owner_pid == os.getpid():
        return 0
    prefix = f"{MARKER_VAR}={owner_pid}-".encode()
    hit = 0
    for pid in _table():
        try:
            env = (_PROC / str(pid) / "environ").read_bytes()
        except OSError:
            continue
        if any(entry.startswith(prefix) for entry in env.split(b"\0")):
            _signal(pid, signal.SIGKILL)
            hit += 1
    return hit


@contextlib.contextmanager
def subreaper() -> Iterator[bool]:
    """Be the subreaper of our descendants inside this block (nested and threaded uses count)."""
    global _subreaper_users
    with _SUBREAPER_LOCK:
        _subreaper_users += 1
        ok = _set_subreaper(True)
    try:
        yield ok
    finally:
        with _SUBREAPER_LOCK:
            _subreaper_users -= 1
            if _subreaper_users == 0:
                _set_subreaper(False)


@dataclass(frozen=True)
class _Stat:
    ppid: int
    pgrp: int
    session: int
    start: int  # clock ticks after boot
    zombie: bool


def _stat(pid: int | str) -> _Stat | None:
    try:
        raw = (_PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()  # the command name may hold spaces and parens
    try:
        ppid, pgrp, session, start = (int(fields[i]) for i in (1, 2, 3, 19))
    except (IndexError, ValueError):
        return None
    return _Stat(ppid, pgrp, session, start, fields[0] in (b"Z", b"X"))


def _has_marker(pid: int, token: str) -> bool:
    try:
        env = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return False
    return f"{MARKER_VAR}={token}".encode() in env.split(b"\0")


def _holds(pid: int, link: str) -> bool:
    """Whether `pid` has a file descriptor whose /proc link reads `link` (e.g. pipe:[123])."""
    folder = _PROC / str(pid) / "fd"
    try:
        names = os.listdir(folder)
    except OSError:
        return False
    for name in names:
        with contextlib.suppress(OSError):
            if os.readlink(folder / name) == link:
                return True
    return False


def _table() -> dict[int, _Stat]:
    table = {}
    try:
        names = os.listdir(_PROC)
    except OSError:
        return table
    for name in names:
        if name.isdigit():
            stat = _stat(name)
            if stat is not None:
                table[int(name)] = stat
    return table


@dataclass
class ProcessTree:
    """The processes of one command, known by its leader's pid and its environment marker."""

    leader: int
    token: str
    pipe: str = ""  # /proc link text of the command's output pipe, e.g. "pipe:[123]"
    leader_start: int | None = None
    killed: dict[int, int] = field(default_factory=dict)  # pid -> start ticks, for reaping

    def __post_init__(self) -> None:
        stat = _stat(self.leader) if _PROC.is_dir() else None
        self.leader_start = stat.start if stat else None
        _LEADERS.add(self.leader)

    @classmethod
    def for_pipe(cls, leader: int, token: str, read_fd: int) -> ProcessTree:
        """The tree of a command whose output goes to the pipe read through `read_fd`."""
        return cls(leader, token, f"pipe:[{os.fstat(read_fd).st_ino}]")

    def members(self) -> dict[int, _Stat]:
        """The command's live processes (the leader included while it runs), by pid."""
        if self.leader_start is None:
            return {}
        table = _table()
        me = os.getpid()
        mine = os.getsid(0)
        young = {pid: s for pid, s in table.items() if s.start >= self.leader_start and pid != me}
        others = _LEADERS - {self.leader}
        found = {
            pid
            for pid, s in young.items()
            if pid == self.leader
            or self.leader in (s.session, s.pgrp)
            or (s.ppid == me and s.session != mine and pid not in others)
            or _has_marker(pid, self.token)
            or (self.pipe and _holds(pid, self.pipe))
        }
        children: dict[int, list[int]] = {}
        for pid, s in young.items():
            children.setdefault(s.ppid, []).append(pid)
        stack = [*found, self.leader]
        while stack:
            for child in children.pop(stack.pop(), []):
                found.add(child)
                stack.append(child)
        return {pid: young[pid] for pid in found if pid in young and not young[pid].zombie}

    def kill(self, budget_s: float = 3.0) -> int:
        """Stop and kill every member until none is left (or `budget_s` passes); how many were hit."""
        if self.leader_start is None:
            _signal_group(self.leader, signal.SIGKILL)
            _LEADERS.discard(self.leader)
            return 0
        deadline = time.monotonic() + budget_s
        hit = 0
        while time.monotonic() < deadline:
            victims = self.members()
            if not victims:
                break
            for pid in victims:  # stopped processes cannot fork while we go round
                _signal(pid, signal.SIGSTOP)
            for pid, s in victims.items():
                _signal(pid, signal.SIGKILL)
                self.killed[pid] = s.start
            hit += len(victims)
            time.sleep(0.01)
        _signal_group(self.leader, signal.SIGKILL)
        self.reap()
        _LEADERS.discard(self.leader)
        return hit

    def reap(self, wait_s: float = 0.5) -> None:
        """Collect the killed processes re-parented to us (never the leader: Popen owns it).

        A killed process whose parent was killed too reaches us only once that parent is
        gone, so this waits up to `wait_s` for each to be ours or gone."""
        me = os.getpid()
        self.killed.pop(self.leader, None)
        deadline = time.monotonic() + wait_s
        while self.killed:
            for pid, start in list(self.killed.items()):
                stat = _stat(pid)
                if stat is None or stat.start != start:  # gone (reaped by its own parent)
                    self.killed.pop(pid)
                elif stat.ppid == me and stat.zombie:
                    with contextlib.suppress(ChildProcessError, OSError):
                        os.waitpid(pid, os.WNOHANG)
                    self.killed.pop(pid)
            if not self.killed or time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        self._reap_orphans()

    def _reap_orphans(self) -> None:
        """Collect the zombies of processes that were re-parented to us and then exited by themselves
        (a daemon's intermediate parent): ours, not in our session, not a command's leader."""
        if self.leader_start is None:
            return
        me, mine = os.getpid(), os.getsid(0)
        for pid, s in _table().items():
            ours = s.ppid == me and s.session != mine and pid not in _LEADERS
            if s.zombie and ours and s.start >= self.leader_start:
                with contextlib.suppress(ChildProcessError, OSError):
                    os.waitpid(pid, os.WNOHANG)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


_DEFERRED = (signal.SIGINT, signal.SIGTERM) + ((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ())


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP until the block ends, then deliver them (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = {}
    for sig in _DEFERRED:
        if signal.getsignal(sig) is None:  # installed outside Python: cannot be put back, leave it
            continue
        previous[sig] = signal.signal(sig, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(pending):
            signal.raise_signal(sig)
