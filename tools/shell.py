"""Running commands: a fresh session per call, and nothing it started outlives the call.

`run_command` starts `bash -c COMMAND` in a new session (so its own process group) with a
per-command marker in its environment, reads its combined output from a pipe in the calling
thread (polling, so a background process that keeps the pipe open cannot hold the call up),
keeping only a head and a tail in memory. The call ends when the command exits (plus a short
grace for background writers' last words), when the timeout passes, or when
`stop_commands()` asks (the chat's Ctrl-C); then, and also when an exception such as
KeyboardInterrupt leaves the call, every process the command started is killed
(`tools.procs.ProcessTree`: `setsid`, double-forked and daemonized ones included) BEFORE
the call returns or raises, so callers that restore files afterwards are never overwritten
by a straggler. The call returns within the timeout plus a few seconds whatever the command
does. `BashTool` is the model-facing wrapper: it refuses git commands that would change the
user's HEAD, index, refs or stash (tools.gitguard), and runs the others inside
`Workspace.track_changes`, which records the work tree and git state before the command and
journals what it changed, so diff and undo (and recovery after a kill) see it.

This module knows nothing about tests or edits.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.base import Observation, ToolError
from tools.gitguard import git_refusal
from tools.procs import ProcessTree, marker_env, signals_deferred, subreaper
from tools.workspace import Workspace

DEFAULT_TIMEOUT = 120.0
MAX_TIMEOUT = 1800.0
OUTPUT_LIMIT = 10_000  # characters kept: two thirds head, one third tail
_GRACE_S = 0.3  # after the main process exits, how long its pipe may stay open
_DRAIN_S = 1.0  # after the kill, how long to wait for the pipe's last bytes
_POLL_S = 0.05


@dataclass
class CommandResult:
    exit_code: int | None  # None when killed by the timeout or a stop request
    output: str  # head + tail, with a marker where text was cut
    timed_out: bool
    cut_chars: int
    seconds: float
    stopped: bool = False  # ended by `stop_commands()` (the user pressed Ctrl-C)


class _Capture:
    """Keeps the first `head` and last `tail` bytes of what it is fed."""

    def __init__(self, limit: int):
        self.head_cap, self.tail_cap = limit * 2 // 3, limit - limit * 2 // 3
        self.head, self.tail, self.total = bytearray(), bytearray(), 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_cap - len(self.head)
        self.head += chunk[:room]
        self.tail += chunk[max(room, 0) :]
        del self.tail[: max(0, len(self.tail) - self.tail_cap)]

    def text(self) -> tuple[str, int]:
        cut = self.total - len(self.head) - len(self.tail)
        head = self.head.decode("utf-8", "replace")
        if cut <= 0:
            return head + self.tail.decode("utf-8", "replace"), 0
        tail = self.tail.decode("utf-8", "replace")
        return f"{head}\n[... {cut:,} bytes of output cut ...]\n{tail}", cut


class _Running:
    """One call in progress; `stop` is set from a signal handler, so it is a plain flag."""

    stop = False


_RUNNING: set[_Running] = set()


def stop_commands() -> int:
    """Ask every running command to end now (safe inside a signal handler); how many there were."""
    running = list(_RUNNING)
    for run in running:
        run.stop = True
    return len(running)


def command_env() -> dict[str, str]:
    """The environment commands run with: no pagers, no prompts, no colour, no bytecode files."""
    return {
        **os.environ,
        "PAGER": "cat",
        "GIT_PAGER": "cat",
        "GIT_TERMINAL_PROMPT": "0",
        "TERM": "dumb",
        "NO_COLOR": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "GIT_OPTIONAL_LOCKS": "0",  # `git status` does not rewrite the user's index
    }


def run_command(
    command: str | list[str],
    cwd: Path,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    limit: int = OUTPUT_LIMIT,
    env: dict[str, str] | None = None,
) -> CommandResult:
    """Run a shell command string (or an argv list) in its own session; never raises for the command
    (a command holding a NUL byte, which exec cannot pass on, is a ToolError).

    `env` replaces the default environment (`command_env()`)."""
    argv = ["bash", "-c", command] if isinstance(command, str) else command
    if any("\0" in part for part in argv):
        raise ToolError("the command contains a NUL byte, which no program can receive; remove it")
    env, token = marker_env(command_env() if env is None else env)
    start = time.monotonic()
    capture = _Capture(limit)
    running = _Running()
    proc: subprocess.Popen[bytes] | None = None
    tree: ProcessTree | None = None
    ended = "exited"
    with subreaper():
        read_fd, write_fd = os.pipe()
        try:
            with signals_deferred():  # no Ctrl-C between the start and the bookkeeping
                try:
                    proc = subprocess.Popen(
                        argv,
                        cwd=cwd,
                        stdin=subprocess.DEVNULL,
                        stdout=write_fd,
                        stderr=write_fd,
                        start_new_session=True,
                        env=env,
                    )
                finally:
                    os.close(write_fd)
                tree = ProcessTree.for_pipe(proc.pid, token, read_fd)
                _RUNNING.add(running)
            ended = _pump(proc.pid, read_fd, capture, start + timeout, running)
        finally:
            with signals_deferred():  # a second Ctrl-C must not cut the cleanup short
                _RUNNING.discard(running)
                if tree is not None:
                    tree.kill()
                if proc is not None:
                    proc.wait()
                    _drain(read_fd, capture, time.monotonic() + _DRAIN_S)
                os.close(read_fd)
    output, cut = capture.text()
    exit_code = proc.returncode if ended == "exited" and proc is not None else None
    return CommandResult(
        exit_code, output, ended == "timeout", cut, time.monotonic() - start, stopped=ended == "stopped"
    )


def _pump(pid: int, fd: int, capture: _Capture, deadline: float, running: _Running) -> str:
    """Read output until the command ends: "exited", "timeout" or "stopped"."""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        eof, exited_at, pause = False, None, 0.005
        while True:
            now = time.monotonic()
            if running.stop:
                return "stopped"
            if exited_at is None and _exited(pid):
                exited_at = now
            if exited_at is not None and (eof or now >= exited_at + _GRACE_S):
                return "exited"
            if exited_at is None and now >= deadline:
                return "timeout"
            if eof:  # the pipe is closed but the leader still runs: poll it
                time.sleep(min(pause, max(0.0, deadline - now)))
                pause = min(pause * 2, _POLL_S)
            elif selector.select(min(_POLL_S, max(0.0, deadline - now))):
                chunk = os.read(fd, 65536)
                if chunk:
                    capture.feed(chunk)
                else:
                    eof = True


def _drain(fd: int, capture: _Capture, deadline: float) -> None:
    """Read what is left in the pipe, until EOF or `deadline` (something may still hold it open)."""
    os.set_blocking(fd, False)
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(max(0.0, deadline - time.monotonic())):
                continue
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                return
            capture.feed(chunk)


def _exited(pid: int) -> bool:
    """Whether `pid` has exited, without reaping it (its pid and group id stay ours meanwhile)."""
    with contextlib.suppress(ChildProcessError):
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None
    return True


def describe(result: CommandResult, timeout: float) -> str:
    """The model-facing report of a command: output (or '(no output)') and how it ended."""
    body = result.output.rstrip("\n") or "(no output)"
    if result.timed_out:
        status = f"[timed out after {timeout:g}s; the command and everything it started were killed]"
    elif result.stopped:
        status = "[stopped by the user; the command and everything it started were killed]"
    else:
        status = f"[exit code {result.exit_code}]"
    return f"{body}\n{status}"


class BashTool:
    name = "bash"
    mutates = True
    description = (
        "Run a shell command (bash) in the repository root, in a fresh process each time: "
        "cd, variables and background jobs do not carry over to the next call. Output is "
        "stdout and stderr together, cut in the middle when long. Do not start interactive "
        "programs or editors. Use the edit/write tools, not sed or echo, to change files."
    )
    parameters = {
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "The command line, e.g. `python -m pytest -x -q`."},
            "timeout": {
                "type": "integer",
                "description": f"Seconds before the command is killed (default {DEFAULT_TIMEOUT:g}).",
            },
        },
        "required": ["command"],
        "additionalProperties": False,
    }

    def run(self, args: dict[str, Any], workspace: Workspace, *, allow_git: bool = False) -> Observation:
        """`allow_git`: the user's own command (chat /run), not the model's: git is not refused."""
        command = args["command"]
        if not command.strip():
            return Observation("empty command: give a shell command to run", ok=False)
        refused = "" if allow_git else git_refusal(command, workspace.root)
        if refused:
            return Observation(refused, ok=False, data={"refused": True})
        timeout = min(float(args.get("timeout") or DEFAULT_TIMEOUT), MAX_TIMEOUT)
        with workspace.track_changes(command, git=not allow_git):
            result = run_command(command, workspace.root, timeout=timeout)
        data = {
            "exit_code": result.exit_code,
            "timed_out": result.timed_out,
            "stopped": result.stopped,
            "cut_chars": result.cut_chars,
        }
        return Observation(describe(result, timeout), ok=not (result.timed_out or result.stopped), data=data)
