"""Running commands: one fresh process group per call, a timeout that kills the whole group.

`run_command` starts `bash -c COMMAND` in a new session (so its own process group), reads
its combined output while keeping only a head and a tail in memory, and when the command
ends or times out kills whatever the group left behind (background jobs, grandchildren).
`BashTool` is the model-facing wrapper: it refuses git commands that would change the
user's HEAD, index, refs or stash (tools.gitguard), and runs the others inside
`Workspace.track_changes`, which records the work tree and git state before the command and
journals what it changed, so diff and undo (and recovery after a kill) see it.

This module knows nothing about tests or edits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.base import Observation, ToolError
from tools.gitguard import git_refusal
from tools.workspace import Workspace

DEFAULT_TIMEOUT = 120.0
MAX_TIMEOUT = 1800.0
OUTPUT_LIMIT = 10_000  # characters kept: two thirds head, one third tail
_GRACE_S = 0.3  # after the main process exits, how long its pipe may stay open


@dataclass
class CommandResult:
    exit_code: int | None  # None when killed by the timeout
    output: str  # head + tail, with a marker where text was cut
    timed_out: bool
    cut_chars: int
    seconds: float


class _Capture:
    """Reads a pipe on a thread, keeping the first `head` and last `tail` bytes."""

    def __init__(self, pipe: Any, limit: int):
        self.pipe, self.head_cap, self.tail_cap = pipe, limit * 2 // 3, limit - limit * 2 // 3
        self.head, self.tail, self.total = bytearray(), bytearray(), 0
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for chunk in iter(lambda: self.pipe.read1(65536), b""):
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
    command: str | list[str], cwd: Path, *, timeout: float = DEFAULT_TIMEOUT, limit: int = OUTPUT_LIMIT
) -> CommandResult:
    """Run a shell command string (or an argv list) in its own session; never raises for the command
    (a command holding a NUL byte, which exec cannot pass on, is a ToolError)."""
    argv = ["bash", "-c", command] if isinstance(command, str) else command
    if any("\0" in part for part in argv):
        raise ToolError("the command contains a NUL byte, which no program can receive; remove it")
    start = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=command_env(),
    )
    capture = _Capture(proc.stdout, limit)
    timed_out = not _wait_unreaped(proc.pid, start + timeout)
    if not timed_out:
        capture.thread.join(timeout=_GRACE_S)  # let background writers finish their last words
    _kill_group(proc.pid)  # the leader is still unreaped, so its group id cannot be reused yet
    proc.wait()
    capture.thread.join(timeout=5)
    proc.stdout.close()
    output, cut = capture.text()
    exit_code = None if timed_out else proc.returncode
    return CommandResult(exit_code, output, timed_out, cut, time.monotonic() - start)


def _wait_unreaped(pid: int, deadline: float) -> bool:
    """Wait until `pid` exits without reaping it; False when `deadline` passes first."""
    pause = 0.005
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    return True


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def describe(result: CommandResult, timeout: float) -> str:
    """The model-facing report of a command: output (or '(no output)') and how it ended."""
    body = result.output.rstrip("\n") or "(no output)"
    if result.timed_out:
        status = f"[timed out after {timeout:g}s; the command and everything it started were killed]"
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
        data = {"exit_code": result.exit_code, "timed_out": result.timed_out, "cut_chars": result.cut_chars}
        return Observation(describe(result, timeout), ok=not result.timed_out, data=data)
